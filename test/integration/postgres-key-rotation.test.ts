/**
 * Rotating the key that signs cached session ids, with a daemon running:
 * open sessions keep their ids through the grace period, new sessions are
 * accepted without a restart, and a key dropped at once stops passing.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAdapter } from '../../adapters/postgres/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { runCli, startPostgres, type PgServer } from '../harness/index.js';
import { applySetup, CLINIC_SQL, Collector, pgConfig, unique, type CollectedTx } from './postgres-fixture.js';

let server: PgServer;
let collector: Collector;
let config: ReturnType<typeof pgConfig>;
const db = 'ehr';
const ctx = { logger: silentLogger() };

beforeAll(async () => {
  server = await startPostgres({ database: db });
  const q = (sql: string): Promise<unknown> => server.query(sql, [], { database: db });
  for (const sql of CLINIC_SQL) await q(sql);
  for (const role of ['alice', 'bob']) await q(`CREATE ROLE ${role} LOGIN`);
  await q('GRANT USAGE ON SCHEMA clinic TO alice, bob');
  await q('GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA clinic TO alice, bob');
  config = pgConfig(server, db, { slot: unique('s') });
  await applySetup(config);
  // Keys are read again before every identity check: the test need not wait out the daemon's minute.
  collector = new Collector(config, null, { sessionKeyMaxAgeMs: 0, sessionKeyRetryMs: 0 });
});
afterAll(async () => {
  await collector?.stop();
  await server?.close();
});

async function session(user: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: server.url({ database: db, user }) });
  await c.connect();
  return c;
}

let nextId = 1;
async function write(c: pg.Client): Promise<CollectedTx> {
  const id = nextId++;
  await c.query(`INSERT INTO clinic.patients VALUES (${id}, 'M${id}', 'rotation', NULL, NULL)`);
  return collector.waitChange('patients', (ch) => ch.key?.['id'] === String(id));
}

async function rotate(graceMs: number): Promise<void> {
  const plan = await postgresAdapter.planKeyRotation!(config, graceMs, ctx);
  await postgresAdapter.applyPlan(config, plan, ctx);
}

describe('postgres session key rotation', () => {
  it('keeps open sessions through the grace period, accepts new ones at once, and drops a leaked key', async () => {
    const key = async (): Promise<string> => (await server.query<{ k: string }>('SELECT k FROM dbwitness.session_key', [], { database: db }))[0]!.k;
    const a = await session('alice');
    try {
      const first = await write(a);
      expect(first.identities[0]?.session_id).toMatch(/^[0-9a-f]+\.[0-9a-f]+$/);
      const k1 = await key();

      await rotate(3_600_000);
      expect(await key()).not.toBe(k1);
      const during = (await postgresAdapter.doctor(config, ctx)).find((f) => f.id === 'pg.session_key');
      expect(during).toMatchObject({ status: 'ok', detail: expect.stringMatching(/; rotated .*, the previous key accepted for sessions open before it until /) });
      // The open session still sends the id it signed with the old key: accepted (it started before the rotation).
      const kept = await write(a);
      expect(kept.identities[0]?.session_id).toBe(first.identities[0]?.session_id);
      expect(kept.alerts).toEqual([]);
      // A new session signs with the new key; the running daemon reads it and accepts it.
      const b = await session('bob');
      try {
        const fresh = await write(b);
        expect(fresh.identities[0]).toMatchObject({ db_user: 'bob', session_id: expect.stringMatching(/\./) });
        expect(fresh.alerts).toEqual([]);

        // The key may have leaked: dropped at once. Both open sessions' cached ids now fail.
        await rotate(0);
        for (const [c, user] of [[a, 'alice'], [b, 'bob']] as const) {
          const tx = await write(c);
          expect(tx.identities[0]).toMatchObject({ db_user: user, session_id: null });
          expect(tx.alerts.map((al) => al.code)).toEqual(['identity_session_forged']);
        }
      } finally {
        await b.end();
      }
      // Once it reconnects, a session signs with the newest key.
      const c = await session('alice');
      try {
        const tx = await write(c);
        expect(tx.identities[0]?.session_id).toMatch(/\./);
        expect(tx.alerts).toEqual([]);
      } finally {
        await c.end();
      }
    } finally {
      await a.end();
    }
    const findings = await postgresAdapter.doctor(config, ctx);
    expect(findings.find((f) => f.id === 'pg.session_key')?.status).toBe('ok');
  });

  it('the CLI prints the rotation plan, and refuses a bad grace period or another engine', async () => {
    const url = server.url({ database: db });
    const plan = await runCli(['setup', 'postgres', '--url', url, '--schema', 'clinic', '--rotate-session-key']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('session key rotation plan');
    expect(plan.stdout).toMatch(/UPDATE "dbwitness"\.session_key SET prev_k = k, .*make_interval\(secs => 86400\)/);
    const leaked = await runCli(['setup', 'postgres', '--url', url, '--schema', 'clinic', '--rotate-session-key', '0']);
    expect(leaked.stdout).toMatch(/SET prev_k = NULL, .*prev_until = NULL/);
    const bad = await runCli(['setup', 'postgres', '--url', url, '--schema', 'clinic', '--rotate-session-key', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a grace period/);
    const mysql = await runCli(['setup', 'mariadb', '--url', 'mysql://root@127.0.0.1:1/clinic', '--database', 'clinic', '--rotate-session-key']);
    expect(mysql.code).toBe(2);
    expect(mysql.stderr).toMatch(/signs no session ids/);
  });
});
