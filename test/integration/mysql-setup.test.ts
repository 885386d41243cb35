import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MariaDbServer } from '../harness/index.js';
import { mysqlAdapter } from '../../adapters/mysql/index.js';
import { MysqlSourceConfig } from '../../adapters/mysql/mysql-config.js';
import { applySetup, ctx, REPL_PASSWORD, sourceConfig, startClinic } from './mysql-fixture.js';
import mysql from 'mysql2/promise';

describe('mysql setup, doctor, uninstall (MariaDB 10.11)', () => {
  let db: MariaDbServer;
  beforeAll(async () => {
    db = await startClinic();
    // A hostile table name: backticks, quotes, a dot and a space.
    await db.query('CREATE TABLE clinic.`we``ird.ta\'ble x` (id INT PRIMARY KEY, v VARCHAR(10))');
  });
  afterAll(async () => {
    await db?.close();
  });

  it('prints a plan without the password, applies it idempotently, and doctor turns green', async () => {
    const config = sourceConfig(db);
    const before = await mysqlAdapter.doctor(config, ctx);
    expect(before.find((f) => f.id === 'mysql.triggers')?.status).toBe('fail');
    expect(before.find((f) => f.id === 'mysql.account')?.status).toBe('fail');
    expect(before.find((f) => f.id === 'mysql.log_bin')?.status).toBe('ok');

    const plan = await mysqlAdapter.planSetup(config, ctx);
    const text = JSON.stringify(plan);
    expect(text).not.toContain(REPL_PASSWORD);
    expect(text).toContain('<password from $DBWITNESS_MYSQL_PASSWORD>');
    expect(text).toContain('BINLOG MONITOR');

    await applySetup(config);
    await applySetup(config); // idempotent: a second apply changes nothing and does not fail

    const after = await mysqlAdapter.doctor(config, ctx);
    const byId = new Map(after.map((f) => [f.id, f]));
    expect(byId.get('mysql.triggers')?.status).toBe('ok');
    expect(byId.get('mysql.marker')?.status).toBe('ok');
    expect(byId.get('mysql.account')?.status).toBe('ok');
    expect(byId.get('mysql.binlog_format')?.status).toBe('ok');
    expect(byId.get('mysql.tls')?.status).toBe('warn'); // no TLS on the private test server
    for (const f of after) if (f.status !== 'ok') expect(f.fix, f.id).toBeTruthy();

    // The replication account works with exactly the granted privileges.
    const repl = await mysql.createConnection({ host: '127.0.0.1', port: db.port, user: 'dbwitness', password: REPL_PASSWORD });
    const [logs] = await repl.query('SHOW BINARY LOGS');
    expect((logs as unknown[]).length).toBeGreaterThan(0);
    await repl.end();
  });

  it('quotes hostile table names and uninstalls everything it created', async () => {
    const config = MysqlSourceConfig.parse({ id: 'weird', url: db.url(), tables: ['`clinic`.`we``ird.ta\'ble x`'] });
    await applySetup(config);
    const trig = await db.query<{ n: string }>("SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_TABLE = 'we`ird.ta''ble x'");
    expect(trig).toHaveLength(3);
    // The trigger fires and writes a marker.
    await db.query("INSERT INTO clinic.`we``ird.ta'ble x` VALUES (1, 'a')");
    const [m] = await db.query<{ n: string }>('SELECT COUNT(*) AS n FROM dbwitness.session_marker');
    expect(Number(m?.n)).toBeGreaterThan(0);

    const uninstall = await mysqlAdapter.planUninstall(sourceConfig(db), ctx);
    await mysqlAdapter.applyPlan(sourceConfig(db), uninstall, ctx);
    const left = await db.query("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_NAME LIKE 'dbwitness%'");
    expect(left).toHaveLength(0);
    const users = await db.query("SELECT User FROM mysql.user WHERE User IN ('dbwitness', 'dbwitness_marker')");
    expect(users).toHaveLength(0);
    const doc = await mysqlAdapter.doctor(sourceConfig(db), ctx);
    expect(doc.find((f) => f.id === 'mysql.triggers')?.status).toBe('fail');
  });

  it("reads the audited tables' columns, the hostile name included, for doctor's policy checks", async () => {
    const cols = await mysqlAdapter.auditedColumns!(sourceConfig(db, { tables: [], schemas: ['clinic'] }), ctx);
    expect(cols.get('clinic.patients')).toEqual(['id', 'mrn', 'name', 'dob', 'balance']);
    expect(cols.get('clinic.encounters')).toEqual(['id', 'patient_id', 'note', 'seen_at']);
    expect(cols.get("clinic.we`ird.ta'ble x")).toEqual(['id', 'v']);
    await expect(mysqlAdapter.auditedColumns!(sourceConfig(db, { tables: ['clinic.nope'] }), ctx)).rejects.toMatchObject({ code: 'E_MYSQL_TABLE_MISSING' });
  });

  it('refuses to apply without the password variable and names the fix', async () => {
    const config = sourceConfig(db, { replication_password_env: 'DBWITNESS_TEST_UNSET_PW' });
    const plan = await mysqlAdapter.planSetup(config, ctx);
    await expect(mysqlAdapter.applyPlan(config, plan, ctx)).rejects.toMatchObject({ code: 'E_MYSQL_PASSWORD_ENV' });
  });
});
