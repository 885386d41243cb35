/**
 * Setup plan, --apply (twice), doctor and --uninstall on a real server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAdapter } from '../../adapters/postgres/index.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Finding } from '../../src/core/ports.js';
import { startPostgres, type PgServer } from '../harness/index.js';
import { applySetup, CLINIC_SQL, Collector, exec, pgConfig, unique } from './postgres-fixture.js';

const ctx = { logger: silentLogger() };
let server: PgServer;

beforeAll(async () => {
  server = await startPostgres({ database: 'ehr' });
  for (const sql of CLINIC_SQL) await server.query(sql, [], { database: 'ehr' });
  await server.query('CREATE SCHEMA "Odd ""Schema"""', [], { database: 'ehr' });
  await server.query('CREATE TABLE "Odd ""Schema"""."Lab Results; DROP TABLE x" (id int PRIMARY KEY, v text)', [], { database: 'ehr' });
});
afterAll(async () => {
  await server?.close();
});

function byId(findings: readonly Finding[], id: string): Finding {
  const f = findings.find((x) => x.id === id);
  if (f === undefined) throw new Error(`no finding ${id}`);
  return f;
}

describe('postgres setup', () => {
  it('prints a reviewable plan with quoted hostile names and no password', async () => {
    const config = pgConfig(server, 'ehr', { tables: ['clinic.patients', '"Odd ""Schema"""."Lab Results; DROP TABLE x"'], slot: unique('s') });
    const plan = await postgresAdapter.planSetup(config, ctx);
    const sql = plan.steps.flatMap((s) => s.sql).join('\n');
    expect(sql).toContain('"Odd ""Schema"""."Lab Results; DROP TABLE x"');
    expect(sql).toContain('REPLICA IDENTITY FULL');
    expect(sql).toContain("ALTER ROLE \"dbwitness_daemon\" PASSWORD :'DBWITNESS_DAEMON_PASSWORD'");
    expect(sql).toMatch(/REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC/);
    expect(plan.steps.every((s) => s.why.length > 0)).toBe(true);
  });

  it('rejects a table that does not exist with a fix', async () => {
    const config = pgConfig(server, 'ehr', { tables: ['clinic.nope'] });
    await expect(postgresAdapter.planSetup(config, ctx)).rejects.toMatchObject({ code: 'E_PG_TABLE_MISSING' });
  });

  it('applies idempotently, passes doctor, and uninstalls everything', async () => {
    const slot = unique('s');
    const config = pgConfig(server, 'ehr', { tables: ['clinic.patients', 'clinic.encounters', '"Odd ""Schema"""."Lab Results; DROP TABLE x"'], slot });
    process.env['DBWITNESS_DAEMON_PASSWORD'] = "pa'ss\\word";
    try {
      await applySetup(config);
      await applySetup(config); // idempotent
    } finally {
      delete process.env['DBWITNESS_DAEMON_PASSWORD'];
    }
    const q = <T>(sql: string): Promise<T[]> => server.query<T>(sql, [], { database: 'ehr' });
    expect(await q(`SELECT slot_name FROM pg_replication_slots WHERE slot_name = '${slot}'`)).toHaveLength(1);
    const pubTables = await q<{ tablename: string }>("SELECT tablename FROM pg_publication_tables WHERE pubname = 'dbwitness' ORDER BY 1");
    expect(pubTables.map((r) => r.tablename)).toEqual(['Lab Results; DROP TABLE x', 'encounters', 'patients']);
    const trig = await q<{ tgenabled: string }>("SELECT tgenabled FROM pg_trigger WHERE tgname = 'dbwitness_identity'");
    expect(trig.map((r) => r.tgenabled)).toEqual(['A', 'A', 'A']);
    const pub = await q<{ x: boolean }>("SELECT bool_or(has_function_privilege('public', oid, 'EXECUTE')) AS x FROM pg_proc WHERE proname = 'pg_logical_emit_message'");
    expect(pub[0]?.x).toBe(false);
    // The daemon's password came from the environment, quotes and backslash intact.
    const asDaemon = await server.query<{ u: string }>('SELECT current_user AS u', [], { user: 'dbwitness_daemon', password: "pa'ss\\word", database: 'ehr' });
    expect(asDaemon[0]?.u).toBe('dbwitness_daemon');

    const findings = await postgresAdapter.doctor(pgConfig(server, 'ehr', { ...config, url: server.url({ database: 'ehr', user: 'dbwitness_daemon' }) }), ctx);
    const failing = findings.filter((f) => f.status === 'fail');
    expect(failing).toEqual([]);
    expect(byId(findings, 'pg.identity_triggers').status).toBe('ok');
    expect(byId(findings, 'pg.tls').status).toBe('warn');
    expect(byId(findings, 'pg.setup_current')).toMatchObject({ status: 'ok', detail: expect.stringContaining('6 function(s)') });

    // Break things a DBA might break; doctor must say so, with a fix.
    await q('ALTER TABLE clinic.patients DISABLE TRIGGER dbwitness_identity');
    await q('ALTER TABLE clinic.encounters REPLICA IDENTITY DEFAULT');
    await q('GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO PUBLIC');
    // The trigger runs as the writer: without these grants every write to an audited table fails.
    await q('REVOKE EXECUTE ON FUNCTION dbwitness.emit_session_identity() FROM PUBLIC');
    // Whoever reads the key can sign a session id of their choosing.
    const [key] = await q<{ k: string }>('SELECT k FROM dbwitness.session_key');
    expect(key?.k).toMatch(/^[0-9a-f-]{72}$/);
    await q('GRANT SELECT ON dbwitness.session_key TO PUBLIC');
    const broken = await postgresAdapter.doctor(config, ctx);
    expect(byId(broken, 'pg.session_key')).toMatchObject({ status: 'fail', detail: expect.stringContaining('PUBLIC may read') });
    expect(byId(broken, 'pg.emitter')).toMatchObject({ status: 'fail', detail: expect.stringContaining('EXECUTE on emit_session_identity()') });
    expect(byId(broken, 'pg.identity_triggers')).toMatchObject({ status: 'fail', detail: expect.stringContaining('"clinic"."patients" (disabled)') });
    expect(byId(broken, 'pg.replica_identity')).toMatchObject({ status: 'fail', detail: expect.stringContaining('"clinic"."encounters"') });
    expect(byId(broken, 'pg.emit_message_revoked').status).toBe('fail');
    expect(broken.filter((f) => f.status !== 'ok').every((f) => (f.fix ?? '').length > 0)).toBe(true);
    await applySetup(config);
    const fixed = await postgresAdapter.doctor(config, ctx);
    expect(fixed.filter((f) => f.status === 'fail')).toEqual([]);
    // Setup keeps the key, so session ids cached by open sessions stay valid.
    expect((await q<{ k: string }>('SELECT k FROM dbwitness.session_key'))[0]?.k).toBe(key?.k);
    await q('REVOKE SELECT ON dbwitness.session_key FROM dbwitness_daemon');
    expect(byId(await postgresAdapter.doctor(config, ctx), 'pg.session_key')).toMatchObject({ status: 'fail', fix: expect.stringContaining('GRANT SELECT') });
    await q('DROP TABLE dbwitness.session_key');
    expect(byId(await postgresAdapter.doctor(config, ctx), 'pg.session_key')).toMatchObject({ status: 'fail', detail: expect.stringContaining('does not exist') });
    // Writes do not fail without the key; they are only slower and unsigned.
    await q("INSERT INTO clinic.patients VALUES (99, 'M99', 'no key', NULL, NULL)");
    await applySetup(config);
    // A function from an older setup (here: the DDL message before it was written as UTF-8) is named, with the fix.
    const [def] = await q<{ d: string }>("SELECT pg_get_functiondef('dbwitness.on_sql_drop()'::regprocedure) AS d");
    const older = def!.d.replace('convert_to(json_build_object(', 'json_build_object(').replace(")::text, 'UTF8'));", ')::text);');
    expect(older).not.toBe(def!.d);
    await q(older);
    expect(byId(await postgresAdapter.doctor(config, ctx), 'pg.setup_current')).toMatchObject({ status: 'warn', detail: expect.stringMatching(/^dbwitness\.on_sql_drop\(\) differ/), fix: expect.stringContaining('--apply') });
    await applySetup(config);
    expect(byId(await postgresAdapter.doctor(config, ctx), 'pg.setup_current').status).toBe('ok');
    // An older setup (a SECURITY DEFINER trigger function) still attributes every change: a warning to re-run setup.
    await q('ALTER FUNCTION dbwitness.emit_identity() SECURITY DEFINER');
    await q('DROP FUNCTION dbwitness.emit_session_identity()');
    expect(byId(await postgresAdapter.doctor(config, ctx), 'pg.emitter')).toMatchObject({ status: 'warn', fix: expect.stringContaining('setup') });

    const uninstall = await postgresAdapter.planUninstall(config, ctx);
    await postgresAdapter.applyPlan(config, uninstall, ctx);
    expect(await q(`SELECT 1 FROM pg_replication_slots WHERE slot_name = '${slot}'`)).toHaveLength(0);
    expect(await q("SELECT 1 FROM pg_publication WHERE pubname = 'dbwitness'")).toHaveLength(0);
    expect(await q("SELECT 1 FROM pg_trigger WHERE tgname = 'dbwitness_identity'")).toHaveLength(0);
    expect(await q("SELECT 1 FROM pg_event_trigger WHERE evtname LIKE 'dbwitness%'")).toHaveLength(0);
    expect(await q("SELECT 1 FROM pg_roles WHERE rolname LIKE 'dbwitness%'")).toHaveLength(0);
    expect(await q("SELECT 1 FROM pg_namespace WHERE nspname = 'dbwitness'")).toHaveLength(0);
    const restored = await q<{ x: boolean }>("SELECT bool_and(has_function_privilege('public', oid, 'EXECUTE')) AS x FROM pg_proc WHERE proname = 'pg_logical_emit_message'");
    expect(restored[0]?.x).toBe(true);
  });

  it('schema scope: tables created later and partitions attached later are covered', async () => {
    await server.query('CREATE DATABASE ward');
    const q = (sql: string): Promise<unknown> => server.query(sql, [], { database: 'ward' });
    await q('CREATE SCHEMA ward');
    await q('CREATE TABLE ward.beds (id int PRIMARY KEY, patient text)');
    await q('CREATE TABLE ward.stays (id int, day date NOT NULL, PRIMARY KEY (id, day)) PARTITION BY RANGE (day)');
    const config = pgConfig(server, 'ward', { tables: [], schemas: ['ward'], slot: unique('s') });
    await applySetup(config);
    const c = new Collector(config);
    try {
      const url = server.url({ database: 'ward' });
      await exec(url, ['CREATE TABLE ward.transfers (id int PRIMARY KEY, note text)']);
      await exec(url, ["CREATE TABLE ward.stays_2026 (id int, day date NOT NULL, PRIMARY KEY (id, day))", "ALTER TABLE ward.stays ATTACH PARTITION ward.stays_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"]);
      await exec(url, ["INSERT INTO ward.transfers VALUES (1, 'to ICU')"], { application: 'adt' });
      await exec(url, ["INSERT INTO ward.stays_2026 VALUES (7, '2026-11-26')"], { application: 'adt' });
      const transfer = await c.waitChange('transfers');
      expect(transfer.items[0]).toMatchObject({ identity: { application: 'adt' }, change: { action: 'insert', key: { id: '1' } } });
      const stay = await c.waitChange('stays');
      expect(stay.items[0]).toMatchObject({ identity: { application: 'adt' }, change: { table: 'stays', key: { id: '7', day: '2026-11-26' } } });
      const trig = await server.query<{ rel: string; tgenabled: string }>("SELECT tgrelid::regclass::text AS rel, tgenabled FROM pg_trigger WHERE tgname = 'dbwitness_identity' ORDER BY 1", [], { database: 'ward' });
      expect(trig).toEqual([
        { rel: 'ward.beds', tgenabled: 'A' },
        { rel: 'ward.stays', tgenabled: 'A' },
        { rel: 'ward.stays_2026', tgenabled: 'A' },
        { rel: 'ward.transfers', tgenabled: 'A' },
      ]);
    } finally {
      await c.stop();
    }
  });
});
