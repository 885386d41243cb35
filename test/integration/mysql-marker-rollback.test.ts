/**
 * The identity triggers on ONE connection across rollbacks: the per-row
 * guard reads the transactional marker row, so a rolled-back transaction or
 * a failed statement that took the marker with it never leaves a later
 * change of the same session unattributed; and a session that pre-sets the
 * triggers' variables cannot take another account's identity.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import type { MariaDbServer } from '../harness/index.js';
import type { SourceMessage } from '../../src/core/ports.js';
import type { BinlogSource } from '../../adapters/mysql/binlog-source.js';
import { applySetup, type Collector, sourceConfig, startClinic, startedCollector, stopAll, transactions } from './mysql-fixture.js';

describe('identity triggers on one session across rollbacks (MariaDB 10.11)', () => {
  let db: MariaDbServer;
  let source: BinlogSource;
  let c: Collector;
  beforeAll(async () => {
    db = await startClinic();
    await applySetup(sourceConfig(db));
    ({ source, c } = await startedCollector(sourceConfig(db)));
  });
  afterAll(() => stopAll(c, source, db));

  const session = (user: string): Promise<mysql.Connection> => mysql.createConnection({ host: '127.0.0.1', port: db.port, user, password: `${user}-pw` });
  const txWith = (id: string): SourceMessage[] | undefined => transactions(c.messages).find((t) => t.some((m) => m.kind === 'change' && m.change.key?.['id'] === id));
  const identityOf = async (id: string): Promise<unknown> => (await c.until(() => txWith(id), `transaction with patient ${id}`)).find((m) => m.kind === 'identity');

  it('marks the next transaction after a ROLLBACK, after a failed autocommit statement and after a failed statement inside a transaction', async () => {
    const s = await session('alice');
    try {
      await s.query("SET @dbwitness_app_user = 'dr.alice'");
      // 1. A transaction that marked, then rolled back; the session commits nothing in between.
      await s.beginTransaction();
      await s.query("INSERT INTO clinic.patients VALUES (100, 'M100', 'rolled back', NULL, NULL)");
      await s.rollback();
      await s.beginTransaction();
      await s.query("INSERT INTO clinic.patients VALUES (101, 'M101', 'after rollback', NULL, NULL)");
      await s.commit();
      // 2. Autocommit: the statement marks at its first row and fails at the second (duplicate key).
      await expect(s.query("INSERT INTO clinic.patients VALUES (102, 'M102', 'x', NULL, NULL), (101, 'dup', 'x', NULL, NULL)")).rejects.toThrow(/Duplicate entry/);
      await s.query("INSERT INTO clinic.patients VALUES (103, 'M103', 'after failed statement', NULL, NULL)");
      // 3. Inside a transaction: the first statement marks and fails; the transaction goes on.
      await s.beginTransaction();
      await expect(s.query("INSERT INTO clinic.patients VALUES (104, 'M104', 'x', NULL, NULL), (103, 'dup', 'x', NULL, NULL)")).rejects.toThrow(/Duplicate entry/);
      await s.query("INSERT INTO clinic.patients VALUES (105, 'M105', 'after failed statement in tx', NULL, NULL)");
      await s.commit();
    } finally {
      await s.end();
    }
    for (const id of ['101', '103', '105']) {
      expect(await identityOf(id)).toMatchObject({ identity: { db_user: 'alice', app_user: 'dr.alice' } });
    }
    expect(txWith('100')).toBeUndefined();
    expect(txWith('102')).toBeUndefined();
    expect(txWith('104')).toBeUndefined();
  });

  it('a session that pre-sets the trigger variables still gets its own user and address', async () => {
    const s = await session('bob');
    try {
      await s.query("SET @dbwitness_sid = 'forged', @dbwitness_client = '10.9.9.9:4242'");
      await s.query("INSERT INTO clinic.patients VALUES (200, 'M200', 'bob', NULL, NULL)");
    } finally {
      await s.end();
    }
    const id = (await identityOf('200')) as { identity: { db_user: string; client_addr: string } };
    expect(id.identity.db_user).toBe('bob');
    expect(id.identity.client_addr).toBe('127.0.0.1');
  });
});
