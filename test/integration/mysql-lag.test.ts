/**
 * lag() of the MariaDB source, read with the source's own (least-privileged)
 * account: bytes of binlog past what was acknowledged, bytes retained from
 * the oldest needed file, seconds behind; growing while nothing is
 * acknowledged, across a binlog rotation, and back to 0 once acknowledged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, type MariaDbServer } from '../harness/index.js';
import type { SourceMessage } from '../../src/core/ports.js';
import { applySetup, Collector, execAs, openSource, REPL_PASSWORD, sourceConfig, startClinic } from './mysql-fixture.js';

async function status(db: MariaDbServer): Promise<{ file: string; pos: number }> {
  const [s] = await db.query<{ File: string; Position: string | number }>('SHOW MASTER STATUS');
  return { file: s!.File, pos: Number(s!.Position) };
}

async function sizes(db: MariaDbServer): Promise<Map<string, number>> {
  const r = await db.query<{ Log_name: string; File_size: string | number }>('SHOW BINARY LOGS');
  return new Map(r.map((x) => [x.Log_name, Number(x.File_size)]));
}

function lastCheckpoint(msgs: readonly SourceMessage[]): string {
  const m = msgs.findLast((x) => x.kind === 'commit' || x.kind === 'idle');
  if (!m || (m.kind !== 'commit' && m.kind !== 'idle')) throw new Error('no checkpoint yet');
  return m.checkpoint;
}

describe('mysql source lag() (MariaDB 10.11)', () => {
  let db: MariaDbServer;
  beforeAll(async () => {
    db = await startClinic();
    await applySetup(sourceConfig(db));
  });
  afterAll(async () => {
    await db?.close();
  });

  it('grows while nothing is acknowledged, counts retained files across a rotation, and is 0 once acknowledged', async () => {
    // The source's own account: BINLOG MONITOR is all lag() needs.
    const config = sourceConfig(db, { url: db.url({ user: 'dbwitness', password: REPL_PASSWORD }) });
    const source = await openSource(config);
    // Nothing durable yet: nothing to measure from.
    expect(await source.lag()).toEqual({ bytes: null, retainedBytes: null, seconds: null });
    const c = new Collector(source, null);
    try {
      const first = await c.until((x) => x.messages.find((m) => m.kind === 'idle'), 'start checkpoint');
      await source.acknowledge((first as { checkpoint: string }).checkpoint);
      // A heartbeat at the same resume point places it in the binlog: caught up.
      await waitFor(async () => {
        const l = await source.lag();
        return l.bytes === 0 && l.seconds === 0 || undefined;
      }, { what: 'lag 0 after the start checkpoint', timeoutMs: 20_000 });
      const start = await status(db);
      expect((await source.lag()).retainedBytes).toBe(start.pos);

      await execAs(db, 'alice', ["INSERT INTO clinic.patients VALUES (1, 'M1', 'Ann', NULL, NULL)"]);
      await c.until((x) => x.commits().length >= 1, 'first commit');
      const after1 = await status(db);
      const lag1 = await source.lag();
      expect(lag1.bytes).toBe(after1.pos - start.pos);
      expect(lag1.retainedBytes).toBe(after1.pos);
      expect(lag1.seconds).not.toBeNull();
      expect(lag1.seconds!).toBeGreaterThanOrEqual(0);
      expect(lag1.seconds!).toBeLessThan(30);

      // More work, a rotation, more work: still nothing acknowledged.
      await execAs(db, 'bob', ["INSERT INTO clinic.patients VALUES (2, 'M2', 'Bo', NULL, NULL)"]);
      await db.query('FLUSH BINARY LOGS');
      await execAs(db, 'bob', ["UPDATE clinic.patients SET name = 'Bob' WHERE id = 2"]);
      await c.until((x) => x.commits().length >= 3, 'three commits');
      const end = await status(db);
      expect(end.file).not.toBe(start.file);
      const files = await sizes(db);
      const lag2 = await source.lag();
      expect(lag2.bytes).toBeGreaterThan(lag1.bytes!);
      expect(lag2.bytes).toBe(files.get(start.file)! - start.pos + end.pos);
      expect(lag2.retainedBytes).toBe(files.get(start.file)! + end.pos);

      // Acknowledge everything read: the durable point moves to the new
      // file (a heartbeat covers its header events), so the old file is
      // no longer retained for dbwitness.
      await source.acknowledge(lastCheckpoint(c.messages));
      const caughtUp = await waitFor(async () => {
        const l = await source.lag();
        return l.bytes === 0 ? l : undefined;
      }, { what: 'lag 0 after acknowledging', timeoutMs: 20_000 });
      expect(caughtUp.seconds).toBe(0);
      expect(caughtUp.retainedBytes).toBe((await status(db)).pos);
    } finally {
      await c.stop();
      await source.close();
    }
  });

  it('after a restart from a GTID checkpoint, never reports the binlog before it as lag', async () => {
    const config = sourceConfig(db, { url: db.url({ user: 'dbwitness', password: REPL_PASSWORD }), id: 'mdb-restart' });
    const first = await openSource(config);
    const c1 = new Collector(first, null);
    let resume: string;
    try {
      await c1.until((x) => x.messages.find((m) => m.kind === 'idle'), 'start checkpoint');
      // Enough binlog before the resume point that the file's start is far from it.
      await execAs(db, 'alice', Array.from({ length: 40 }, (_, i) => `INSERT INTO clinic.patients VALUES (${100 + i}, 'R${i}', 'Restart ${i}', NULL, NULL)`));
      await c1.until((x) => x.commits().length >= 1 && x.changes().length >= 40, 'the forty rows committed');
      resume = lastCheckpoint(c1.messages);
      await first.acknowledge(resume);
    } finally {
      await c1.stop();
      await first.close();
    }
    const caughtUpAt = await status(db);
    expect(caughtUpAt.pos).toBeGreaterThan(4_000);
    const again = await openSource(config);
    const c2 = new Collector(again, resume);
    try {
      // Every lag read from the restart on: unknown, or the bytes really
      // written since (none). The connection's first events are its
      // artificial rotate (at the file's start for a GTID resume) and header
      // events: taken as the durable position they read as the whole file.
      const seen: Array<number | null> = [];
      const deadline = Date.now() + 3_000;
      while (Date.now() < deadline) {
        seen.push((await again.lag()).bytes);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(seen.filter((b) => b !== null && b > 0)).toEqual([]);
      expect(c2.messages.some((m) => m.kind === 'idle')).toBe(true);
      // ...and the first heartbeat places it: caught up, nothing retained but the current file.
      const placed = await waitFor(async () => {
        const l = await again.lag();
        return l.bytes === 0 ? l : undefined;
      }, { what: 'lag placed at 0 by a heartbeat', timeoutMs: 20_000 });
      expect(placed.retainedBytes).toBe((await status(db)).pos);
    } finally {
      await c2.stop();
      await again.close();
    }
  });

  it('reports seconds behind from the commit time of what is read but not yet durable', async () => {
    const config = sourceConfig(db, { url: db.url({ user: 'dbwitness', password: REPL_PASSWORD }), id: 'mdb-seconds' });
    const source = await openSource(config);
    const c = new Collector(source, null);
    try {
      const first = await c.until((x) => x.messages.find((m) => m.kind === 'idle'), 'start checkpoint');
      await source.acknowledge((first as { checkpoint: string }).checkpoint);
      // Where the start checkpoint stands in the binlog is known from the
      // first heartbeat on (a GTID start gives no offset before it).
      await waitFor(async () => ((await source.lag()).bytes === 0 ? true : undefined), { what: 'start checkpoint placed', timeoutMs: 20_000 });
      await execAs(db, 'alice', ["INSERT INTO clinic.patients VALUES (10, 'M10', 'Cy', NULL, NULL)"]);
      const commit = await c.until((x) => x.commits().find((m) => m.commitTime !== undefined), 'commit');
      // Not acknowledged: the lag keeps growing with the clock, measured
      // from the transaction's commit time (whole seconds in the binlog).
      const l = await waitFor(async () => {
        const x = await source.lag();
        return x.seconds !== null && x.seconds >= 2 ? x : undefined;
      }, { what: 'seconds behind >= 2' });
      const expected = (Date.now() - Date.parse(commit.commitTime)) / 1000;
      expect(Math.abs(l.seconds! - expected)).toBeLessThan(1);
      expect(l.bytes).toBeGreaterThan(0);
      await source.acknowledge(commit.checkpoint);
      await waitFor(async () => ((await source.lag()).seconds === 0 ? true : undefined), { what: 'seconds 0 after acknowledging' });
    } finally {
      await c.stop();
      await source.close();
    }
  });
});
