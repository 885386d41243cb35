import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MariaDbServer } from '../harness/index.js';
import type { SourceMessage } from '../../src/core/ports.js';
import type { BinlogSource } from '../../adapters/mysql/binlog-source.js';
import { applySetup, type Collector, execAs, sourceConfig, startClinic, startedCollector, stopAll, transactions } from './mysql-fixture.js';

describe('mysql source: identity from session markers (MariaDB 10.11)', () => {
  let db: MariaDbServer;
  let source: BinlogSource;
  let c: Collector;
  beforeAll(async () => {
    db = await startClinic();
    await applySetup(sourceConfig(db));
    ({ source, c } = await startedCollector(sourceConfig(db)));
  });
  afterAll(() => stopAll(c, source, db));

  function txWith(id: string): SourceMessage[] | undefined {
    return transactions(c.messages).find((t) => t.some((m) => m.kind === 'change' && m.change.key?.['id'] === id));
  }

  it('attributes each transaction to its account, client address and port, app user and session', async () => {
    const a = await execAs(db, 'alice', ["INSERT INTO clinic.patients VALUES (1, 'M1', 'Ann', '1980-01-02', 10.50)", "INSERT INTO clinic.encounters VALUES (1, 1, 'note', '2026-01-01 10:00:00.123456')", "UPDATE clinic.patients SET balance = 11.25 WHERE id = 1"], { localAddress: '127.0.0.2', appUser: 'dr.alice' });
    const b = await execAs(db, 'bob', ["INSERT INTO clinic.patients VALUES (2, 'M2', 'Ben', NULL, NULL)"], { localAddress: '127.0.0.3' });
    const ta = await c.until(() => txWith('1'), 'alice transaction');
    const tb = await c.until(() => txWith('2'), 'bob transaction');

    // Session ids are `<@@hostname>:<connection id>`, as in the server_audit log.
    const [{ h }] = (await db.query<{ h: string }>('SELECT @@hostname AS h')) as [{ h: string }];
    const ids = ta.filter((m) => m.kind === 'identity');
    expect(ids).toHaveLength(1); // once per transaction, though three rows in two tables fired triggers
    expect(ta[1]?.kind).toBe('identity'); // before every change of the transaction
    expect(ids[0]).toMatchObject({ identity: { db_user: 'alice', client_addr: '127.0.0.2', client_port: a.localPort, app_user: 'dr.alice', session_id: `${h}:${a.connId}` } });
    expect(ta.filter((m) => m.kind === 'change')).toHaveLength(3);
    // The marker row itself never reaches the trail.
    expect(c.changes().some((ch) => ch.table === 'session_marker')).toBe(false);
    expect(tb.find((m) => m.kind === 'identity')).toMatchObject({ identity: { db_user: 'bob', client_addr: '127.0.0.3', client_port: b.localPort, app_user: null, session_id: `${h}:${b.connId}` } });

    // The statement text is the user's, not the trigger's.
    const ins = ta.find((m) => m.kind === 'change' && m.change.table === 'patients' && m.change.action === 'insert');
    expect(ins).toMatchObject({ change: { statement: "INSERT INTO clinic.patients VALUES (1, 'M1', 'Ann', '1980-01-02', 10.50)" } });
    const upd = ta.find((m) => m.kind === 'change' && m.change.action === 'update');
    expect(upd).toMatchObject({ change: { columns: ['balance'], before: { balance: '10.50' }, after: { balance: '11.25' }, key: { id: '1' } } });
  });

  it('an app user with accents arrives exactly, whatever the connection character set', async () => {
    const appUser = 'Dr. Muñoz-Peña «ÿ»';
    await execAs(db, 'alice', ["INSERT INTO clinic.patients VALUES (30, 'M30', 'José Núñez', NULL, NULL)"], { appUser, charset: 'LATIN1_SWEDISH_CI' });
    await execAs(db, 'bob', ["INSERT INTO clinic.patients VALUES (31, 'M31', 'Zoë', NULL, NULL)"], { appUser, charset: 'UTF8MB4_GENERAL_CI' });
    for (const [id, name] of [['30', 'José Núñez'], ['31', 'Zoë']] as const) {
      const tx = await c.until(() => txWith(id), `transaction ${id}`);
      expect(tx.find((m) => m.kind === 'identity')).toMatchObject({ identity: { app_user: appUser } });
      expect(tx.find((m) => m.kind === 'change')).toMatchObject({ change: { after: { name } } });
    }
  });

  it('marks again after a rollback, and every transaction of a session separately', async () => {
    await execAs(db, 'alice', ["INSERT INTO clinic.patients VALUES (3, 'M3', 'Cy', NULL, NULL)"], { rollback: true });
    await execAs(db, 'alice', ["INSERT INTO clinic.patients VALUES (4, 'M4', 'Di', NULL, NULL)", "DELETE FROM clinic.patients WHERE id = 2"]);
    const t = await c.until(() => txWith('4'), 'transaction after rollback');
    expect(t.find((m) => m.kind === 'identity')).toMatchObject({ identity: { db_user: 'alice' } });
    expect(txWith('3')).toBeUndefined(); // rolled back: never delivered
    const del = t.find((m) => m.kind === 'change' && m.change.action === 'delete');
    expect(del).toMatchObject({ change: { key: { id: '2' }, before: { id: '2', mrn: 'M2' }, after: null } });
  });

  it('delivers changes without identity when the triggers were dropped (evasion), and DDL as its own event', async () => {
    const trig = await db.query<{ n: string }>("SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_TABLE = 'patients'");
    for (const t of trig) await db.query(`DROP TRIGGER clinic.\`${t.n}\``);
    await execAs(db, 'alice', ["INSERT INTO clinic.patients VALUES (5, 'M5', 'Ed', NULL, NULL)"]);
    const t = await c.until(() => txWith('5'), 'unattributed transaction');
    expect(t.some((m) => m.kind === 'identity')).toBe(false);
    const ddl = await c.until(() => c.changes().filter((ch) => ch.action === 'ddl' && /DROP TRIGGER/i.test(ch.statement ?? '')), 'drop trigger ddl');
    expect(ddl).toHaveLength(3);
    await applySetup(sourceConfig(db));
    await execAs(db, 'bob', ["INSERT INTO clinic.patients VALUES (6, 'M6', 'Flo', NULL, NULL)"]);
    const t6 = await c.until(() => txWith('6'), 'attributed again');
    expect(t6.find((m) => m.kind === 'identity')).toMatchObject({ identity: { db_user: 'bob' } });
  });

  it('records TRUNCATE, which the binlog holds as a statement, as a truncate of its table', async () => {
    await db.query('TRUNCATE TABLE clinic.encounters');
    const t = await c.until(() => c.changes().find((ch) => ch.action === 'truncate'), 'truncate event');
    expect(t).toMatchObject({ schema: 'clinic', table: 'encounters', statement: 'TRUNCATE TABLE clinic.encounters' });
  });

  it('reports progress with idle checkpoints from server heartbeats while nothing is written', async () => {
    const idles = (): number => c.messages.filter((m) => m.kind === 'idle').length;
    const before = idles();
    // heartbeat_seconds is 1 in these tests: two heartbeats within a few seconds.
    await c.until(() => idles() >= before + 2, 'heartbeat idles', 10_000);
    expect(source.reconnects).toBe(0); // the watchdog never saw silence
  });

  it('commits carry GTID positions, advancing checkpoints and second-precision commit times', async () => {
    const commits = c.commits();
    expect(commits.length).toBeGreaterThan(3);
    for (const m of commits) {
      expect(m.position).toMatch(/^0-\d+-\d+$/);
      expect(m.checkpoint).toBe(`mariadb-gtid:${m.position}`);
      expect(m.commitTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$/);
    }
    const seqs = commits.map((m) => BigInt(m.position.split('-')[2]!));
    expect([...seqs].sort((a, b) => (a < b ? -1 : 1))).toEqual(seqs);
  });
});
