/**
 * kill -9 of `dbwitness run` at random moments under steady writes: at the
 * end every committed row is in the store exactly once, nothing else is,
 * the chain verifies, and SIGTERM exits 0.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/core/event.js';
import { readEvents } from '../../src/store/reader.js';
import { generateSigningKeyPair } from '../../src/store/keys.js';
import { runCli, spawnCli, startPostgres, tempDir, waitFor, type PgServer } from '../harness/index.js';
import { applySetup, pgConfig } from './postgres-fixture.js';

let server: PgServer;
const db = 'ehr';

async function stored(dir: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  try {
    for await (const ref of readEvents(dir)) out.push(ref.event);
  } catch {
    // A store being written may end in a torn line; the next read sees it repaired.
  }
  return out;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

beforeAll(async () => {
  server = await startPostgres({ database: db });
  await server.query('CREATE SCHEMA clinic', [], { database: db });
  await server.query('CREATE TABLE clinic.ledger (id bigint PRIMARY KEY, note text NOT NULL)', [], { database: db });
  await applySetup(pgConfig(server, db, { tables: ['clinic.ledger'] }));
});
afterAll(async () => {
  await server?.close();
});

describe('postgres crash safety', () => {
  it('kill -9 loop: every committed change exactly once, chain verifies', async () => {
    const store = await tempDir('dbw-pg-crash-');
    const keys = await tempDir('dbw-pg-crash-keys-');
    const pair = generateSigningKeyPair();
    await writeFile(join(keys, 'signing.key'), pair.privatePem, { mode: 0o600 });
    await writeFile(join(keys, 'signing.pub'), pair.publicPem);
    const args = ['run', '--source', server.url({ database: db, user: 'dbwitness_daemon' }), '--tables', 'clinic.ledger', '--id', 'pg-crash', '--store', store, '--signing-key', join(keys, 'signing.key'), '--redaction', 'keep'];

    // Steady writer: 1-3 rows per transaction; ids are recorded only once COMMIT returned.
    const committed: number[] = [];
    let writing = true;
    let next = 1;
    const writer = (async () => {
      const client = new pg.Client({ connectionString: server.url({ database: db }) });
      await client.connect();
      try {
        while (writing) {
          const n = 1 + (next % 3);
          const ids = Array.from({ length: n }, (_, i) => next + i);
          next += n;
          await client.query('BEGIN');
          for (const id of ids) await client.query('INSERT INTO clinic.ledger VALUES ($1, $2)', [id, `row ${id}`]);
          if (ids[0]! % 11 === 0) {
            await client.query('ROLLBACK');
          } else {
            await client.query('COMMIT');
            committed.push(...ids);
          }
        }
      } finally {
        await client.end();
      }
    })();

    let daemon: ChildProcess | null = null;
    try {
      for (let round = 0; round < 6; round++) {
        daemon = spawnCli(args);
        const before = (await stored(store)).length;
        // Let it make progress, then kill it at a random moment.
        await waitFor(async () => (await stored(store)).length > before, { what: `round ${round} progress`, timeoutMs: 30_000 });
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
        daemon.kill('SIGKILL');
        await exited(daemon);
      }
      writing = false;
      await writer;
      const expected = [...committed].sort((a, b) => a - b);
      expect(expected.length).toBeGreaterThan(100);
      daemon = spawnCli(args);
      await waitFor(
        async () => {
          const ids = new Set((await stored(store)).filter((e) => e.action === 'insert').map((e) => Number(e.object?.key?.['id'])));
          return expected.every((id) => ids.has(id));
        },
        { what: 'every committed row in the store', timeoutMs: 60_000 },
      );
      daemon.kill('SIGTERM');
      expect(await exited(daemon)).toBe(0);
      daemon = null;

      const events = await stored(store);
      const inserted = events.filter((e) => e.action === 'insert').map((e) => Number(e.object?.key?.['id']));
      expect(inserted.length).toBe(new Set(inserted).size);
      expect([...inserted].sort((a, b) => a - b)).toEqual(expected);
      expect(events.filter((e) => e.action === 'alert')).toEqual([]);
      expect(events.filter((e) => e.action === 'insert').every((e) => e.actor.identity === 'verified')).toBe(true);
      const verify = await runCli(['verify', store, '--public-key', join(keys, 'signing.pub')]);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    } finally {
      writing = false;
      await writer.catch(() => undefined);
      if (daemon !== null && daemon.exitCode === null) daemon.kill('SIGKILL');
    }
  }, 240_000);
});
