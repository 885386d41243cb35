/**
 * One `dbwitness run` daemon with a PostgreSQL and a MariaDB source, end to
 * end: metrics and readiness scraped over HTTP, every alert rule triggered
 * by a real workload and delivered to a local webhook receiver that is down
 * at first, one server stopped while the other keeps flowing and then
 * resumed with nothing lost, SIGHUP adding a source, SIGTERM draining, and
 * the anchor file catching events cut from the end of a chain.
 */
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../src/store/keys.js';
import { freePort, runCli, spawnCli, startPostgres, tempDir, waitFor, type MariaDbServer, type PgServer } from '../harness/index.js';
import { applySetup as applyPgSetup, exec, pgConfig } from './postgres-fixture.js';
import { applySetup as applyMdbSetup, execAs, sourceConfig, startClinic } from './mysql-fixture.js';
import { captureLog, exited, httpGet, metric, storedEvents, WebhookReceiver } from './daemon-fixture.js';

let pgs: PgServer;
let mdb: MariaDbServer;
const PG_TABLES = ['clinic.patients'];

beforeAll(async () => {
  // Keepalives every second or so, so an idle source still shows progress for /readyz.
  [pgs, mdb] = await Promise.all([startPostgres({ database: 'ehr', config: { wal_sender_timeout: '2s' } }), startClinic()]);
  for (const db of ['ehr', 'lab']) {
    if (db === 'lab') await pgs.query('CREATE DATABASE lab');
    await pgs.query('CREATE SCHEMA clinic', [], { database: db });
    await pgs.query('CREATE TABLE clinic.patients (id bigint PRIMARY KEY, name text NOT NULL)', [], { database: db });
  }
  await applyPgSetup(pgConfig(pgs, 'ehr', { tables: PG_TABLES }));
  await applyPgSetup(pgConfig(pgs, 'lab', { tables: PG_TABLES, slot: 'dbwitness_lab' }));
  await applyMdbSetup(sourceConfig(mdb));
}, 180_000);

afterAll(async () => {
  await Promise.all([pgs?.close(), mdb?.close()]);
});

