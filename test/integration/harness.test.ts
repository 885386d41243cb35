/**
 * The harness itself, on real servers: every PostgreSQL major present starts
 * with logical decoding enabled, survives a crash-restart with its data, and
 * leaves nothing behind when closed.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { availablePgVersions, startPostgres, waitFor } from '../harness/index.js';

describe('postgres harness', () => {
  it('finds PostgreSQL 15 and at least one npm build', () => {
    const versions = availablePgVersions();
    expect(versions).toContain(15);
  });

  it.each(availablePgVersions())('PostgreSQL %i starts with wal_level=logical', async (version) => {
    await using pg = await startPostgres({ version });
    const [row] = await pg.query<{ server_version_num: string }>('show server_version_num');
    expect(Math.floor(Number(row?.server_version_num) / 10000)).toBe(version);
    const [wal] = await pg.query<{ wal_level: string }>('show wal_level');
    expect(wal?.wal_level).toBe('logical');
    const [slots] = await pg.query<{ max_replication_slots: string }>('show max_replication_slots');
    expect(Number(slots?.max_replication_slots)).toBeGreaterThanOrEqual(10);
  });

  it('keeps committed data across an immediate (crash) stop, then cleans up on close', async () => {
    const pg = await startPostgres({ database: 'clinic' });
    const dataDir = pg.dataDir;
    await pg.query('create table t (id int primary key)', [], { database: 'clinic' });
    await pg.query('insert into t values (1), (2)', [], { database: 'clinic' });
    await pg.stop('immediate');
    await expect(pg.query('select 1')).rejects.toThrow();
    await pg.start();
    const rows = await pg.query<{ n: string }>('select count(*) as n from t', [], { database: 'clinic' });
    expect(rows[0]?.n).toBe('2');
    await pg.restart();
    await waitFor(async () => (await pg.query('select 1 as ok'))[0], { what: 'restarted server' });
    await pg.close();
    await pg.close();
    expect(existsSync(dataDir)).toBe(false);
  });
});
