/**
 * Heartbeats on an idle PostgreSQL (setup applied, no writes): a heartbeat
 * comes back through the slot as an idle checkpoint at its own LSN, the slot
 * advances once that is acknowledged, lag() gets seconds; only the daemon
 * role may write one; doctor reports a missing or open function; and the
 * daemon keeps an idle source ready and free of pipeline_silent while
 * heartbeats flow, but reports a stuck stream (walsender stopped) by both.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAdapter, PostgresChangeSource } from '../../adapters/postgres/index.js';
import { parseLsn } from '../../adapters/postgres/lsn.js';
import { silentLogger } from '../../src/core/logger.js';
import { generateSigningKeyPair } from '../../src/store/keys.js';
import type { Finding, SourceMessage } from '../../src/core/ports.js';
import { availablePgVersions, freePort, spawnCli, startPostgres, tempDir, waitFor, type PgServer } from '../harness/index.js';
import { captureLog, exited, httpGet, metric, storedEvents } from './daemon-fixture.js';
import { applySetup, CLINIC_SQL, pgConfig, unique } from './postgres-fixture.js';

const db = 'ehr';
let server: PgServer;
const q = <T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> => server.query<T>(sql, params, { database: db });

beforeAll(async () => {
  server = await startPostgres({ database: db });
  for (const sql of CLINIC_SQL) await q(sql);
  await q('CREATE ROLE mallory LOGIN');
}, 60_000);
afterAll(async () => {
  await server?.close();
});

async function confirmedFlush(s: PgServer, slot: string): Promise<bigint> {
  const [row] = await s.query<{ l: string }>('SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE slot_name = $1', [slot], { database: db });
  return parseLsn(row?.l ?? '0/0');
}

/** Pulls messages in the background, acknowledging nothing unless told to. */
function drain(source: PostgresChangeSource, signal: AbortSignal): { messages: SourceMessage[]; error: () => unknown } {
  const messages: SourceMessage[] = [];
  let error: unknown = null;
  void (async () => {
    try {
      for await (const m of source.messages(null, signal)) messages.push(m);
    } catch (e) {
      error = e;
    }
  })();
  return { messages, error: () => error };
}

function byId(findings: readonly Finding[], id: string): Finding {
  const f = findings.find((x) => x.id === id);
  if (f === undefined) throw new Error(`no finding ${id}`);
  return f;
}

/** A daemon config for one source on `slot`, connecting as the daemon role, with a short silence limit. */
async function daemonSetup(slot: string, silence: string): Promise<{ store: string; httpPort: number; configFile: string }> {
  const root = await tempDir('dbw-heartbeat-');
  const store = join(root, 'store');
  await writeFile(join(root, 'signing.key'), generateSigningKeyPair().privatePem, { mode: 0o600 });
  const httpPort = await freePort();
  const configFile = join(root, 'dbwitness.yaml');
  await writeFile(
    configFile,
    stringify({
      store: { dir: store, signing_key: join(root, 'signing.key') },
      http: { listen: `127.0.0.1:${httpPort}`, ready_max_silence: silence },
      alerts: { check_interval: '1s', rules: { pipeline_silent: { after: silence } } },
      sources: [{ id: 'pg', url: server.url({ database: db, user: 'dbwitness_daemon' }), tables: ['clinic.patients'], slot }],
    }),
  );
  return { store, httpPort, configFile };
}

/** Setup as the superuser, then a source that connects as the daemon role setup created. */
async function daemonSource(s: PgServer): Promise<{ source: PostgresChangeSource; slot: string; config: ReturnType<typeof pgConfig> }> {
  const slot = unique('hb');
  await applySetup(pgConfig(s, db, { slot }));
  const config = pgConfig(s, db, { slot, url: s.url({ database: db, user: 'dbwitness_daemon' }) });
  return { source: new PostgresChangeSource(config, silentLogger(), { reconnectMinMs: 100, reconnectMaxMs: 1000 }), slot, config };
}