describe('daemon with several sources', () => {
  it('metrics, alerts to a webhook, an outage of one source, SIGHUP, drain and anchors', async () => {
    const root = await tempDir('dbw-daemon-');
    const store = join(root, 'store');
    const anchors = join(root, 'anchors', 'heads.jsonl');
    const pair = generateSigningKeyPair();
    await writeFile(join(root, 'signing.key'), pair.privatePem, { mode: 0o600 });
    await writeFile(join(root, 'signing.pub'), pair.publicPem);
    const httpPort = await freePort();
    const hookPort = await freePort();
    // Working hours that exclude now, so every change is after hours.
    const h = (new Date().getUTCHours() + 2) % 24;
    const pad = (n: number): string => String(n).padStart(2, '0');
    const sources = [
      { id: 'pg', url: pgs.url({ database: 'ehr', user: 'dbwitness_daemon' }), tables: PG_TABLES },
      { id: 'mdb', url: mdb.url(), tables: ['clinic.patients', 'clinic.encounters'], heartbeat_seconds: 1, max_backoff_ms: 500 },
    ];
    const config = (srcs: unknown[], accounts = ['postgres', 'root', 'alice']): string =>
      stringify({
        store: { dir: store, signing_key: join(root, 'signing.key') },
        http: { listen: `127.0.0.1:${httpPort}`, ready_max_silence: '6s' },
        alerts: {
          check_interval: '1s',
          webhook: { url: `http://127.0.0.1:${hookPort}/alerts`, max_backoff: '500ms' },
          rules: {
            account_allowlist: { accounts },
            bulk_access: { max_rows_per_tx: 20 },
            after_hours: { enabled: true, start: `${pad(h)}:00`, end: `${pad((h + 1) % 24)}:00`, days: [1, 2, 3, 4, 5, 6, 7] },
            replication_lag: { max_seconds: 2 },
            pipeline_silent: { after: '4s' },
          },
        },
        anchors: { file: anchors, interval: '1s' },
        sources: srcs,
      });
    const configFile = join(root, 'dbwitness.yaml');
    await writeFile(configFile, config(sources));

    const receiver = new WebhookReceiver();
    let daemon: ChildProcess | null = spawnCli(['run', '--config', configFile, '--redaction', 'keep']);
    const log = captureLog(daemon);
    try {
      const pgUrl = pgs.url({ database: 'ehr' });
      // Barrier: a MariaDB source without a checkpoint starts at the server's current binlog position.
      await waitFor(async () => (await httpGet(httpPort, '/readyz')).status === 200, { what: '/readyz 200 at start', timeoutMs: 30_000 });
      // Ordinary work on both sources.
      await exec(pgUrl, ["INSERT INTO clinic.patients VALUES (1, 'a'), (2, 'b'), (3, 'c')"]);
      await execAs(mdb, 'alice', ["INSERT INTO clinic.patients VALUES (1, 'M1', 'a', NULL, NULL)"]);
      // Each rule, by a real workload.
      await exec(pgUrl, Array.from({ length: 25 }, (_, i) => `INSERT INTO clinic.patients VALUES (${100 + i}, 'bulk')`));
      await exec(pgUrl, ['ALTER TABLE clinic.patients ADD COLUMN note text']);
      // The identity triggers are ENABLE ALWAYS (session_replication_role cannot silence them); disabling them can.
      await exec(pgUrl, ['ALTER TABLE clinic.patients DISABLE TRIGGER USER']);
      await exec(pgUrl, ["INSERT INTO clinic.patients VALUES (200, 'no identity')"]);
      await exec(pgUrl, ['ALTER TABLE clinic.patients ENABLE TRIGGER USER']);
      await execAs(mdb, 'bob', ["INSERT INTO clinic.patients VALUES (2, 'M2', 'b', NULL, NULL)"]);

      const expectedPg = ['after_hours_access', 'bulk_access', 'unattributed_change', 'ddl_on_audited_table', 'audit_tampering'];
      const expectedMdb = ['after_hours_access', 'account_not_allowed'];
      const codesIn = async (id: string): Promise<Set<string>> => new Set((await storedEvents(store)).filter((e) => e.source.id === id && e.action === 'alert').map((e) => e.detail?.['code'] ?? ''));
      const allStored = async (): Promise<boolean> => {
        const [p, d] = [await codesIn('pg'), await codesIn('mdb')];
        return expectedPg.every((c) => p.has(c)) && expectedMdb.every((c) => d.has(c));
      };
      await waitFor(allStored, { what: 'every alert stored', timeoutMs: 40_000 }).catch(async (e: unknown) => {
        throw new Error(`${String(e)}\npg: ${[...(await codesIn('pg'))].join(',')}\nmdb: ${[...(await codesIn('mdb'))].join(',')}\n${log.text().slice(-3000)}`);
      });
      // A loaded machine may add replication_lag alerts; nothing else may appear.
      expect([...(await codesIn('pg'))].filter((c) => c !== 'replication_lag').sort()).toEqual([...expectedPg].sort());
      expect([...(await codesIn('mdb'))].filter((c) => c !== 'replication_lag').sort()).toEqual([...expectedMdb].sort());

      // The receiver was down all along: deliveries were retried, then arrive.
      expect(receiver.bodies).toEqual([]);
      await receiver.start(hookPort);
      await waitFor(() => expectedPg.every((c) => receiver.alertCodes('pg').has(c)) && expectedMdb.every((c) => receiver.alertCodes('mdb').has(c)), { what: 'alerts delivered after the receiver came up', timeoutMs: 20_000 });
      await waitFor(() => receiver.bodies.some((b) => b.type === 'anchor'), { what: 'an anchor delivered' });

      // Health and metrics.
      expect((await httpGet(httpPort, '/healthz')).status).toBe(200);
      await waitFor(async () => (await httpGet(httpPort, '/readyz')).status === 200, { what: '/readyz 200', timeoutMs: 20_000 });
      const m = (await httpGet(httpPort, '/metrics')).body;
      expect(metric(m, 'dbwitness_events_total', { source: 'pg', action: 'insert' })).toBeGreaterThanOrEqual(29);
      expect(metric(m, 'dbwitness_events_total', { source: 'mdb', action: 'insert' })).toBeGreaterThanOrEqual(2);
      expect(metric(m, 'dbwitness_alerts_total', { source: 'pg', code: 'bulk_access' })).toBe(1);
      expect(metric(m, 'dbwitness_unattributed_changes_total', { source: 'pg' })).toBe(1);
      expect(metric(m, 'dbwitness_chain_head_seq', { source: 'pg' })).toBeGreaterThan(30);
      expect(metric(m, 'dbwitness_source_up', { source: 'mdb' })).toBe(1);
      expect(metric(m, 'dbwitness_store_append_seconds_count', { source: 'pg' })).toBeGreaterThan(0);
      expect(metric(m, 'dbwitness_replication_lag_seconds', { source: 'pg' })).toBeDefined();
      // PostgreSQL reports its slot: WAL not yet acknowledged, and WAL retained for it.
      await waitFor(async () => metric((await httpGet(httpPort, '/metrics')).body, 'dbwitness_retained_bytes', { source: 'pg' }) !== undefined, { what: 'pg retained WAL metric', timeoutMs: 30_000 });
      // MariaDB reports the binlog past its acknowledged position and the binlog files retained for it.
      await waitFor(async () => {
        const b = (await httpGet(httpPort, '/metrics')).body;
        return (metric(b, 'dbwitness_retained_bytes', { source: 'mdb' }) ?? 0) > 0 && metric(b, 'dbwitness_replication_lag_bytes', { source: 'mdb' }) !== undefined;
      }, { what: 'mdb binlog lag metrics', timeoutMs: 30_000 });
      // The index worker is a second V8 heap in the process: reported after its first catch-up (every 10 s).
      await waitFor(async () => (metric((await httpGet(httpPort, '/metrics')).body, 'dbwitness_index_worker_heap_bytes', { kind: 'used' }) ?? 0) > 0, { what: 'index worker heap metric', timeoutMs: 30_000 });
      expect(metric(m, 'dbwitness_webhook_delivered_total')).toBeGreaterThan(0);
      expect(metric(m, 'dbwitness_process_resident_memory_bytes')).toBeGreaterThan(0);

      // MariaDB goes away; PostgreSQL keeps flowing and /readyz names the problem.
      await execAs(mdb, 'alice', ["INSERT INTO clinic.patients VALUES (3, 'M3', 'c', NULL, NULL)"]);
      await mdb.stop();
      await exec(pgUrl, ["INSERT INTO clinic.patients VALUES (300, 'during outage')"]);
      await waitFor(async () => (await storedEvents(store)).some((e) => e.source.id === 'pg' && e.object?.key?.['id'] === '300'), { what: 'pg flowing during the outage' });
      const notReady = await waitFor(
        async () => {
          const r = await httpGet(httpPort, '/readyz');
          if (r.status !== 503) return null;
          const body = JSON.parse(r.body) as { sources: Record<string, { ready: boolean }> };
          // On a loaded machine pg's readiness can lag a moment behind its last write: wait for the settled state.
          return body.sources['pg']?.ready === true ? body : null;
        },
        { what: '/readyz 503 naming mariadb while postgres stays ready', timeoutMs: 30_000 },
      );
      expect(notReady.sources['pg']?.ready).toBe(true);
      expect(notReady.sources['mdb']?.ready).toBe(false);
      // The silence rule: stored in the chain while it is open (the adapter reconnects), else logged.
      await waitFor(async () => (await codesIn('mdb')).has('pipeline_silent') || /"alert":"pipeline_silent","source":"mdb"/.test(log.text()), { what: 'pipeline_silent for mariadb', timeoutMs: 20_000 });
      // The idle PostgreSQL source keeps making progress through its heartbeats: no alert for it.
      expect([...(await codesIn('pg'))]).not.toContain('pipeline_silent');
      await mdb.start();
      await execAs(mdb, 'alice', ["INSERT INTO clinic.patients VALUES (4, 'M4', 'd', NULL, NULL)"]);
      await waitFor(
        async () => {
          const ids = (await storedEvents(store)).filter((e) => e.source.id === 'mdb' && e.action === 'insert').map((e) => e.object?.key?.['id']);
          return ['1', '2', '3', '4'].every((id) => ids.includes(id));
        },
        { what: 'every mariadb row after the restart', timeoutMs: 40_000 },
      );
      const mdbIds = (await storedEvents(store)).filter((e) => e.source.id === 'mdb' && e.action === 'insert').map((e) => e.object?.key?.['id']);
      expect(mdbIds).toEqual(['1', '2', '3', '4']);
      await waitFor(async () => (await httpGet(httpPort, '/readyz')).status === 200, { what: '/readyz 200 after the restart', timeoutMs: 30_000 });

      // PostgreSQL goes away in turn: MariaDB keeps flowing; PostgreSQL resumes from its slot with nothing lost.
      await pgs.stop('fast');
      await mdb.query("INSERT INTO clinic.encounters VALUES (1, 1, 'during pg outage', NULL)");
      await waitFor(async () => (await storedEvents(store)).some((e) => e.source.id === 'mdb' && e.object?.table === 'encounters'), { what: 'mariadb flowing during the pg outage' });
      await pgs.start();
      await exec(pgUrl, ["INSERT INTO clinic.patients VALUES (400, 'after pg restart')"]);
      await waitFor(async () => (await storedEvents(store)).some((e) => e.source.id === 'pg' && e.object?.key?.['id'] === '400'), { what: 'pg after its restart', timeoutMs: 60_000 });
      const pgIds = (await storedEvents(store)).filter((e) => e.source.id === 'pg' && e.action === 'insert').map((e) => e.object?.key?.['id']);
      expect(pgIds.length).toBe(new Set(pgIds).size);
      expect(pgIds).toEqual(expect.arrayContaining(['1', '2', '3', '124', '200', '300', '400']));
      await waitFor(async () => (await httpGet(httpPort, '/readyz')).status === 200, { what: '/readyz 200 after the pg restart', timeoutMs: 30_000 });

      // SIGHUP adds a source whose slot holds a change committed a while ago: stored late, it raises replication_lag.
      await exec(pgs.url({ database: 'lab' }), ["INSERT INTO clinic.patients VALUES (1, 'lab')"]);
      const committedAt = Date.now();
      await waitFor(() => Date.now() - committedAt > 2500, { what: 'the lab change to age past the lag limit', timeoutMs: 5000 });
      // The same reload drops alice from the allowlist.
      await writeFile(configFile, config([...sources, { id: 'pg-lab', url: pgs.url({ database: 'lab', user: 'dbwitness_daemon' }), tables: PG_TABLES, slot: 'dbwitness_lab' }], ['postgres', 'root']));
      daemon.kill('SIGHUP');
      await waitFor(async () => (await storedEvents(store)).some((e) => e.source.id === 'pg-lab' && e.action === 'insert'), { what: 'the added source streaming', timeoutMs: 30_000 });
      await waitFor(async () => (await codesIn('pg-lab')).has('replication_lag'), { what: 'replication_lag for the late change' });
      await waitFor(() => receiver.alertCodes('pg-lab').has('replication_lag'), { what: 'replication_lag delivered' });
      expect(metric((await httpGet(httpPort, '/metrics')).body, 'dbwitness_source_up', { source: 'pg-lab' })).toBe(1);
      const aliceAlerts = async (): Promise<number> => (await storedEvents(store)).filter((e) => e.source.id === 'mdb' && e.detail?.['code'] === 'account_not_allowed' && e.actor.db_user === 'alice').length;
      expect(await aliceAlerts()).toBe(0);
      await execAs(mdb, 'alice', ["INSERT INTO clinic.patients VALUES (5, 'M5', 'e', NULL, NULL)"]);
      await waitFor(async () => (await aliceAlerts()) === 1, { what: 'the reloaded allowlist applied' });

      // SIGHUP removing the source drains it; a change made while it is removed arrives when it is back.
      const labConfig = config([...sources, { id: 'pg-lab', url: pgs.url({ database: 'lab', user: 'dbwitness_daemon' }), tables: PG_TABLES, slot: 'dbwitness_lab' }], ['postgres', 'root']);
      await writeFile(configFile, config(sources, ['postgres', 'root']));
      daemon.kill('SIGHUP');
      await waitFor(async () => metric((await httpGet(httpPort, '/metrics')).body, 'dbwitness_source_up', { source: 'pg-lab' }) === undefined, { what: 'pg-lab removed', timeoutMs: 20_000 });
      expect((await httpGet(httpPort, '/readyz')).status).toBe(200);
      await exec(pgs.url({ database: 'lab' }), ["INSERT INTO clinic.patients VALUES (2, 'while removed')"]);
      await writeFile(configFile, labConfig);
      daemon.kill('SIGHUP');
      await waitFor(async () => (await storedEvents(store)).some((e) => e.source.id === 'pg-lab' && e.object?.key?.['id'] === '2'), { what: 'the change made while removed', timeoutMs: 30_000 });
      expect((await storedEvents(store)).filter((e) => e.source.id === 'pg-lab' && e.action === 'insert').map((e) => e.object?.key?.['id'])).toEqual(['1', '2']);

      // SIGTERM drains and exits 0; the final heads are anchored.
      daemon.kill('SIGTERM');
      expect(await exited(daemon), log.text().slice(-3000)).toBe(0);
      daemon = null;
      const heads = (await readFile(anchors, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { source: string; seq: number });
      expect(new Set(heads.map((a) => a.source))).toEqual(new Set(['pg', 'mdb', 'pg-lab']));
      const pgEvents = (await storedEvents(store)).filter((e) => e.source.id === 'pg');
      expect(Math.max(...heads.filter((a) => a.source === 'pg').map((a) => a.seq))).toBe(pgEvents.at(-1)!.seq);
      const ok = await runCli(['verify', store, '--public-key', join(root, 'signing.pub'), '--anchors', anchors]);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/anchors match/);

      // Cut the newest pg events off the open segment: the anchors show it.
      const chainDir = join(store, 'pg');
      const seg = join(chainDir, (await readdir(chainDir)).filter((n) => n.endsWith('.jsonl') && n.startsWith('seg-')).sort().at(-1)!);
      const text = await readFile(seg, 'utf8');
      const cutSeq = pgEvents.at(-3)!.seq;
      const at = text.indexOf(`"seq":${cutSeq},`);
      await truncate(seg, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n', at) + 1)));
      const bad = await runCli(['verify', store, '--public-key', join(root, 'signing.pub'), '--anchors', anchors]);
      expect(bad.code).toBe(1);
      expect(bad.stdout).toMatch(/newest events removed: the chain of pg ends at seq \d+/);
    } finally {
      if (daemon !== null && daemon.exitCode === null) daemon.kill('SIGKILL');
      await receiver.stop();
    }
  }, 300_000);
});
