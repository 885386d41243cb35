/**
 * The native emitter's setup and doctor on real servers: the plan, --apply
 * where the library is installed and where it is not, the checks doctor
 * makes (library loads, configuration agrees), and the switch back. What it
 * writes is covered by the identity suite, which runs against both emitters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAdapter } from '../../adapters/postgres/index.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Finding } from '../../src/core/ports.js';
import { runCli, startPostgres, type PgServer } from '../harness/index.js';
import { buildNativeEmitter, nativeEmitterConfig } from '../harness/native-emitter.js';
import { applySetup, CLINIC_SQL, Collector, exec, pgConfig, unique } from './postgres-fixture.js';

const ctx = { logger: silentLogger() };
const db = 'ehr';
let withLib: PgServer;
let withoutLib: PgServer;

beforeAll(async () => {
  const dir = await buildNativeEmitter();
  [withLib, withoutLib] = await Promise.all([startPostgres({ database: db, config: nativeEmitterConfig(dir) }), startPostgres({ database: db })]);
  for (const s of [withLib, withoutLib]) for (const sql of CLINIC_SQL) await s.query(sql, [], { database: db });
});
afterAll(async () => {
  await withLib?.close();
  await withoutLib?.close();
});

function finding(findings: readonly Finding[], id: string): Finding {
  const f = findings.find((x) => x.id === id);
  if (f === undefined) throw new Error(`no finding ${id}`);
  return f;
}

const language = async (server: PgServer): Promise<string | undefined> =>
  (await server.query<{ l: string }>("SELECT l.lanname AS l FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.oid = 'dbwitness.emit_identity()'::regprocedure", [], { database: db }))[0]?.l;

describe('native identity emitter: setup and doctor', () => {
  it('the plan says what the native step needs; --identity-emitter reaches it from the command line', async () => {
    const plan = await postgresAdapter.planSetup(pgConfig(withLib, db, { identity_emitter: 'native', slot: unique('s') }), ctx);
    const step = plan.steps.find((s) => s.title === 'Identity emitter function (native)');
    expect(step?.sql.join('\n')).toMatch(/CREATE OR REPLACE FUNCTION "dbwitness"\.emit_identity\(\) RETURNS trigger\s+LANGUAGE c SECURITY INVOKER AS 'dbwitness_emitter', 'dbwitness_emit_identity'/);
    expect(step?.why).toContain('make install');
    const cli = await runCli(['setup', 'postgres', '--url', withLib.url({ database: db }), '--tables', 'clinic.patients', '--identity-emitter', 'native']);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain("LANGUAGE c SECURITY INVOKER AS 'dbwitness_emitter'");
    const bad = await runCli(['setup', 'postgres', '--url', withLib.url({ database: db }), '--tables', 'clinic.patients', '--identity-emitter', 'C']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/identity_emitter/);
  });

  it('--apply where the library is missing fails at that step with the fix, and keeps the emitter in place', async () => {
    const slot = unique('s');
    await applySetup(pgConfig(withoutLib, db, { tables: ['clinic.patients'], slot }));
    expect(await language(withoutLib)).toBe('plpgsql');
    const err = await applySetup(pgConfig(withoutLib, db, { tables: ['clinic.patients'], slot, identity_emitter: 'native' })).then(
      () => null,
      (e: unknown) => e as { code?: string; message?: string; fix?: string },
    );
    expect(err).toMatchObject({ code: 'E_PG_SETUP_STEP', message: expect.stringContaining('Identity emitter function (native)') });
    expect(err?.fix).toMatch(/native emitter is not installed.*make install.*left as it was/s);
    expect(await language(withoutLib)).toBe('plpgsql');
    // Writes still work and are attributed by the PL/pgSQL emitter.
    await exec(withoutLib.url({ database: db }), ["INSERT INTO clinic.patients VALUES (1, 'M1', 'a', NULL, NULL)"]);
  });

  it('doctor: ok when installed and loadable, warns when the configuration disagrees, fails when the library is gone', async () => {
    const slot = unique('s');
    const config = pgConfig(withLib, db, { tables: ['clinic.patients', 'clinic.encounters'], slot, identity_emitter: 'native' });
    await applySetup(config);
    await applySetup(config); // idempotent
    expect(await language(withLib)).toBe('c');

    const healthy = await postgresAdapter.doctor(config, ctx);
    expect(healthy.filter((f) => f.status === 'fail')).toEqual([]);
    expect(finding(healthy, 'pg.emitter')).toMatchObject({ status: 'ok', detail: expect.stringContaining('dbwitness_emitter loads') });
    expect(finding(healthy, 'pg.setup_current')).toMatchObject({ status: 'ok', detail: expect.stringContaining('native emitter') });
    expect(finding(healthy, 'pg.identity_triggers').status).toBe('ok');

    // Not a superuser: the library cannot be loaded to check, and doctor says so rather than guessing.
    const asDaemon = await postgresAdapter.doctor({ ...config, url: withLib.url({ database: db, user: 'dbwitness_daemon' }) }, ctx);
    expect(finding(asDaemon, 'pg.emitter')).toMatchObject({ status: 'ok', detail: expect.stringContaining('not checked') });

    // Doctor without the setting (the default, plpgsql): the next setup --apply would replace the native emitter.
    const mismatch = await postgresAdapter.doctor({ ...config, identity_emitter: 'plpgsql' }, ctx);
    expect(finding(mismatch, 'pg.emitter')).toMatchObject({ status: 'warn', fix: expect.stringContaining('identity_emitter: native') });

    // The server can no longer find the library (as after an upgrade that lost it): every audited write fails, and doctor says so.
    await withLib.query("ALTER SYSTEM SET dynamic_library_path = '$libdir'", [], { database: db });
    await withLib.query('SELECT pg_reload_conf()', [], { database: db });
    try {
      await expect(exec(withLib.url({ database: db }), ["INSERT INTO clinic.patients VALUES (2, 'M2', 'b', NULL, NULL)"])).rejects.toThrow(/dbwitness_emitter/);
      const broken = await postgresAdapter.doctor(config, ctx);
      expect(finding(broken, 'pg.emitter')).toMatchObject({ status: 'fail', detail: expect.stringContaining('cannot load dbwitness_emitter'), fix: expect.stringContaining('make install') });
    } finally {
      await withLib.query('ALTER SYSTEM RESET dynamic_library_path', [], { database: db });
      await withLib.query('SELECT pg_reload_conf()', [], { database: db });
    }

    // The switch back: the PL/pgSQL emitter replaces it, and changes are attributed as before.
    await applySetup({ ...config, identity_emitter: 'plpgsql' });
    expect(await language(withLib)).toBe('plpgsql');
    expect(finding(await postgresAdapter.doctor({ ...config, identity_emitter: 'plpgsql' }, ctx), 'pg.emitter').status).toBe('ok');
    const collector = new Collector(config);
    try {
      await exec(withLib.url({ database: db }), ["INSERT INTO clinic.patients VALUES (3, 'M3', 'c', NULL, NULL)"], { appUser: 'back' });
      const tx = await collector.waitChange('patients', (c) => c.key?.['id'] === '3');
      expect(tx.identities[0]).toMatchObject({ db_user: 'postgres', app_user: 'back' });
      expect(tx.alerts).toEqual([]);
    } finally {
      await collector.stop();
    }
  });
});
