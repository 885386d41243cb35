/**
 * `dbwitness run` against MariaDB, killed with SIGKILL again and again while
 * the clinic keeps writing: the store must end up with every committed row
 * change exactly once, in commit order (the tables' own history), and a
 * final SIGTERM must exit 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import type { AuditEvent } from '../../src/core/event.js';
import { readEvents } from '../../src/store/reader.js';
import { spawnCli, tempDir, waitFor, type MariaDbServer } from '../harness/index.js';
import { applySetup, REPL_PASSWORD, sourceConfig, startClinic } from './mysql-fixture.js';

async function stored(dir: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  try {
    for await (const ref of readEvents(dir)) out.push(ref.event);
  } catch {
    return out;
  }
  return out;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('dbwitness run on MariaDB: kill -9 loop, exactly once', () => {
  let db: MariaDbServer;
  let store: string;
  beforeAll(async () => {
    db = await startClinic();
    await applySetup(sourceConfig(db));
    store = await tempDir('dbw-mysql-crash-');
  });
  afterAll(async () => {
    await db?.close();
  });

  it('survives repeated SIGKILL with no loss and no duplicate, then exits 0 on SIGTERM', async () => {
    const args = ['run', '--source', `mysql://dbwitness@127.0.0.1:${db.port}/`, '--password-env', 'DBWITNESS_MYSQL_PASSWORD', '--tables', 'clinic.patients,clinic.encounters', '--id', 'mdb-crash', '--store', store, '--unsigned', '--redaction', 'keep', '--log-level', 'info'];
    const env = { ...process.env, DBWITNESS_MYSQL_PASSWORD: REPL_PASSWORD };
    let writing = true;
    let next = 1;
    let writer: Promise<void> | null = null;
    const startWriter = (): Promise<void> => (async () => {
      while (writing) {
        const id = next++;
        // Two rows per transaction, one in each table; every third also updates.
        await db.query(`INSERT INTO clinic.patients VALUES (${id}, 'M${id}', 'P${id}', NULL, ${id}.25)`);
        if (id % 3 === 0) await db.query(`UPDATE clinic.patients SET balance = balance + 1 WHERE id = ${id - 1}`);
      }
    })();

    for (let round = 0; round < 4; round++) {
      const child = spawnCli(args, { env });
      let err = '';
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      if (writer === null) {
        // A new chain starts where the server was when the source opened.
        await waitFor(() => err.includes('streaming'), { timeoutMs: 30_000, what: 'first run streaming' });
        writer = startWriter();
      }
      const before = (await stored(store)).length;
      // Barrier: this incarnation has made at least a few events durable.
      await waitFor(async () => (await stored(store)).length > before + 5, { timeoutMs: 30_000, what: `round ${round} progress (${err.slice(-300)})` });
      child.kill('SIGKILL');
      await exited(child);
    }
    writing = false;
    await writer;
    const lastId = next - 1;

    const final = spawnCli(args, { env });
    let finalErr = '';
    final.stderr?.on('data', (d: Buffer) => (finalErr += d.toString()));
    // The last rows may already be stored by an earlier incarnation: wait
    // until this one is up (signal handlers installed) before SIGTERM.
    await waitFor(() => finalErr.includes('streaming'), { timeoutMs: 30_000, what: 'final run streaming' });
    await waitFor(async () => (await stored(store)).some((e) => e.action === 'insert' && e.object?.key?.['id'] === String(lastId)), { timeoutMs: 30_000, what: 'catch-up' });
    final.kill('SIGTERM');
    expect(await exited(final)).toBe(0);

    const events = (await stored(store)).filter((e) => e.action === 'insert' || e.action === 'update');
    const inserts = events.filter((e) => e.action === 'insert').map((e) => Number(e.object!.key!['id']));
    expect(inserts).toEqual(Array.from({ length: lastId }, (_, i) => i + 1));
    const updates = events.filter((e) => e.action === 'update');
    expect(updates).toHaveLength(Math.floor(lastId / 3));
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    // The table's own history agrees with the trail.
    const [row] = await db.query<{ n: string; s: string }>('SELECT COUNT(*) AS n, SUM(balance) AS s FROM clinic.patients');
    expect(Number(row!.n)).toBe(lastId);
    for (const e of events) expect(e.actor.identity).toBe('verified');
  }, 240_000);
});
