/**
 * The PostgreSQL adapter behind the real CLI: setup prints a plan without
 * running it (and without the password), doctor exits 1 before setup and 0
 * after, run refuses a missing slot with exit code 2 and never creates it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startPostgres, tempDir, type PgServer } from '../harness/index.js';
import { CLINIC_SQL } from './postgres-fixture.js';

let server: PgServer;
const db = 'ehr';
const TABLES = 'clinic.patients,clinic.encounters';

beforeAll(async () => {
  server = await startPostgres({ database: db });
  for (const sql of CLINIC_SQL) await server.query(sql, [], { database: db });
});
afterAll(async () => {
  await server?.close();
});

describe('postgres through the CLI', () => {
  it('setup prints, doctor fails, setup --apply, doctor passes, run refuses a missing slot', async () => {
    const url = server.url({ database: db });
    const env = { ...process.env, DBWITNESS_DAEMON_PASSWORD: 'secret-daemon-pw' };
    const plan = await runCli(['setup', 'postgres', '--url', url, '--tables', TABLES], { env });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('CREATE OR REPLACE TRIGGER "dbwitness_identity"');
    expect(plan.stdout).toContain(":'DBWITNESS_DAEMON_PASSWORD'");
    expect(plan.stdout + plan.stderr).not.toContain('secret-daemon-pw');
    expect(await server.query("SELECT 1 FROM pg_replication_slots", [], { database: db })).toHaveLength(0);

    const before = await runCli(['doctor', '--url', url, '--tables', TABLES]);
    expect(before.code).toBe(1);
    expect(before.stdout + before.stderr).toMatch(/pg\.slot/);

    const apply = await runCli(['setup', 'postgres', '--url', url, '--tables', TABLES, '--apply'], { env });
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout + apply.stderr).not.toContain('secret-daemon-pw');
    const after = await runCli(['doctor', '--url', server.url({ database: db, user: 'dbwitness_daemon' }), '--tables', TABLES]);
    expect(after.code, after.stdout + after.stderr).toBe(0);

    const store = await tempDir('dbw-pg-cli-');
    const run = await runCli(['run', '--source', url, '--tables', TABLES, '--slot', 'not_there', '--store', store, '--unsigned', '--redaction', 'keep'], { timeoutMs: 60_000 });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/replication slot "not_there" does not exist/);
    expect(run.stderr).toMatch(/setup postgres --apply/);
    expect(await server.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'not_there'", [], { database: db })).toHaveLength(0);
  }, 120_000);
});
