/**
 * The real thing end to end: PostgreSQL (private server, pgoutput slot,
 * identity triggers) -> the real PostgreSQL adapter and pipeline -> the
 * JetStream output -> private nats-server -> archiver -> signed file store.
 * While NATS is down, the slot's confirmed_flush_lsn does not move (nothing
 * is acknowledged to PostgreSQL before JetStream acknowledged), and every
 * change written meanwhile arrives once NATS is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { postgresAdapter } from '../../adapters/postgres/index.js';
import { createLogger, silentLogger } from '../../src/core/logger.js';
import { runPipeline } from '../../src/pipeline/index.js';
import { generateSigningKeyPair, openStore } from '../../src/store/index.js';
import { ArchiveConfig, JetStreamOutputConfig, openJetStreamStore, runArchiver } from '../../src/jetstream/index.js';
import { startNats, startPostgres, tempDir, waitFor, type NatsServer, type PgServer } from '../harness/index.js';
import { applySetup, CLINIC_SQL, exec, pgConfig, unique } from './postgres-fixture.js';
import { assertChainValid, readChain, setupNats } from './jetstream-helpers.js';

describe('PostgreSQL -> JetStream -> archive', () => {
  let pg: PgServer;
  let nats: NatsServer;
  beforeAll(async () => {
    [pg, nats] = await Promise.all([startPostgres({ database: 'clinic' }), startNats()]);
    for (const sql of CLINIC_SQL) await pg.query(sql, [], { database: 'clinic' });
    await setupNats(nats.url());
  });
  afterAll(async () => {
    await Promise.all([pg?.close(), nats?.close()]);
  });

  async function confirmedFlush(slot: string): Promise<string> {
    const rows = await pg.query<{ lsn: string }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    return rows[0]!.lsn;
  }

  async function lsnAtLeast(a: string, b: string): Promise<boolean> {
    const rows = await pg.query<{ ok: boolean }>('SELECT $1::pg_lsn >= $2::pg_lsn AS ok', [a, b]);
    return rows[0]!.ok;
  }

  it('archives attributed, exact changes and holds the slot while JetStream is down', async () => {
    const dir = await tempDir('js-pg-');
    const keyFile = join(dir, 'key.pem');
    await writeFile(keyFile, generateSigningKeyPair().privatePem, { mode: 0o600 });
    const storeDir = join(dir, 'store');
    const slot = unique('js');
    const config = pgConfig(pg, 'clinic', { id: 'pg-js', slot, publication: unique('jspub') });
    await applySetup(config);
    const url = pg.url({ database: 'clinic' });

    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const edge = await openJetStreamStore({ config: JetStreamOutputConfig.parse({ kind: 'jetstream', servers: nats.url(), publish_timeout: '500ms' }), logger: createLogger('warn', sink) });
    const source = await postgresAdapter.openSource(config, { logger: silentLogger() });
    const chain = await edge.openChain(source.source);
    const stopEdge = new AbortController();
    const piping = runPipeline({ source, chain, logger: silentLogger(), signal: stopEdge.signal });
    const stopArchive = new AbortController();
    const archiving = runArchiver({
      config: ArchiveConfig.parse({ servers: nats.url(), lease_ttl: '3s' }),
      openStore: () => openStore(storeDir, { signingKeyFile: keyFile }),
      logger: silentLogger(),
      signal: stopArchive.signal,
    });
    try {
      for (let i = 1; i <= 20; i++) {
        await exec(url, [`INSERT INTO clinic.patients (id, mrn, name, balance) VALUES (${i}, 'MRN${i}', 'Patient ${i}', 1234567890.${String(i).padStart(2, '0')})`], { appUser: `dr.${i % 3}` });
      }
      await exec(url, ['UPDATE clinic.patients SET balance = 0.01 WHERE id = 7', 'DELETE FROM clinic.patients WHERE id = 20']);
      const firstLsn = (await pg.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn;
      await waitFor(async () => (await readChain(storeDir, 'pg-js')).filter((e) => e.action !== 'alert').length >= 22, { what: '22 changes archived', timeoutMs: 30_000 });
      await waitFor(async () => lsnAtLeast(await confirmedFlush(slot), firstLsn), { what: 'the slot confirmed after JetStream acknowledged', timeoutMs: 30_000 });

      // JetStream down: changes keep coming, the slot must hold.
      await nats.stop('immediate');
      const held = await confirmedFlush(slot);
      for (let i = 21; i <= 30; i++) await exec(url, [`INSERT INTO clinic.patients (id, mrn, name) VALUES (${i}, 'MRN${i}', 'Patient ${i}')`], { appUser: 'dr.night' });
      await waitFor(() => lines.some((l) => l.includes('JetStream did not acknowledge') && /"attempt":[3-9]/.test(l)), { what: 'the edge retrying', timeoutMs: 30_000 });
      expect(await confirmedFlush(slot)).toBe(held);

      await nats.start();
      const lastLsn = (await pg.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn;
      await waitFor(async () => (await readChain(storeDir, 'pg-js')).filter((e) => e.action !== 'alert').length >= 32, { what: 'every change archived after the outage', timeoutMs: 60_000 });
      await waitFor(async () => lsnAtLeast(await confirmedFlush(slot), lastLsn), { what: 'the slot confirmed after the outage', timeoutMs: 30_000 });
    } finally {
      stopEdge.abort();
      stopArchive.abort();
      await Promise.all([piping.catch(() => undefined), edge.close()]);
      await source.close();
      await archiving.catch(() => undefined);
    }

    const events = await readChain(storeDir, 'pg-js');
    assertChainValid(events);
    const changes = events.filter((e) => e.action !== 'alert');
    expect(changes).toHaveLength(32);
    expect(new Set(changes.map((e) => e.id)).size).toBe(32);
    const inserts = changes.filter((e) => e.action === 'insert');
    expect(inserts.map((e) => e.object?.key?.id).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 30 }, (_, i) => String(i + 1)));
    const p5 = inserts.find((e) => e.object?.key?.id === '5')!;
    expect(p5.changes?.after?.balance).toBe('1234567890.05'); // exact numeric text
    expect(p5.actor).toMatchObject({ identity: 'verified', db_user: 'postgres', app_user: 'dr.2' });
    expect(p5.source).toMatchObject({ id: 'pg-js', engine: 'postgres' });
    expect(changes.find((e) => e.action === 'update')?.changes?.after?.balance).toBe('0.01');
    expect(changes.find((e) => e.action === 'delete')?.object?.key?.id).toBe('20');
    expect(lines.join('')).not.toContain('Patient ');
  }, 180_000);
});
