/**
 * A database whose encoding is not UTF-8. pgoutput converts row values and
 * names to the replication connection's encoding, but sends a logical
 * message's bytes as stored, so the identity and DDL messages must be
 * written as UTF-8 by the emitter itself: otherwise a clinician's name
 * with an accent arrives garbled (or forged-looking) in the audit trail.
 * Both emitters: the PL/pgSQL one (convert_to) and the native one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../harness/index.js';
import { buildNativeEmitter, nativeEmitterConfig } from '../harness/native-emitter.js';
import { applySetup, changesOf, CLINIC_SQL, Collector, exec, pgConfig, unique } from './postgres-fixture.js';

describe.each(['plpgsql', 'native'] as const)('postgres, LATIN1 database (%s emitter)', (emitter) => {
  let server: PgServer;
  let collector: Collector;
  const db = 'latin';

  beforeAll(async () => {
    server = await startPostgres({ config: emitter === 'native' ? nativeEmitterConfig(await buildNativeEmitter()) : {} });
    await server.query(`CREATE DATABASE ${db} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
    const q = (sql: string): Promise<unknown> => server.query(sql, [], { database: db });
    expect(await q('SHOW server_encoding')).toEqual([{ server_encoding: 'LATIN1' }]);
    for (const sql of CLINIC_SQL) await q(sql);
    await q('CREATE ROLE alice LOGIN');
    await q('GRANT USAGE, CREATE ON SCHEMA clinic TO alice');
    await q('GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA clinic TO alice');
    await q('ALTER TABLE clinic.patients OWNER TO alice');
    const config = pgConfig(server, db, { slot: unique('s'), identity_emitter: emitter });
    await applySetup(config);
    collector = new Collector(config);
  });
  afterAll(async () => {
    await collector?.stop();
    await server?.close();
  });

  it('app user, row values and DDL text with accents arrive exactly, and the session id still verifies', async () => {
    const url = server.url({ database: db, user: 'alice' });
    const appUser = 'Dr. Muñoz-Peña «ÿ»';
    await exec(url, ["INSERT INTO clinic.patients VALUES (1, 'MRN1', 'José Núñez', NULL, NULL)"], { application: 'ehr-web', appUser });
    const ins = await collector.waitChange('patients', (c) => c.key?.['id'] === '1');
    expect(ins.identities[0]).toMatchObject({ db_user: 'alice', app_user: appUser, application: 'ehr-web' });
    expect(ins.identities[0]?.session_id).toMatch(/^[0-9a-f]+\.[0-9a-f]+$/);
    expect(ins.alerts).toEqual([]);
    expect(changesOf(ins)[0]?.after).toMatchObject({ name: 'José Núñez' });

    await exec(url, ["COMMENT ON TABLE clinic.patients IS 'Pacientes del año'"], { appUser });
    const ddl = await collector.waitTx((tx) => tx.items.some((i) => i.change.action === 'ddl'));
    expect(changesOf(ddl)[0]?.statement).toBe("COMMENT ON TABLE clinic.patients IS 'Pacientes del año'");
    expect(ddl.identities[0] ?? ddl.items[0]?.identity).toMatchObject({ app_user: appUser });
    expect(collector.alerts).toEqual([]);
  });
});
