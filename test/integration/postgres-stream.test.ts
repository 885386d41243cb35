/**
 * The stream's contract with the slot: no acknowledgement before the
 * consumer says so (and then exactly that LSN), bounded memory under a slow
 * consumer, reconnects that neither lose nor repeat, and a loud failure
 * when the slot is missing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresChangeSource } from '../../adapters/postgres/index.js';
import { parseLsn } from '../../adapters/postgres/lsn.js';
import { silentLogger } from '../../src/core/logger.js';
import type { SourceMessage } from '../../src/core/ports.js';
import { startPostgres, waitFor, type PgServer } from '../harness/index.js';
import { applySetup, CLINIC_SQL, Collector, exec, pgConfig, unique } from './postgres-fixture.js';

let server: PgServer;
const db = 'ehr';
const q = <T = Record<string, unknown>>(sql: string): Promise<T[]> => server.query<T>(sql, [], { database: db });

beforeAll(async () => {
  server = await startPostgres({ database: db });
  for (const sql of CLINIC_SQL) await q(sql);
});
afterAll(async () => {
  await server?.close();
});

async function confirmedFlush(slot: string): Promise<bigint> {
  const [row] = await q<{ l: string }>(`SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE slot_name = '${slot}'`);
  return parseLsn(row?.l ?? '0/0');
}

/** Pulls one message at a time under the test's control. */
function puller(source: PostgresChangeSource, checkpoint: string | null, signal: AbortSignal): () => Promise<SourceMessage> {
  const it = source.messages(checkpoint, signal)[Symbol.asyncIterator]();
  return async () => {
    const r = await it.next();
    if (r.done) throw new Error('stream ended');
    return r.value;
  };
}

async function nextOf<K extends SourceMessage['kind']>(pull: () => Promise<SourceMessage>, kind: K): Promise<Extract<SourceMessage, { kind: K }>> {
  for (;;) {
    const m = await pull();
    if (m.kind === kind) return m as Extract<SourceMessage, { kind: K }>;
  }
}

