/**
 * The version matrix: the same compact scenario on every PostgreSQL major
 * the environment provides (DBWITNESS_PG_VERSIONS=14,18 narrows it), and
 * the native identity emitter on every major it can be built for here
 * (15 with Debian's headers; others with headers test/install-servers.sh
 * fetches from Debian: 17 and 18; 14 and 16 have none in Debian's
 * archive, so the native emitter is not tested on them).
 */
import { describe, expect, it } from 'vitest';
import { availablePgVersions, startPostgres } from '../harness/index.js';
import { buildNativeEmitter, nativeEmitterConfig, nativeEmitterVersions } from '../harness/native-emitter.js';
import { postgresAdapter } from '../../adapters/postgres/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { applySetup, changesOf, CLINIC_SQL, Collector, exec, pgConfig, unique } from './postgres-fixture.js';

const versions = availablePgVersions().filter((v) => v >= 14);
const nativeVersions = new Set(nativeEmitterVersions());

describe.each(versions)('PostgreSQL %i', (version) => {
  it('setup, attributed insert/update/delete, truncate and DDL', async () => {
    await using server = await startPostgres({ version, database: 'ehr' });
    for (const sql of CLINIC_SQL) await server.query(sql, [], { database: 'ehr' });
    await server.query('CREATE ROLE alice LOGIN', [], { database: 'ehr' });
    await server.query('GRANT USAGE ON SCHEMA clinic TO alice; GRANT ALL ON ALL TABLES IN SCHEMA clinic TO alice', [], { database: 'ehr' });
    const config = pgConfig(server, 'ehr', { slot: unique('s') });
    await applySetup(config);
    await applySetup(config);
    const c = new Collector(config);
    try {
      const url = server.url({ database: 'ehr', user: 'alice' });
      await exec(url, ["INSERT INTO clinic.patients VALUES (1, 'M1', 'Ann', '2001-02-03', 1.10)", "UPDATE clinic.patients SET balance = 2.20 WHERE id = 1"], { application: `v${version}`, appUser: 'nurse' });
      await exec(url, ['DELETE FROM clinic.patients WHERE id = 1']);
      await exec(url, ['TRUNCATE clinic.prescriptions']);
      await exec(server.url({ database: 'ehr' }), ['ALTER TABLE clinic.prescriptions ADD COLUMN note text']);
      await expect(exec(url, [`SELECT pg_logical_emit_message(true, 'dbwitness', '{}')`])).rejects.toMatchObject({ code: '42501' });

      const first = await c.waitChange('patients', (ch) => ch.action === 'update');
      expect(first.identities[0]).toMatchObject({ db_user: 'alice', app_user: 'nurse', application: `v${version}`, client_addr: '127.0.0.1' });
      expect(changesOf(first).map((ch) => [ch.action, ch.key?.['id']])).toEqual([
        ['insert', '1'],
        ['update', '1'],
      ]);
      expect(changesOf(first)[1]?.before?.['balance']).toBe('1.10');
      const del = await c.waitChange('patients', (ch) => ch.action === 'delete');
      expect(del.items[0]?.identity?.db_user).toBe('alice');
      const trunc = await c.waitChange('prescriptions', (ch) => ch.action === 'truncate');
      expect(trunc.items[0]?.identity?.db_user).toBe('alice');
      // The second --apply's own DDL is in the stream too; find the ALTER TABLE.
      const ddl = await c.waitTx((t) => t.items.some((i) => i.change.detail?.['command_tag'] === 'ALTER TABLE' && i.change.detail['object_identity'] === 'clinic.prescriptions'));
      expect(ddl.items.find((i) => i.change.action === 'ddl')).toMatchObject({ identity: { db_user: 'postgres' }, change: { detail: { command_tag: 'ALTER TABLE', object_identity: 'clinic.prescriptions' } } });
    } finally {
      await c.stop();
    }
  });
});

describe.each(versions)('PostgreSQL %i, native identity emitter', (version) => {
  it.skipIf(!nativeVersions.has(version))(`builds, loads and attributes (needs PostgreSQL ${version} server headers)`, async () => {
    await using server = await startPostgres({ version, database: 'ehr', config: nativeEmitterConfig(await buildNativeEmitter(version)) });
    const q = (sql: string): Promise<unknown> => server.query(sql, [], { database: 'ehr' });
    for (const sql of CLINIC_SQL) await q(sql);
    await q('CREATE ROLE alice LOGIN; CREATE ROLE clinician NOLOGIN; GRANT clinician TO alice');
    await q('GRANT USAGE ON SCHEMA clinic TO alice, clinician; GRANT ALL ON ALL TABLES IN SCHEMA clinic TO alice, clinician');
    const config = pgConfig(server, 'ehr', { slot: unique('s'), identity_emitter: 'native' });
    await applySetup(config);
    const doctor = await postgresAdapter.doctor(config, { logger: silentLogger() });
    expect(doctor.find((f) => f.id === 'pg.emitter')).toMatchObject({ status: 'ok' });
    const c = new Collector(config);
    try {
      const url = server.url({ database: 'ehr', user: 'alice' });
      await exec(
        url,
        [
          "INSERT INTO clinic.patients VALUES (1, 'M1', 'as alice', NULL, NULL)",
          'SET ROLE clinician',
          "INSERT INTO clinic.patients VALUES (2, 'M2', 'as clinician', NULL, NULL)",
          'SAVEPOINT s',
          'RESET ROLE',
          "INSERT INTO clinic.patients VALUES (3, 'M3', 'rolled back', NULL, NULL)",
          'ROLLBACK TO SAVEPOINT s',
          "INSERT INTO clinic.patients VALUES (4, 'M4', 'clinician again', NULL, NULL)",
        ],
        { application: `native-v${version}`, appUser: 'nurse' },
      );
      const tx = await c.waitChange('patients', (ch) => ch.key?.['id'] === '4');
      expect(tx.items.map((i) => [i.change.key?.['id'], i.identity?.db_user, i.identity?.role])).toEqual([
        ['1', 'alice', 'alice'],
        ['2', 'alice', 'clinician'],
        ['4', 'alice', 'clinician'],
      ]);
      expect(tx.items[0]?.identity).toMatchObject({ app_user: 'nurse', application: `native-v${version}`, client_addr: '127.0.0.1' });
      expect(tx.items[0]?.identity?.session_id).toMatch(/^[0-9a-f]+\.[0-9a-f]+$/);
      expect(tx.alerts).toEqual([]);
      // A superuser acting as alice: its own login, with the alert.
      await exec(server.url({ database: 'ehr' }), ['SET SESSION AUTHORIZATION alice', "INSERT INTO clinic.patients VALUES (5, 'M5', 'impersonated', NULL, NULL)"]);
      const imp = await c.waitChange('patients', (ch) => ch.key?.['id'] === '5');
      expect(imp.items[0]?.identity).toMatchObject({ db_user: 'postgres', role: 'alice' });
      expect(imp.alerts.map((a) => a.code)).toEqual(['identity_session_authorization']);
    } finally {
      await c.stop();
    }
  });
});
