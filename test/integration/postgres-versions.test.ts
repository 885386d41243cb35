/**
 * The version matrix: the same compact scenario on every PostgreSQL major
 * the environment provides (DBWITNESS_PG_VERSIONS=14,18 narrows it).
 */
import { describe, expect, it } from 'vitest';
import { availablePgVersions, startPostgres } from '../harness/index.js';
import { applySetup, changesOf, CLINIC_SQL, Collector, exec, pgConfig, unique } from './postgres-fixture.js';

const versions = availablePgVersions().filter((v) => v >= 14);

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
