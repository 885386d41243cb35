/**
 * Who made each change: identity messages from the statement trigger,
 * decoded from a real slot, under the situations an auditor cares about.
 * Every case runs against both emitters: the PL/pgSQL one and the native
 * (C) one, which must write the same identity.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../harness/index.js';
import { buildNativeEmitter, nativeEmitterConfig } from '../harness/native-emitter.js';
import { applySetup, changesOf, CLINIC_SQL, Collector, exec, pgConfig, unique } from './postgres-fixture.js';

describe.each(['plpgsql', 'native'] as const)('postgres identity (%s emitter)', (emitter) => {
  let server: PgServer;
  let collector: Collector;
  const db = 'ehr';
  const url = (user = 'alice'): string => server.url({ database: db, user });
  const native = emitter === 'native';

  beforeAll(async () => {
    const libraryConfig = native ? nativeEmitterConfig(await buildNativeEmitter()) : {};
    server = await startPostgres({ database: db, config: { max_prepared_transactions: '5', ...libraryConfig } });
    const q = (sql: string): Promise<unknown> => server.query(sql, [], { database: db });
    for (const sql of CLINIC_SQL) await q(sql);
    await q('CREATE TABLE clinic.visits (id bigint, at date NOT NULL, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)');
    await q("CREATE TABLE clinic.visits_2025 PARTITION OF clinic.visits FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')");
    await q('CREATE TABLE clinic.untracked (id int PRIMARY KEY)');
    for (const role of ['alice', 'bob']) await q(`CREATE ROLE ${role} LOGIN`);
    await q('CREATE ROLE clinician NOLOGIN');
    await q('GRANT clinician TO alice');
    await q('GRANT USAGE, CREATE ON SCHEMA clinic TO alice, bob, clinician');
    await q('GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA clinic TO alice, bob, clinician');
    const config = pgConfig(server, db, { slot: unique('s'), tables: ['clinic.patients', 'clinic.encounters', 'clinic.prescriptions', 'clinic.visits'], identity_emitter: emitter });
    await applySetup(config);
    collector = new Collector(config);
  });
  afterAll(async () => {
    await collector?.stop();
    await server?.close();
  });


    it('attributes insert, update and delete over TCP with application and app user', async () => {
      await exec(url(), ["INSERT INTO clinic.patients VALUES (1, 'MRN1', 'Ann', '1980-02-03', 10.50)"], { application: 'ehr-web', appUser: 'dr.jones' });
      await exec(url(), ["UPDATE clinic.patients SET name = 'Anne' WHERE id = 1"], { application: 'ehr-web' });
      await exec(url('bob'), ['DELETE FROM clinic.patients WHERE id = 1']);
      const ins = await collector.waitChange('patients', (c) => c.action === 'insert' && c.key?.['id'] === '1');
      const id = ins.identities[0];
      expect(id).toMatchObject({ db_user: 'alice', role: 'alice', app_user: 'dr.jones', client_addr: '127.0.0.1', application: 'ehr-web' });
      expect(id?.client_port).toEqual(expect.any(Number));
      expect(id?.session_id).toMatch(/^[0-9a-f]+\.[0-9a-f]+$/);
      expect(changesOf(ins)[0]).toMatchObject({ schema: 'clinic', table: 'patients', key: { id: '1' }, before: null, after: { id: '1', mrn: 'MRN1', name: 'Ann', dob: '1980-02-03', balance: '10.50' } });
      const upd = await collector.waitChange('patients', (c) => c.action === 'update' && c.key?.['id'] === '1');
      expect(upd.identities[0]?.app_user).toBeNull();
      expect(changesOf(upd)[0]).toMatchObject({ columns: ['name'], before: { name: 'Ann', mrn: 'MRN1' }, after: { name: 'Anne', mrn: 'MRN1' } });
      const del = await collector.waitChange('patients', (c) => c.action === 'delete' && c.key?.['id'] === '1');
      expect(del.identities[0]?.db_user).toBe('bob');
      expect(changesOf(del)[0]).toMatchObject({ key: { id: '1' }, after: null, before: { name: 'Anne', balance: '10.50' } });
      // Checkpoints are zero-padded so that they sort as strings.
      expect(ins.commit.checkpoint < upd.commit.checkpoint).toBe(true);
      expect(ins.commit.commitTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    });

    it('session id matches %c of the backend, and Unix-socket sessions have no address', async () => {
      const client = new pg.Client({ host: server.socketDir, port: server.port, user: 'alice', database: db });
      await client.connect();
      try {
        const [row] = (await client.query<{ c: string }>("SELECT to_hex(trunc(extract(epoch FROM backend_start))::bigint) || '.' || to_hex(pid) AS c FROM pg_stat_activity WHERE pid = pg_backend_pid()")).rows;
        await client.query("INSERT INTO clinic.patients VALUES (2, 'MRN2', 'Ben', NULL, NULL)");
        const tx = await collector.waitChange('patients', (c) => c.key?.['id'] === '2');
        expect(tx.identities[0]).toMatchObject({ db_user: 'alice', client_addr: null, client_port: null, session_id: row?.c });
      } finally {
        await client.end();
      }
    });

    it('application and app user come through exactly, whatever characters they hold', async () => {
      const appUser = 'dr "x", {y} \\z NULL';
      await exec(url(), ["INSERT INTO clinic.patients VALUES (140, 'M140', 'quoted', NULL, NULL)"], { application: 'NULL', appUser });
      await exec(url(), ["INSERT INTO clinic.patients VALUES (141, 'M141', 'empty', NULL, NULL)"], { application: 'a b,c', appUser: 'NULL' });
      const first = await collector.waitChange('patients', (c) => c.key?.['id'] === '140');
      expect(first.identities[0]).toMatchObject({ db_user: 'alice', app_user: appUser, application: 'NULL' });
      const second = await collector.waitChange('patients', (c) => c.key?.['id'] === '141');
      expect(second.identities[0]).toMatchObject({ app_user: 'NULL', application: 'a b,c' });
    });

    it('a login with non-ASCII letters keeps its signed session id', async () => {
      await server.query('CREATE ROLE "dr_müller" LOGIN', [], { database: db });
      await server.query('GRANT USAGE ON SCHEMA clinic TO "dr_müller"', [], { database: db });
      await server.query('GRANT INSERT ON clinic.patients TO "dr_müller"', [], { database: db });
      await exec(url('dr_müller'), ["INSERT INTO clinic.patients VALUES (145, 'M145', 'Jörg', NULL, NULL)"], { appUser: 'müller' });
      const tx = await collector.waitChange('patients', (c) => c.key?.['id'] === '145');
      expect(tx.identities[0]).toMatchObject({ db_user: 'dr_müller', role: 'dr_müller', app_user: 'müller' });
      expect(tx.identities[0]?.session_id).toMatch(/^[0-9a-f]+\.[0-9a-f]+$/);
      expect(tx.alerts).toEqual([]);
    });

    // The native emitter caches nothing a session could write: there is no token to forge.
    it.skipIf(native)('the session id is read once per session and signed; a session that writes its own is caught', async () => {
      const alice = new pg.Client({ connectionString: url() });
      const bob = new pg.Client({ connectionString: url('bob') });
      await alice.connect();
      await bob.connect();
      try {
        const pc = "SELECT to_hex(trunc(extract(epoch FROM backend_start))::bigint) || '.' || to_hex(pid) AS c FROM pg_stat_activity WHERE pid = pg_backend_pid()";
        const [own] = (await alice.query<{ c: string }>(pc)).rows;
        await alice.query("INSERT INTO clinic.patients VALUES (150, 'M150', 'first', NULL, NULL)");
        const cached = (await alice.query<{ s: string }>("SELECT current_setting('dbwitness.session') AS s")).rows[0]?.s;
        expect(cached?.startsWith(`${own?.c}:`)).toBe(true);
        // The second transaction takes the cached id: same value, still accepted.
        await alice.query("INSERT INTO clinic.patients VALUES (151, 'M151', 'second', NULL, NULL)");
        const second = await collector.waitChange('patients', (c) => c.key?.['id'] === '151');
        expect(second.identities[0]).toMatchObject({ db_user: 'alice', session_id: own?.c });
        expect(second.alerts).toEqual([]);

        // A made-up id, an id signed for another login, and one with a changed start time: none is accepted.
        const [bobOwn] = (await bob.query<{ c: string }>(pc)).rows;
        await bob.query("INSERT INTO clinic.patients VALUES (152, 'M152', 'bob', NULL, NULL)");
        const bobToken = (await bob.query<{ s: string }>("SELECT current_setting('dbwitness.session') AS s")).rows[0]?.s ?? '';
        expect(bobToken.startsWith(`${bobOwn?.c}:`)).toBe(true);
        const alicePid = (own?.c ?? '').split('.')[1];
        const forgeries = [`1.${alicePid}:${'0'.repeat(64)}`, bobToken, `1${cached}`];
        let id = 153;
        for (const forged of forgeries) {
          await alice.query('SELECT set_config($1, $2, false)', ['dbwitness.session', forged]);
          await alice.query(`INSERT INTO clinic.patients VALUES (${id}, 'M${id}', 'forged', NULL, NULL)`);
          const tx = await collector.waitChange('patients', (c) => c.key?.['id'] === String(id));
          expect(tx.identities[0]).toMatchObject({ db_user: 'alice', client_addr: '127.0.0.1', session_id: null });
          expect(tx.alerts.map((a) => [a.code, a.detail?.['db_user']])).toEqual([['identity_session_forged', 'alice']]);
          id++;
        }
        // RESET ALL drops the cache; the next transaction reads and signs the id again.
        await alice.query('RESET ALL');
        await alice.query(`INSERT INTO clinic.patients VALUES (${id}, 'M${id}', 'reset', NULL, NULL)`);
        const reset = await collector.waitChange('patients', (c) => c.key?.['id'] === String(id));
        expect(reset.identities[0]?.session_id).toBe(own?.c);
        expect(reset.alerts).toEqual([]);
      } finally {
        await alice.end();
        await bob.end();
      }
    });

    it('SET ROLE shows as a second identity; SECURITY DEFINER code keeps the login', async () => {
      await exec(url(), ["INSERT INTO clinic.patients VALUES (3, 'MRN3', 'Cy', NULL, NULL)", 'SET LOCAL ROLE clinician', "UPDATE clinic.patients SET name = 'Cyd' WHERE id = 3"]);
      const tx = await collector.waitChange('patients', (c) => c.action === 'update' && c.key?.['id'] === '3');
      expect(tx.identities.map((i) => [i.db_user, i.role])).toEqual([
        ['alice', 'alice'],
        ['alice', 'clinician'],
      ]);
      expect(tx.items.map((i) => i.identity?.role)).toEqual(['alice', 'clinician']);

      await server.query("CREATE FUNCTION clinic.admit(p bigint) RETURNS void LANGUAGE sql SECURITY DEFINER AS $$ INSERT INTO clinic.patients VALUES (p, 'M' || p, 'via fn', NULL, NULL) $$", [], { database: db });
      await server.query('GRANT EXECUTE ON FUNCTION clinic.admit(bigint) TO bob', [], { database: db });
      await exec(url('bob'), ['SELECT clinic.admit(4)']);
      const viaFn = await collector.waitChange('patients', (c) => c.key?.['id'] === '4');
      expect(viaFn.identities[0]).toMatchObject({ db_user: 'bob', role: 'bob' });
    });

    it('a superuser acting as another login (SET SESSION AUTHORIZATION) is attributed to its own login, with an alert', async () => {
      await exec(url('postgres'), ['SET SESSION AUTHORIZATION alice', "INSERT INTO clinic.patients VALUES (60, 'M60', 'as alice', NULL, NULL)"], { application: 'impersonate' });
      const tx = await collector.waitChange('patients', (c) => c.key?.['id'] === '60');
      expect(tx.items[0]?.identity).toMatchObject({ db_user: 'postgres', role: 'alice', application: 'impersonate' });
      expect(tx.items[0]?.identity?.session_id).toMatch(/^[0-9a-f]+\.[0-9a-f]+$/);
      expect(tx.alerts.map((a) => [a.code, a.detail?.['db_user'], a.detail?.['session_user']])).toEqual([['identity_session_authorization', 'postgres', 'alice']]);
      // Back to itself within the session: attributed plainly again, no alert.
      await exec(url('postgres'), ['SET SESSION AUTHORIZATION alice', 'RESET SESSION AUTHORIZATION', "INSERT INTO clinic.patients VALUES (61, 'M61', 'itself', NULL, NULL)"]);
      const back = await collector.waitChange('patients', (c) => c.key?.['id'] === '61');
      expect(back.items[0]?.identity).toMatchObject({ db_user: 'postgres', role: 'postgres' });
      expect(back.alerts).toEqual([]);
      // A login with non-ASCII letters acting as another: the signed length counts characters, as the daemon does.
      await server.query('CREATE ROLE "dba_jörg" SUPERUSER LOGIN', [], { database: db }).catch(() => undefined);
      await exec(url('dba_jörg'), ['SET SESSION AUTHORIZATION alice', "INSERT INTO clinic.patients VALUES (64, 'M64', 'as alice', NULL, NULL)"]);
      const jorg = await collector.waitChange('patients', (c) => c.key?.['id'] === '64');
      expect(jorg.items[0]?.identity).toMatchObject({ db_user: 'dba_jörg', role: 'alice' });
      expect(jorg.alerts.map((a) => a.code)).toEqual(['identity_session_authorization']);
      // Within one transaction that already wrote as itself: the change after the switch carries the new identity.
      await exec(url('postgres'), [
        "INSERT INTO clinic.patients VALUES (65, 'M65', 'as itself', NULL, NULL)",
        'SET SESSION AUTHORIZATION alice',
        "INSERT INTO clinic.patients VALUES (66, 'M66', 'then as alice', NULL, NULL)",
      ]);
      const mid = await collector.waitChange('patients', (c) => c.key?.['id'] === '66');
      expect(mid.items.map((i) => [i.change.key?.['id'], i.identity?.db_user, i.identity?.role])).toEqual([
        ['65', 'postgres', 'postgres'],
        ['66', 'postgres', 'alice'],
      ]);
      expect(mid.alerts.map((a) => a.code)).toEqual(['identity_session_authorization']);
      // DDL messages carry the login too.
      await exec(url('postgres'), ['SET SESSION AUTHORIZATION alice', 'CREATE TABLE clinic.impersonated (id int)']);
      const ddl = await collector.waitTx((t) => t.items.some((i) => i.change.action === 'ddl' && i.change.detail?.['object_identity'] === 'clinic.impersonated'));
      expect(ddl.items.find((i) => i.change.action === 'ddl')?.identity).toMatchObject({ db_user: 'postgres', role: 'alice' });
      expect(ddl.alerts.map((a) => a.code)).toContain('identity_session_authorization');
    });

    // The PL/pgSQL emitter caches the login in a setting: one the session writes itself is not believed.
    it.skipIf(native)('a login a session writes into dbwitness.login itself is refused as forged', async () => {
      const alice = new pg.Client({ connectionString: url() });
      await alice.connect();
      try {
        await alice.query("INSERT INTO clinic.patients VALUES (62, 'M62', 'cached', NULL, NULL)");
        await alice.query("SELECT set_config('dbwitness.login', 'postgres', false)");
        await alice.query("INSERT INTO clinic.patients VALUES (63, 'M63', 'claims a login', NULL, NULL)");
        const tx = await collector.waitChange('patients', (c) => c.key?.['id'] === '63');
        expect(tx.items[0]?.identity).toMatchObject({ db_user: 'alice', role: 'alice', session_id: null });
        expect(tx.alerts.map((a) => a.code)).toEqual(['identity_session_forged']);
      } finally {
        await alice.end();
      }
    });

    it('an unprivileged role cannot forge an identity message', async () => {
      await expect(exec(url('bob'), [`SELECT pg_logical_emit_message(true, 'dbwitness', '{"v":1,"db_user":"alice"}')`])).rejects.toMatchObject({ code: '42501' });
      await expect(exec(url('bob'), ['SELECT dbwitness.emit_identity()'])).rejects.toThrow(/permission denied/);
      // Even a superuser cannot call either emitter's trigger function outside a trigger.
      await expect(exec(url('postgres'), ['SELECT dbwitness.emit_identity()'])).rejects.toThrow(/trigger/);
      // A version 3 message (the native emitter's, trusted without a signature) cannot be written by hand either.
      await expect(exec(url('bob'), [`SELECT pg_logical_emit_message(true, 'dbwitness', '{3,alice,none,,127.0.0.1,5432,x,1,1.1}')`])).rejects.toMatchObject({ code: '42501' });
      // Anyone may call the definer function, but it takes no arguments and writes the caller's own identity.
      await exec(url('bob'), ["SET LOCAL dbwitness.app_user = 'bob-app'", 'SELECT dbwitness.emit_session_identity()', "INSERT INTO clinic.patients VALUES (40, 'MRN40', 'Direct', NULL, NULL)"]);
      const direct = await collector.waitChange('patients', (c) => c.key?.['id'] === '40');
      // The native trigger does not know of the PL/pgSQL function's message, so it writes its own: the same identity twice.
      expect(direct.identities).toHaveLength(native ? 2 : 1);
      for (const id of direct.identities) expect(id).toMatchObject({ db_user: 'bob', role: 'bob', app_user: 'bob-app' });
    });

    it('a hostile search_path does not reach the trigger, which runs as the caller', async () => {
      // bob shadows functions and the text type the trigger might resolve unqualified; it qualifies everything.
      await server.query('CREATE SCHEMA IF NOT EXISTS evil AUTHORIZATION bob', [], { database: db });
      await exec(url('bob'), [
        'CREATE OR REPLACE FUNCTION evil.current_setting(text, boolean) RETURNS text LANGUAGE sql AS $$ SELECT NULL::text $$',
        "CREATE OR REPLACE FUNCTION evil.texteq(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$",
      ]);
      await exec(url('bob'), ['SET LOCAL search_path = evil, pg_catalog', "INSERT INTO clinic.patients VALUES (41, 'MRN41', 'Path', NULL, NULL)"]);
      const tx = await collector.waitChange('patients', (c) => c.key?.['id'] === '41');
      expect(tx.identities).toHaveLength(1);
      expect(tx.identities[0]).toMatchObject({ db_user: 'bob', role: 'bob' });
    });

    it('evasions still deliver the changes, without identity where the trigger was silenced', async () => {
      // ENABLE ALWAYS survives session_replication_role = replica.
      await exec(url('postgres'), ['SET LOCAL session_replication_role = replica', "INSERT INTO clinic.patients VALUES (5, 'MRN5', 'Eve', NULL, NULL)"]);
      const replica = await collector.waitChange('patients', (c) => c.key?.['id'] === '5');
      expect(replica.items[0]?.identity?.db_user).toBe('postgres');

      await exec(url('postgres'), ['ALTER TABLE clinic.prescriptions DISABLE TRIGGER dbwitness_identity']);
      await exec(url('postgres'), ["INSERT INTO clinic.prescriptions VALUES (6, 1, 'x', '1mg')"]);
      await exec(url('postgres'), ['ALTER TABLE clinic.prescriptions ENABLE ALWAYS TRIGGER dbwitness_identity']);
      const disabled = await collector.waitChange('prescriptions', (c) => c.key?.['id'] === '6');
      expect(disabled.items[0]?.identity).toBeNull();
      expect(disabled.identities).toEqual([]);
      // The DDL that silenced the trigger is itself in the trail, attributed.
      const ddl = await collector.waitTx((t) => t.items.some((i) => i.change.action === 'ddl' && (i.change.statement ?? '').includes('DISABLE TRIGGER')));
      expect(ddl.items[0]?.identity?.db_user).toBe('postgres');

      await server.query('ALTER PUBLICATION dbwitness ADD TABLE clinic.untracked', [], { database: db });
      await exec(url('postgres'), ['INSERT INTO clinic.untracked VALUES (7)']);
      const untracked = await collector.waitChange('untracked');
      expect(untracked.items[0]?.identity).toBeNull();
      expect(untracked.identities).toEqual([]);
    });

    it('rolled-back savepoints leave no rows and no stale identity', async () => {
      await exec(url(), ['SAVEPOINT a', "INSERT INTO clinic.patients VALUES (10, 'M10', 'gone', NULL, NULL)", 'ROLLBACK TO SAVEPOINT a', "INSERT INTO clinic.patients VALUES (11, 'M11', 'kept', NULL, NULL)"], { application: 'sp' });
      const tx = await collector.waitChange('patients', (c) => c.key?.['id'] === '11');
      expect(changesOf(tx).map((c) => c.key?.['id'])).toEqual(['11']);
      expect(tx.items[0]?.identity?.application).toBe('sp');
      expect(collector.txs.some((t) => changesOf(t).some((c) => c.key?.['id'] === '10'))).toBe(false);
    });

    it('a released savepoint hands its identity to the transaction; a rolled-back outer one takes it away', async () => {
      // Written inside b, released into a: still there, so the next statement writes nothing more.
      await exec(url(), ['SAVEPOINT a', 'SAVEPOINT b', "INSERT INTO clinic.patients VALUES (12, 'M12', 'in b', NULL, NULL)", 'RELEASE SAVEPOINT b', "INSERT INTO clinic.patients VALUES (13, 'M13', 'in a', NULL, NULL)"], { application: 'nested' });
      const kept = await collector.waitChange('patients', (c) => c.key?.['id'] === '13');
      expect(changesOf(kept).map((c) => c.key?.['id'])).toEqual(['12', '13']);
      expect(kept.identities).toHaveLength(1);
      expect(kept.items.every((i) => i.identity?.application === 'nested')).toBe(true);
      // Written inside b, released into a, then a rolled back: the identity went with a, so the next statement writes it again.
      await exec(url(), ['SAVEPOINT a', 'SAVEPOINT b', "INSERT INTO clinic.patients VALUES (14, 'M14', 'gone', NULL, NULL)", 'RELEASE SAVEPOINT b', 'ROLLBACK TO SAVEPOINT a', "INSERT INTO clinic.patients VALUES (15, 'M15', 'kept', NULL, NULL)"], { application: 'nested2' });
      const after = await collector.waitChange('patients', (c) => c.key?.['id'] === '15');
      expect(changesOf(after).map((c) => c.key?.['id'])).toEqual(['15']);
      expect(after.items[0]?.identity).toMatchObject({ db_user: 'alice', application: 'nested2' });
      // PL/pgSQL exception blocks are subtransactions too: a caught error after the identity was written.
      await exec(url(), [
        `DO $$ BEGIN
          BEGIN INSERT INTO clinic.patients VALUES (16, 'M16', 'caught', NULL, NULL); RAISE EXCEPTION 'undo'; EXCEPTION WHEN raise_exception THEN NULL; END;
          INSERT INTO clinic.patients VALUES (17, 'M17', 'after', NULL, NULL);
        END $$`,
      ], { application: 'exc' });
      const exc = await collector.waitChange('patients', (c) => c.key?.['id'] === '17');
      expect(changesOf(exc).map((c) => c.key?.['id'])).toEqual(['17']);
      expect(exc.items[0]?.identity).toMatchObject({ db_user: 'alice', application: 'exc' });
    });

    it('COPY, multi-row INSERT, ON CONFLICT, MERGE, FK cascade and TRUNCATE', async () => {
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query("INSERT INTO clinic.patients VALUES (20, 'A', 'a', NULL, NULL), (21, 'B', 'b', NULL, NULL)");
        await client.query("INSERT INTO clinic.patients VALUES (21, 'B', 'b2', NULL, NULL) ON CONFLICT (id) DO UPDATE SET name = excluded.name");
        await client.query("INSERT INTO clinic.encounters VALUES (30, 20, 'n', '2025-01-02 03:04:05.123456')");
        await client.query(
          "MERGE INTO clinic.patients t USING (VALUES (20::bigint, 'merged'), (22::bigint, 'new')) s(id, name) ON t.id = s.id WHEN MATCHED THEN UPDATE SET name = s.name WHEN NOT MATCHED THEN INSERT VALUES (s.id, 'M', s.name, NULL, NULL)",
        );
        await client.query('DELETE FROM clinic.patients WHERE id = 20');
      } finally {
        await client.end();
      }
      // COPY (as the superuser: FROM PROGRAM needs pg_execute_server_program) fires the INSERT statement trigger once.
      await server.query("COPY clinic.prescriptions FROM PROGRAM 'printf \"40\\t30\\taspirin\\t5mg\\n41\\t30\\tibuprofen\\t1g\\n\"'", [], { database: db });
      await exec(url(), ['TRUNCATE clinic.prescriptions']);

      const multi = await collector.waitChange('patients', (c) => c.key?.['id'] === '20' && c.action === 'insert');
      expect(changesOf(multi).map((c) => c.key?.['id'])).toEqual(['20', '21']);
      const upsert = await collector.waitChange('patients', (c) => c.key?.['id'] === '21' && c.action === 'update');
      expect(upsert.items[0]?.identity?.db_user).toBe('alice');
      const merge = await collector.waitChange('patients', (c) => c.key?.['id'] === '22');
      expect(changesOf(merge).map((c) => [c.action, c.key?.['id']])).toEqual([
        ['update', '20'],
        ['insert', '22'],
      ]);
      const cascade = await collector.waitChange('encounters', (c) => c.action === 'delete');
      expect(changesOf(cascade).map((c) => [c.table, c.action])).toEqual([
        ['patients', 'delete'],
        ['encounters', 'delete'],
      ]);
      expect(cascade.items.every((i) => i.identity?.db_user === 'alice')).toBe(true);
      const copy = await collector.waitChange('prescriptions', (c) => c.key?.['id'] === '41');
      expect(copy.items.map((i) => [i.change.key?.['id'], i.identity?.db_user])).toEqual([
        ['40', 'postgres'],
        ['41', 'postgres'],
      ]);
      const trunc = await collector.waitChange('prescriptions', (c) => c.action === 'truncate');
      expect(trunc.items[0]).toMatchObject({ identity: { db_user: 'alice' }, change: { schema: 'clinic', table: 'prescriptions', key: null } });
    });

    it('partitions: through the parent, directly, and created later, all under the parent name', async () => {
      await exec(url(), ["INSERT INTO clinic.visits VALUES (1, '2025-03-01', 'via parent')"]);
      await exec(url(), ["INSERT INTO clinic.visits_2025 VALUES (2, '2025-04-01', 'direct')"]);
      await exec(url('postgres'), ["CREATE TABLE clinic.visits_2026 PARTITION OF clinic.visits FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')", 'GRANT INSERT ON clinic.visits_2026 TO alice']);
      await exec(url(), ["INSERT INTO clinic.visits_2026 VALUES (3, '2026-04-01', 'new partition')"]);
      for (const id of ['1', '2', '3']) {
        const tx = await collector.waitChange('visits', (c) => c.key?.['id'] === id);
        const item = tx.items.find((i) => i.change.table === 'visits');
        expect(item?.identity?.db_user).toBe('alice');
        expect(item?.change.key).toEqual({ id, at: expect.any(String) });
      }
      const ddl = await collector.waitTx((t) => t.items.some((i) => i.change.action === 'ddl' && i.change.detail?.['object_identity'] === 'clinic.visits_2026'));
      const d = ddl.items.find((i) => i.change.action === 'ddl');
      expect(d).toMatchObject({ identity: { db_user: 'postgres' }, change: { statement: expect.stringContaining('CREATE TABLE clinic.visits_2026'), detail: { command_tag: 'CREATE TABLE' } } });
      const [trig] = await server.query<{ tgenabled: string }>("SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'clinic.visits_2026'::regclass AND tgname = 'dbwitness_identity'", [], { database: db });
      expect(trig?.tgenabled).toBe('A');
    });

    it('prepared transactions arrive at COMMIT PREPARED with their identity', async () => {
      const client = new pg.Client({ connectionString: url(), application_name: 'twophase' });
      await client.connect();
      const gid = unique('gid');
      try {
        await client.query('BEGIN');
        await client.query("INSERT INTO clinic.patients VALUES (50, 'M50', 'prep', NULL, NULL)");
        await client.query(`PREPARE TRANSACTION '${gid}'`);
      } finally {
        await client.end();
      }
      await server.query(`COMMIT PREPARED '${gid}'`, [], { database: db });
      const tx = await collector.waitChange('patients', (c) => c.key?.['id'] === '50');
      expect(tx.items[0]?.identity).toMatchObject({ db_user: 'alice', application: 'twophase' });
    });
});