/** The heartbeat round trip on an idle server: idle at its LSN, slot advanced after acknowledge, lag seconds. */
async function roundTrip(s: PgServer): Promise<void> {
  const { source, slot } = await daemonSource(s);
  const abort = new AbortController();
  try {
    expect((await source.lag()).seconds).toBeNull();
    const stream = drain(source, abort.signal);
    // Barrier: the walsender is streaming before the heartbeat is written.
    await waitFor(async () => (await s.query('SELECT 1 FROM pg_stat_replication WHERE application_name = $1', ['dbwitness'], { database: db })).length > 0, { what: 'walsender streaming' });
    const before = await confirmedFlush(s, slot);
    const checkpoint = await source.heartbeat();
    expect(parseLsn(checkpoint)).toBeGreaterThan(before);
    const idle = await waitFor(
      () => {
        if (stream.error() !== null) throw stream.error();
        return stream.messages.find((m) => m.kind === 'idle' && m.checkpoint === checkpoint);
      },
      { what: "an idle checkpoint at the heartbeat's LSN", timeoutMs: 10_000 },
    );
    // Progress only: no transaction, change or alert came out of it.
    expect(stream.messages.filter((m) => m.kind !== 'idle')).toEqual([]);
    // Nothing is confirmed before the consumer acknowledges.
    expect(await confirmedFlush(s, slot)).toBe(before);
    await source.acknowledge(idle.kind === 'idle' ? idle.checkpoint : '');
    await waitFor(async () => (await confirmedFlush(s, slot)) === parseLsn(checkpoint), { what: "confirmed_flush_lsn = the heartbeat's LSN" });
    // The nonce came back: seconds is its round trip, small and no longer growing.
    const first = (await source.lag()).seconds;
    expect(first).not.toBeNull();
    expect(first!).toBeGreaterThanOrEqual(0);
    expect(first!).toBeLessThan(5);
    await new Promise((r) => setTimeout(r, 300));
    expect((await source.lag()).seconds).toBe(first);
  } finally {
    abort.abort();
    await source.close();
  }
}

