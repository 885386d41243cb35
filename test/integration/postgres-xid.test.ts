/**
 * Transaction ids above 2^31: pgoutput sends xid as an unsigned 32-bit
 * number; a signed read would make them negative. The cluster is moved
 * past 2^31 with pg_resetwal -x in two steps (each under the wraparound
 * limit, with VACUUM FREEZE in between), as the PostgreSQL docs describe.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../harness/index.js';
import { applySetup, CLINIC_SQL, Collector, exec, pgConfig, unique } from './postgres-fixture.js';

let server: PgServer;
const db = 'ehr';

/** Sets the next xid of a stopped cluster and gives it the zeroed pg_xact segment it needs. */
function resetXid(xid: number): void {
  const { uid, gid } = statSync(server.dataDir);
  const segment = Math.floor(xid / 1_048_576).toString(16).toUpperCase().padStart(4, '0');
  const file = join(server.dataDir, 'pg_xact', segment);
  writeFileSync(file, Buffer.alloc(256 * 1024));
  chownSync(file, uid, gid);
  execFileSync(join(server.binDir, 'pg_resetwal'), ['-x', String(xid), '-D', server.dataDir], { uid, gid, stdio: 'pipe' });
}

async function freezeAll(): Promise<void> {
  await server.query('ALTER DATABASE template0 ALLOW_CONNECTIONS true');
  for (const name of ['template0', 'template1', 'postgres', db]) await server.query('VACUUM FREEZE', [], { database: name });
  await server.query('ALTER DATABASE template0 ALLOW_CONNECTIONS false');
}

beforeAll(async () => {
  server = await startPostgres({ version: 15, database: db });
  await server.stop('fast');
  resetXid(1_100_000_000);
  await server.start();
  await freezeAll();
  await server.stop('fast');
  resetXid(2_200_000_000);
  await server.start();
  for (const sql of CLINIC_SQL) await server.query(sql, [], { database: db });
}, 180_000);
afterAll(async () => {
  await server?.close();
});

describe('postgres xids above 2^31', () => {
  it('reports the transaction id unsigned, as the server does', async () => {
    const config = pgConfig(server, db, { slot: unique('s') });
    await applySetup(config);
    const c = new Collector(config);
    try {
      await exec(server.url({ database: db }), ["INSERT INTO clinic.patients VALUES (1, 'M', 'n', NULL, NULL)"]);
      const tx = await c.waitChange('patients');
      const [row] = await server.query<{ x: string }>('SELECT xmin::text AS x FROM clinic.patients WHERE id = 1', [], { database: db });
      expect(BigInt(tx.txId)).toBeGreaterThan(2n ** 31n);
      expect(tx.txId).toBe(row?.x);
    } finally {
      await c.stop();
    }
  });
});
