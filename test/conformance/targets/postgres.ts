/**
 * The PostgreSQL conformance target: a private server, the clinic schema,
 * `dbwitness setup postgres --apply` through the real CLI, and staff
 * accounts connecting over TCP from 127.0.0.1.
 */
import pg from 'pg';
import { runCli, startPostgres, type PgServer } from '../../harness/index.js';
import type { Account, ConformanceTarget, ExecOptions } from '../target.js';

const DB = 'clinic';
const TABLES = 'clinic.patients,clinic.encounters,clinic.prescriptions';
const SCHEMA_SQL = [
  'CREATE SCHEMA clinic',
  'CREATE TABLE clinic.patients (id BIGINT PRIMARY KEY, mrn VARCHAR(32) NOT NULL, name VARCHAR(200) NOT NULL, dob DATE, balance DECIMAL(14,2))', // the suite writes 12345678901.99: 13 digits
  'CREATE TABLE clinic.encounters (id BIGINT PRIMARY KEY, patient_id BIGINT NOT NULL REFERENCES clinic.patients(id) ON DELETE CASCADE, note TEXT, seen_at TIMESTAMP(6))',
  'CREATE TABLE clinic.prescriptions (id BIGINT PRIMARY KEY, encounter_id BIGINT NOT NULL, drug VARCHAR(100) NOT NULL, dose VARCHAR(50))',
  'CREATE ROLE alice LOGIN',
  'CREATE ROLE bob LOGIN',
  'CREATE ROLE admin LOGIN CREATEROLE',
  'GRANT USAGE ON SCHEMA clinic TO alice, bob, admin',
  'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA clinic TO alice, bob, admin',
];

export class PostgresTarget implements ConformanceTarget {
  readonly engine = 'postgres' as const;
  readonly sourceId = 'pg-conformance';
  #server: PgServer | null = null;
  #prepared = false;

  get server(): PgServer {
    if (this.#server === null) throw new Error('PostgresTarget.prepare() has not run');
    return this.#server;
  }

  async prepare(): Promise<void> {
    if (this.#prepared) return;
    this.#server = await startPostgres({ database: DB });
    for (const sql of SCHEMA_SQL) await this.server.query(sql, [], { database: DB });
    const setup = await runCli(['setup', 'postgres', '--url', this.server.url({ database: DB }), '--tables', TABLES, '--apply'], {
      env: { ...process.env, DBWITNESS_DAEMON_PASSWORD: 'conformance-daemon' },
    });
    if (setup.code !== 0) throw new Error(`dbwitness setup postgres failed (${setup.code}): ${setup.stderr}`);
    this.#prepared = true;
  }

  async execAs(account: Account, statements: readonly string[], opts: ExecOptions = {}): Promise<void> {
    await this.#exec(account, statements, opts);
  }

  dbUser(account: Account): string {
    return account;
  }

  runArgs(): string[] {
    return ['--source', this.server.url({ database: DB, user: 'dbwitness_daemon' }), '--tables', TABLES, '--id', this.sourceId];
  }

  /**
   * Suppresses the identity message the way a session can (DESIGN.md): it
   * pre-sets the transaction-local key the emitter uses to emit once per
   * transaction and role, so the trigger fires but writes nothing. (Silencing
   * the trigger with ALTER TABLE ... DISABLE TRIGGER is covered by
   * test/integration/postgres-identity.test.ts; it also leaves a DDL event.)
   */
  async execWithoutIdentity(statements: readonly string[]): Promise<void> {
    await this.#exec('postgres', ["SELECT pg_catalog.set_config('dbwitness.emitted', pg_catalog.pg_current_xact_id()::text || ':' || pg_catalog.current_setting('role') || ':' || SESSION_USER, true)", ...statements], {});
  }

  async #exec(user: string, statements: readonly string[], opts: ExecOptions): Promise<void> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: this.server.port,
      user,
      database: DB,
      ...(opts.application !== undefined ? { application_name: opts.application } : {}),
    });
    await client.connect();
    try {
      await client.query('BEGIN');
      // The documented way for an application to name its end user (see docs/postgres.md).
      if (opts.appUser !== undefined) await client.query("SELECT pg_catalog.set_config('dbwitness.app_user', $1, true)", [opts.appUser]);
      for (const s of statements) await client.query(s);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      await client.end();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server?.close();
    this.#server = null;
  }
}

export async function makePostgresTarget(): Promise<ConformanceTarget> {
  return new PostgresTarget();
}
