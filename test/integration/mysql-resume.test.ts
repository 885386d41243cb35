/**
 * Positions and failures: resume by GTID without loss or duplicates,
 * reconnect after a server restart and after the dump connection is killed
 * in the middle of a transaction, and a loud failure when the binlog was
 * purged past the resume point.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, type MariaDbServer } from '../harness/index.js';
import type { SourceMessage } from '../../src/core/ports.js';
import { Collector, openSource, sourceConfig, startClinic, transactions } from './mysql-fixture.js';

async function insertPatients(db: MariaDbServer, ids: readonly number[]): Promise<void> {
  for (const id of ids) await db.query('INSERT INTO clinic.patients VALUES (?, ?, ?, NULL, NULL)', [id, `M${id}`, `P${id}`]);
}

function insertedIds(msgs: readonly SourceMessage[]): string[] {
  return msgs.flatMap((m) => (m.kind === 'change' && m.change.action === 'insert' ? [m.change.key!['id'] as string] : []));
}

describe('mysql source: resume, reconnect, purged binlog (MariaDB 10.11)', () => {
  let db: MariaDbServer;
  beforeAll(async () => {
    db = await startClinic();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('resumes from a stored GTID checkpoint with nothing lost and nothing repeated', async () => {
    const config = sourceConfig(db);
    const s1 = await openSource(config);
    const c1 = new Collector(s1, null);
    await c1.until((c) => c.messages.some((m) => m.kind === 'idle'), 'started');
    await insertPatients(db, [101, 102, 103, 104, 105]);
    await c1.until((c) => c.commits().length >= 5, 'five commits');
    await c1.stop();
    await s1.close();
    const third = c1.commits()[2]!; // as if the store had made tx 3 durable, then crashed
    await insertPatients(db, [106, 107]); // written while dbwitness is down

    const s2 = await openSource(config);
    const c2 = new Collector(s2, third.checkpoint);
    await c2.until((c) => insertedIds(c.messages).includes('107'), 'caught up');
    await c2.stop();
    await s2.close();
    expect(insertedIds(c2.messages)).toEqual(['104', '105', '106', '107']);
  });

  it('reconnects after a server restart and delivers each transaction once', async () => {
    const s = await openSource(sourceConfig(db, { max_backoff_ms: 500 }));
    const c = new Collector(s, null);
    await c.until((x) => x.messages.some((m) => m.kind === 'idle'), 'started');
    await insertPatients(db, [201, 202]);
    await c.until((x) => insertedIds(x.messages).includes('202'), 'before restart');
    await db.stop('immediate'); // a crash, not a clean shutdown
    await db.start();
    await insertPatients(db, [203, 204]);
    await c.until((x) => insertedIds(x.messages).includes('204'), 'after restart', 40_000);
    await c.stop();
    await s.close();
    expect(s.reconnects).toBeGreaterThanOrEqual(1);
    expect(insertedIds(c.messages)).toEqual(['201', '202', '203', '204']);
    for (const t of transactions(c.messages)) expect(t.filter((m) => m.kind === 'begin')).toHaveLength(1);
  });

  it('bounds what it reads ahead by the weight of the rows, not only their count', async () => {
    const s = await openSource(sourceConfig(db));
    const ac = new AbortController();
    const it = s.messages(null, ac.signal)[Symbol.asyncIterator]();
    try {
      expect((await it.next()).value?.kind).toBe('idle');
      // 2,000 notes of 10 KB: 20 MB, where the count bound (4,096 messages) alone would hold all of it.
      await db.query(`INSERT INTO clinic.encounters SELECT seq, 1, REPEAT(MD5(seq), 320), NULL FROM clinic.seq_10000_to_11999`);
      let n = await it.next();
      while (n.value?.kind !== 'change') n = await it.next();
      // The consumer stalls: whatever the connection reads meanwhile is bounded.
      await new Promise((r) => setTimeout(r, 1500));
      const weight = s.bufferedWeight;
      expect(weight).toBeGreaterThan(1024 * 1024);
      // The bound, plus what one binlog event released (changes held for a marker: 1 MiB at most).
      expect(weight).toBeLessThan(5 * 1024 * 1024 + 256 * 1024);
      let changes = 1;
      for (;;) {
        n = await it.next();
        if (n.done || n.value.kind === 'commit') break;
        if (n.value.kind === 'change') changes++;
      }
      expect(changes).toBe(2000);
    } finally {
      ac.abort();
      await it.return?.(undefined);
      await s.close();
    }
  });

  it('replays a transaction cut by a lost connection without repeating what was delivered', async () => {
    const config = sourceConfig(db, { high_water_mark: 64, max_backoff_ms: 300 });
    const s = await openSource(config);
    const ac = new AbortController();
    const it = s.messages(null, ac.signal)[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value?.kind).toBe('idle');
    // Large enough (~40 MB of row images) that most of it is still on the
    // server when the connection is cut, not in socket buffers.
    const N = 200_000;
    await db.query(`INSERT INTO clinic.patients SELECT seq, 'M', REPEAT('x', 190), NULL, NULL FROM clinic.seq_10000_to_${10_000 + N - 1}`);
    const got: SourceMessage[] = [];
    // Take the first 500 changes of the transaction, then cut the dump connection.
    let changes = 0;
    while (changes < 500) {
      const n = await it.next();
      if (n.value && n.value.kind !== 'idle') got.push(n.value);
      if (n.value?.kind === 'change') changes++;
    }
    const dumps = await db.query<{ Id: number }>("SELECT ID AS Id FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'");
    expect(dumps.length).toBeGreaterThan(0);
    for (const d of dumps) await db.query(`KILL ${d.Id}`);
    for (;;) {
      const n = await it.next();
      if (n.value && n.value.kind !== 'idle') got.push(n.value);
      if (n.done || n.value.kind === 'commit') break;
    }
    ac.abort();
    await it.return?.(undefined);
    await s.close();
    expect(s.reconnects).toBeGreaterThanOrEqual(1);
    expect(got.filter((m) => m.kind === 'begin')).toHaveLength(1);
    const ids = insertedIds(got);
    expect(ids).toHaveLength(N);
    expect(new Set(ids).size).toBe(N);
    expect(ids[0]).toBe('10000');
    expect(ids[N - 1]).toBe(String(10_000 + N - 1));
  });

  it('fails loudly, naming the gap, when binlogs were purged past the resume point', async () => {
    const config = sourceConfig(db);
    const s1 = await openSource(config);
    const c1 = new Collector(s1, null);
    await c1.until((c) => c.messages.some((m) => m.kind === 'idle'), 'started');
    await insertPatients(db, [301]);
    const cp = (await c1.until((c) => c.commits().find((m) => insertedIds(transactions(c.messages).find((t) => t.includes(m)) ?? []).includes('301')), 'tx 301')).checkpoint;
    await c1.stop();
    await s1.close();
    await insertPatients(db, [302, 303, 304]);
    await db.query('FLUSH BINARY LOGS');
    const [last] = await db.query<{ Log_name: string }>('SHOW MASTER STATUS').then((r) => r.map((x) => ({ Log_name: String((x as Record<string, unknown>)['File']) })));
    // MariaDB keeps a binlog until its binlog checkpoint passes (InnoDB
    // has flushed its commits), silently: retry until the purge happened.
    await waitFor(async () => {
      await db.query(`PURGE BINARY LOGS TO '${last!.Log_name}'`);
      const logs = await db.query<{ Log_name: string }>('SHOW BINARY LOGS');
      return logs[0]?.Log_name === last!.Log_name;
    }, { what: 'binlogs purged', timeoutMs: 20_000, intervalMs: 200 });

    const s2 = await openSource(config);
    const c2 = new Collector(s2, cp);
    await c2.done;
    await s2.close();
    expect(c2.error).toMatchObject({ code: 'E_MYSQL_BINLOG_PURGED', exitCode: 1 });
    expect((c2.error as Error).message).toMatch(/3 transaction\(s\) are gone/);
    expect(insertedIds(c2.messages)).toEqual([]);
  });
});