describe('postgres stream', () => {
  it('fails loudly when the slot does not exist, and never creates it', async () => {
    const config = pgConfig(server, db, { slot: 'no_such_slot', publication: 'nopub' });
    const source = new PostgresChangeSource(config, silentLogger());
    const pull = puller(source, null, new AbortController().signal);
    await expect(pull()).rejects.toMatchObject({ code: 'E_PG_SLOT_MISSING', fix: expect.stringContaining('setup postgres --apply') });
    await source.close();
    expect(await q("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'no_such_slot'")).toHaveLength(0);
  });

  it('confirms nothing until acknowledge, then exactly the commit end LSN', async () => {
    const slot = unique('s');
    const config = pgConfig(server, db, { slot });
    await applySetup(config);
    const before = await confirmedFlush(slot);
    const c = new Collector(config, null, { statusIntervalMs: 100 }, { ack: false });
    try {
      await exec(server.url({ database: db }), ["INSERT INTO clinic.patients VALUES (1, 'M', 'n', NULL, NULL)"]);
      const tx = await c.waitChange('patients');
      const seenAt = new Date();
      // Barrier: the walsender has had status updates since the transaction was delivered.
      await waitFor(async () => (await q<{ t: Date }>(`SELECT reply_time AS t FROM pg_stat_replication WHERE application_name = 'dbwitness'`))[0]?.t! > new Date(seenAt.getTime() + 300), { what: 'a later standby status update' });
      expect(await confirmedFlush(slot)).toBe(before);
      await c.source.acknowledge(tx.commit.checkpoint);
      const end = parseLsn(tx.commit.checkpoint);
      await waitFor(async () => (await confirmedFlush(slot)) === end, { what: 'confirmed_flush_lsn = commit end LSN' });
    } finally {
      await c.stop();
    }
  });

  it('reports slot lag and retained WAL, and the lag shrinks once acknowledged', async () => {
    const slot = unique('s');
    const config = pgConfig(server, db, { slot });
    await applySetup(config);
    const c = new Collector(config, null, { statusIntervalMs: 100 }, { ack: false });
    try {
      await exec(server.url({ database: db }), ["INSERT INTO clinic.patients VALUES (500, 'M', repeat('x', 150), NULL, NULL)"]);
      const tx = await c.waitChange('patients');
      const behind = await c.source.lag();
      expect(behind.bytes).toBeGreaterThan(0);
      expect(behind.retainedBytes).toBeGreaterThanOrEqual(behind.bytes!);
      await c.source.acknowledge(tx.commit.checkpoint);
      const end = parseLsn(tx.commit.checkpoint);
      await waitFor(async () => (await confirmedFlush(slot)) === end, { what: 'confirmed_flush_lsn = commit end LSN' });
      const [{ expected }] = (await q<{ expected: string }>(`SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::text AS expected FROM pg_replication_slots WHERE slot_name = '${slot}'`)) as [{ expected: string }];
      const after = await c.source.lag();
      expect(after.bytes).toBeLessThan(behind.bytes!);
      expect(after.bytes).toBeLessThanOrEqual(Number(expected) + 65_536);
    } finally {
      await c.stop();
    }
  });

  it('reconnects after a server restart and after a cut mid-transaction without loss or repeats', async () => {
    const slot = unique('s');
    const config = pgConfig(server, db, { slot });
    await applySetup(config);
    const url = server.url({ database: db });
    const source = new PostgresChangeSource(config, silentLogger(), { highWater: 50, lowWater: 10, reconnectMinMs: 50, reconnectMaxMs: 500 });
    const abort = new AbortController();
    const pull = puller(source, null, abort.signal);
    try {
      await exec(url, ['INSERT INTO clinic.prescriptions SELECT g, 1, \'d\', NULL FROM generate_series(1, 3000) g']);
      const begin = await nextOf(pull, 'begin');
      for (let i = 0; i < 100; i++) expect((await pull()).kind).toMatch(/identity|change/);
      // Cut the walsender while the consumer is inside the transaction.
      await q(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '${slot}'`);
      const ids: string[] = [];
      let m: SourceMessage;
      for (;;) {
        m = await pull();
        if (m.kind === 'commit') break;
        expect(m.kind).not.toBe('begin');
        if (m.kind === 'change') ids.push(String(m.change.key?.['id']));
      }
      // 100 pulled before the cut = 1 identity + 99 changes (ids 1..99); the rest after, once each.
      expect(ids).toHaveLength(3000 - 99);
      expect(ids[0]).toBe('100');
      expect(ids.at(-1)).toBe('3000');
      await source.acknowledge(m.checkpoint);

      await server.restart();
      await exec(url, ["INSERT INTO clinic.prescriptions VALUES (9001, 1, 'after restart', NULL)"]);
      const next = await nextOf(pull, 'begin');
      expect(next.txId).not.toBe(begin.txId);
      const change = await nextOf(pull, 'change');
      expect(change.change.key).toEqual({ id: '9001' });
    } finally {
      abort.abort();
      await source.close();
    }
  });

  it('keeps memory bounded while the consumer is slow (the server waits on the socket)', async () => {
    const slot = unique('s');
    const config = pgConfig(server, db, { slot });
    await applySetup(config);
    const source = new PostgresChangeSource(config, silentLogger(), { highWater: 500, lowWater: 100 });
    const abort = new AbortController();
    const pull = puller(source, null, abort.signal);
    // Wide rows: ~17 MB of pgoutput, well past what loopback socket buffers hold.
    const rows = 60_000;
    try {
      await exec(server.url({ database: db }), ["INSERT INTO clinic.patients VALUES (1, 'M', 'n', NULL, NULL) ON CONFLICT DO NOTHING"]);
      await exec(server.url({ database: db }), [`INSERT INTO clinic.encounters SELECT g, 1, repeat('x', 250), NULL FROM generate_series(1, ${rows}) g`]);
      let begin = await nextOf(pull, 'begin');
      let first = await nextOf(pull, 'change');
      while (first.change.table !== 'encounters') {
        begin = await nextOf(pull, 'begin');
        first = await nextOf(pull, 'change');
      }
      expect(begin.txId).toMatch(/^\d+$/);
      // Barrier: the walsender blocks writing to our paused socket.
      await waitFor(async () => (await q<{ w: string | null }>("SELECT wait_event AS w FROM pg_stat_activity WHERE backend_type = 'walsender'")).some((r) => r.w === 'WalSenderWriteData'), { what: 'walsender waiting on the socket', timeoutMs: 30_000 });
      // Paused at the high-water mark; the consumer may have taken one group
      // (64 messages, postgres-source.ts) since, which stays below resuming (100).
      expect(source.bufferedFrames).toBeGreaterThanOrEqual(500 - 64);
      // One socket read (<= 64 KiB, >= 40 bytes a frame) past the high-water mark at most.
      expect(source.bufferedFrames).toBeLessThan(500 + 2000);
      let n = 1;
      for (;;) {
        const m = await pull();
        if (m.kind === 'commit') break;
        if (m.kind === 'change') {
          n++;
          expect(m.change.key).toEqual({ id: String(n) });
        }
      }
      expect(n).toBe(rows);
    } finally {
      abort.abort();
      await source.close();
    }
  });

  it('bounds what it buffers by bytes too: wide rows do not fill the frame count', async () => {
    const slot = unique('s');
    const config = pgConfig(server, db, { slot });
    await applySetup(config);
    // 2,000 frames would be 200 MB of these rows; the byte bound holds 2 MiB.
    const source = new PostgresChangeSource(config, silentLogger(), { highWater: 2000, lowWater: 500, highWaterBytes: 2 * 1024 * 1024, lowWaterBytes: 512 * 1024 });
    const abort = new AbortController();
    const pull = puller(source, null, abort.signal);
    const rows = 300;
    const width = 100_000;
    try {
      await exec(server.url({ database: db }), ["INSERT INTO clinic.patients VALUES (1, 'M', 'n', NULL, NULL) ON CONFLICT DO NOTHING"]);
      // md5 chains: incompressible text, so the WAL and pgoutput carry all of it (~30 MB).
      await exec(server.url({ database: db }), [
        `INSERT INTO clinic.encounters SELECT 100000 + g, 1, (SELECT string_agg(md5(g::text || '-' || i::text), '') FROM generate_series(1, ${width / 32}) i), NULL FROM generate_series(1, ${rows}) g`,
      ]);
      let first = await nextOf(pull, 'change');
      while (first.change.table !== 'encounters') first = await nextOf(pull, 'change');
      await waitFor(async () => (await q<{ w: string | null }>("SELECT wait_event AS w FROM pg_stat_activity WHERE backend_type = 'walsender'")).some((r) => r.w === 'WalSenderWriteData'), { what: 'walsender waiting on the socket', timeoutMs: 30_000 });
      // The bound, plus one socket read and the frame being assembled at most.
      expect(source.bufferedBytes).toBeGreaterThanOrEqual(2 * 1024 * 1024 - width);
      expect(source.bufferedBytes).toBeLessThan(2 * 1024 * 1024 + 64 * 1024 + 2 * width);
      expect(source.bufferedFrames).toBeLessThan(100);
      let n = 1;
      for (;;) {
        const m = await pull();
        if (m.kind === 'commit') break;
        if (m.kind === 'change') n++;
      }
      expect(n).toBe(rows);
    } finally {
      abort.abort();
      await source.close();
    }
  });

  it('fails loudly with a finding when the slot was invalidated (WAL removed before it was read)', async () => {
    const slot = unique('s');
    const config = pgConfig(server, db, { slot });
    await applySetup(config);
    await q("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
    await q('SELECT pg_reload_conf()');
    try {
      await q('CREATE TABLE IF NOT EXISTS public.filler (v text)');
      await waitFor(
        async () => {
          // Write WAL nobody reads, switch segments, and let a checkpoint remove them.
          await q("INSERT INTO public.filler SELECT repeat('y', 200) FROM generate_series(1, 5000)");
          await q('SELECT pg_switch_wal()');
          await q('CHECKPOINT');
          const [r] = await q<{ s: string }>(`SELECT wal_status AS s FROM pg_replication_slots WHERE slot_name = '${slot}'`);
          return r?.s === 'lost';
        },
        { what: 'the slot to be invalidated', timeoutMs: 60_000, intervalMs: 10 },
      );
      const source = new PostgresChangeSource(config, silentLogger());
      const pull = puller(source, null, new AbortController().signal);
      await expect(pull()).rejects.toMatchObject({ code: 'E_PG_SLOT_INVALIDATED', exitCode: 1 });
      await source.close();
    } finally {
      await q('ALTER SYSTEM RESET max_slot_wal_keep_size');
      await q('SELECT pg_reload_conf()');
    }
  });
});