describe('postgres heartbeats', () => {
  it('come back through the slot of an idle database as an idle checkpoint, advance the slot, and give lag seconds', async () => {
    await roundTrip(server);
  });

  it('only the daemon role may write one; doctor reports a missing or open function', async () => {
    const { source, config } = await daemonSource(server);
    await source.close();
    const asMallory = { database: db, user: 'mallory' };
    await expect(server.query("SELECT dbwitness.emit_heartbeat('x')", [], asMallory)).rejects.toMatchObject({ code: '42501' });
    // Even with the schema reachable, the function itself is closed to PUBLIC.
    await q('GRANT USAGE ON SCHEMA dbwitness TO mallory');
    await expect(server.query("SELECT dbwitness.emit_heartbeat('x')", [], asMallory)).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/permission denied for function emit_heartbeat/) });
    // It writes heartbeats only: the daemon role still cannot write an identity message itself.
    await expect(server.query("SELECT pg_logical_emit_message(true, 'dbwitness', '{}')", [], { database: db, user: 'dbwitness_daemon' })).rejects.toMatchObject({ code: '42501' });
    await expect(server.query('SELECT dbwitness.emit_heartbeat($1)', ['x'.repeat(65)], { database: db, user: 'dbwitness_daemon' })).rejects.toThrow(/1 to 64 characters/);
    const malloryConfig = pgConfig(server, db, { ...config, url: server.url(asMallory) });
    const malloryBeat = new PostgresChangeSource(malloryConfig, silentLogger());
    await expect(malloryBeat.heartbeat()).rejects.toMatchObject({ code: 'E_HEARTBEAT_UNAVAILABLE', fix: expect.stringContaining('setup postgres --apply') });
    await malloryBeat.close();
    await q('REVOKE USAGE ON SCHEMA dbwitness FROM mallory');

    const ctx = { logger: silentLogger() };
    expect(byId(await postgresAdapter.doctor(config, ctx), 'pg.heartbeat')).toMatchObject({ status: 'ok' });
    expect(byId(await postgresAdapter.doctor(malloryConfig, ctx), 'pg.heartbeat')).toMatchObject({ status: 'warn', detail: expect.stringContaining('(mallory) may not execute') });
    await q('GRANT EXECUTE ON FUNCTION dbwitness.emit_heartbeat(text) TO PUBLIC');
    const open = byId(await postgresAdapter.doctor(config, ctx), 'pg.heartbeat');
    expect(open).toMatchObject({ status: 'warn', detail: expect.stringContaining('PUBLIC may execute'), fix: expect.stringContaining('REVOKE') });
    await q('DROP FUNCTION dbwitness.emit_heartbeat(text)');
    const missing = byId(await postgresAdapter.doctor(config, ctx), 'pg.heartbeat');
    expect(missing).toMatchObject({ status: 'warn', detail: expect.stringContaining('does not exist'), fix: expect.stringContaining('--apply') });
    // The daemon's heartbeat says what to do.
    const orphan = new PostgresChangeSource(config, silentLogger());
    await expect(orphan.heartbeat()).rejects.toMatchObject({ code: 'E_HEARTBEAT_UNAVAILABLE', fix: expect.stringContaining('setup postgres --apply') });
    await orphan.close();
    // setup --apply puts it back, closed to PUBLIC again.
    await applySetup(pgConfig(server, db, { slot: config.slot }));
    expect(byId(await postgresAdapter.doctor(config, ctx), 'pg.heartbeat').status).toBe('ok');
    const [grants] = await q<{ pub: boolean; daemon: boolean }>(
      "SELECT has_function_privilege('public', 'dbwitness.emit_heartbeat(text)', 'EXECUTE') AS pub, has_function_privilege('dbwitness_daemon', 'dbwitness.emit_heartbeat(text)', 'EXECUTE') AS daemon",
    );
    expect(grants).toEqual({ pub: false, daemon: true });
    // --uninstall drops it.
    const admin = pgConfig(server, db, { slot: config.slot });
    await postgresAdapter.applyPlan(admin, await postgresAdapter.planUninstall(admin, ctx), ctx);
    expect(await q("SELECT 1 FROM pg_proc WHERE proname = 'emit_heartbeat'")).toEqual([]);
  });

  it('the daemon keeps an idle source ready and not silent while heartbeats flow, and reports a stuck stream', async () => {
    const slot = unique('hbd');
    await applySetup(pgConfig(server, db, { slot }));
    const { store, httpPort, configFile } = await daemonSetup(slot, '5s');
    const startLsn = await confirmedFlush(server, slot);
    const daemon: ChildProcess = spawnCli(['run', '--config', configFile, '--redaction', 'keep']);
    const log = captureLog(daemon);
    let stoppedPid: number | null = null;
    const silentAlerts = async (): Promise<number> => (await storedEvents(store)).filter((e) => e.action === 'alert' && e.detail?.['code'] === 'pipeline_silent').length;
    try {
      await waitFor(async () => (await httpGet(httpPort, '/readyz')).status === 200, { what: '/readyz 200 at start', timeoutMs: 30_000 });
      // Three times the silence limit with no write at all: always ready, never silent.
      const until = Date.now() + 15_000;
      while (Date.now() < until) {
        const r = await httpGet(httpPort, '/readyz');
        expect(r.status, r.body).toBe(200);
        await new Promise((res) => setTimeout(res, 500));
      }
      expect(await silentAlerts()).toBe(0);
      expect(log.text()).not.toMatch(/pipeline_silent|heartbeat failed/);
      // The heartbeats were stored and acknowledged: the idle slot moved.
      await waitFor(async () => (await confirmedFlush(server, slot)) > startLsn, { what: 'the idle slot advanced', timeoutMs: 20_000 });
      const lag = metric((await httpGet(httpPort, '/metrics')).body, 'dbwitness_replication_lag_seconds', { source: 'pg' });
      expect(lag).toBeDefined();
      expect(lag!).toBeLessThan(5);

      // A stuck stream: the walsender stops reading WAL while the connection stays up.
      const [ws] = await q<{ pid: number }>('SELECT pid FROM pg_stat_replication WHERE application_name = $1', ['dbwitness']);
      expect(ws).toBeDefined();
      stoppedPid = ws!.pid;
      process.kill(stoppedPid, 'SIGSTOP');
      const notReady = await waitFor(
        async () => {
          const r = await httpGet(httpPort, '/readyz');
          return r.status === 503 ? (JSON.parse(r.body) as { sources: Record<string, { state: string; reason?: string }> }) : null;
        },
        { what: '/readyz 503 for the stuck stream', timeoutMs: 30_000 },
      );
      expect(notReady.sources['pg']).toMatchObject({ state: 'streaming', reason: expect.stringMatching(/no progress for \d+ s/) });
      await waitFor(async () => (await silentAlerts()) > 0, { what: 'pipeline_silent stored', timeoutMs: 30_000 });
      // Heartbeats kept being written and did not come back: the lag in seconds grows.
      await waitFor(async () => (metric((await httpGet(httpPort, '/metrics')).body, 'dbwitness_replication_lag_seconds', { source: 'pg' }) ?? 0) >= 5, { what: 'lag seconds growing while stuck', timeoutMs: 20_000 });

      // Unstuck: the heartbeats arrive and the source is ready again.
      process.kill(stoppedPid, 'SIGCONT');
      stoppedPid = null;
      await waitFor(async () => (await httpGet(httpPort, '/readyz')).status === 200, { what: '/readyz 200 after the stream resumed', timeoutMs: 30_000 });

      // A fast shutdown waits until the walsender's last position is confirmed.
      // Heartbeats make the pipeline store an idle checkpoint every few seconds,
      // and it skips idle positions in between: the source offers the last one
      // again until it is stored, so the server still stops.
      await new Promise((res) => setTimeout(res, 2500));
      const t0 = Date.now();
      await server.stop('fast');
      const stopMs = Date.now() - t0;
      expect(stopMs).toBeLessThan(20_000);
      await server.start();
    } catch (e) {
      throw new Error(`${String(e)}\n${log.text().slice(-3000)}`);
    } finally {
      if (stoppedPid !== null) process.kill(stoppedPid, 'SIGCONT');
      daemon.kill('SIGTERM');
      await exited(daemon);
    }
  }, 180_000);

  it('a source set up before heartbeats existed is treated as one without them: warned once, never called silent', async () => {
    const slot = unique('hbo');
    await applySetup(pgConfig(server, db, { slot }));
    // An installation from before heartbeats: no emit_heartbeat() until setup is re-run.
    await q('DROP FUNCTION dbwitness.emit_heartbeat(text)');
    // Start caught up (past the DDL event of that DROP): an idle source from the first moment.
    await q('SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())', [slot]);
    const { store, httpPort, configFile } = await daemonSetup(slot, '3s');
    const daemon: ChildProcess = spawnCli(['run', '--config', configFile, '--redaction', 'keep']);
    const log = captureLog(daemon);
    try {
      await waitFor(() => /heartbeats unavailable for this source/.test(log.text()), { what: 'the heartbeats-unavailable warning', timeoutMs: 30_000 });
      expect(log.text()).toMatch(/setup postgres --apply/);
      // Three times the silence limit on an idle database: ready, and no silence alert.
      await new Promise((res) => setTimeout(res, 9_000));
      const ready = await httpGet(httpPort, '/readyz');
      expect(ready.status, ready.body).toBe(200);
      const silent = (await storedEvents(store)).filter((e) => e.action === 'alert' && e.detail?.['code'] === 'pipeline_silent');
      expect(silent).toEqual([]);
      expect(log.text().match(/heartbeats unavailable for this source/g)?.length).toBe(1);
      expect(log.text()).not.toMatch(/heartbeat failed/);
    } catch (e) {
      throw new Error(`${String(e)}\n${log.text().slice(-3000)}`);
    } finally {
      daemon.kill('SIGTERM');
      await exited(daemon);
    }
  }, 120_000);
});

// The oldest supported major and one with the four-argument pg_logical_emit_message (PG17).
const others = availablePgVersions().filter((v) => v === 14 || v === 17);
describe.each(others)('postgres heartbeats on PostgreSQL %i', (version) => {
  it('come back through the slot of an idle database', async () => {
    await using s = await startPostgres({ version, database: db });
    for (const sql of CLINIC_SQL) await s.query(sql, [], { database: db });
    await roundTrip(s);
  }, 120_000);
});
