/**
 * The MariaDB conformance target: a private MariaDB 10.11, the clinic
 * schema, `dbwitness setup mysql --apply` through the real CLI, and staff
 * accounts connecting over TCP from 127.0.0.1. dbwitness runs as the
 * least-privileged replication account setup created.
 */
import net from 'node:net';
import mysql from 'mysql2/promise';
import { runCli, startMariaDB, type MariaDbServer } from '../../harness/index.js';
import type { Account, ConformanceTarget, ExecOptions } from '../target.js';

const TABLES = 'clinic.patients,clinic.encounters,clinic.prescriptions';
const PASSWORD_ENV = 'DBWITNESS_MYSQL_PASSWORD';
const SCHEMA_SQL = [
  'CREATE TABLE clinic.patients (id BIGINT PRIMARY KEY, mrn VARCHAR(32) NOT NULL, name VARCHAR(200) NOT NULL, dob DATE, balance DECIMAL(14,2))', // the suite writes 12345678901.99
  'CREATE TABLE clinic.encounters (id BIGINT PRIMARY KEY, patient_id BIGINT NOT NULL, note TEXT, seen_at TIMESTAMP(6) NULL, FOREIGN KEY (patient_id) REFERENCES clinic.patients(id) ON DELETE CASCADE)',
  'CREATE TABLE clinic.prescriptions (id BIGINT PRIMARY KEY, encounter_id BIGINT NOT NULL, drug VARCHAR(100) NOT NULL, dose VARCHAR(50))',
];
const ACCOUNTS: Record<Account, string> = {
  alice: "GRANT SELECT, INSERT, UPDATE, DELETE ON clinic.* TO 'alice'@'127.0.0.%'",
  bob: "GRANT SELECT, INSERT, UPDATE, DELETE ON clinic.* TO 'bob'@'127.0.0.%'",
  admin: "GRANT ALL PRIVILEGES ON clinic.* TO 'admin'@'127.0.0.%' WITH GRANT OPTION",
};

export class MariaDbTarget implements ConformanceTarget {
  readonly engine = 'mariadb' as const;
  readonly sourceId = 'mariadb-conformance';
  #server: MariaDbServer | null = null;
  #prepared = false;
  readonly #replPassword = 'conformance-repl-7';

  get server(): MariaDbServer {
    if (this.#server === null) throw new Error('MariaDbTarget.prepare() has not run');
    return this.#server;
  }

  async prepare(): Promise<void> {
    if (this.#prepared) return;
    this.#server = await startMariaDB({ database: 'clinic' });
    for (const sql of SCHEMA_SQL) await this.server.query(sql);
    for (const [account, grant] of Object.entries(ACCOUNTS)) {
      await this.server.query(`CREATE USER '${account}'@'127.0.0.%' IDENTIFIED BY '${account}-pw'`);
      await this.server.query(grant);
    }
    // `dbwitness run` is spawned with this process's environment.
    process.env[PASSWORD_ENV] = this.#replPassword;
    await this.#setup();
    this.#prepared = true;
  }

  async #setup(): Promise<void> {
    const setup = await runCli(['setup', 'mysql', '--url', this.server.url(), '--tables', TABLES, '--apply'], { env: { ...process.env, [PASSWORD_ENV]: this.#replPassword } });
    if (setup.code !== 0) throw new Error(`dbwitness setup mysql failed (${setup.code}): ${setup.stderr}`);
  }

  async execAs(account: Account, statements: readonly string[], opts: ExecOptions = {}): Promise<void> {
    await this.#exec(account, `${account}-pw`, statements, opts);
  }

  dbUser(account: Account): string {
    return account;
  }

  runArgs(): string[] {
    return ['--source', `mysql://dbwitness@127.0.0.1:${this.server.port}/`, '--password-env', PASSWORD_ENV, '--tables', TABLES, '--id', this.sourceId];
  }

  /**
   * An administrator drops the identity triggers of patients with the DDL
   * kept out of the binlog (sql_log_bin=0, which doctor warns about), writes,
   * and puts them back with setup. The write itself is binlogged, without
   * a marker: it must arrive unattributed, with an alert.
   */
  async execWithoutIdentity(statements: readonly string[]): Promise<void> {
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: this.server.port, user: 'root' });
    try {
      const [trig] = await conn.query("SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = 'clinic' AND EVENT_OBJECT_TABLE = 'patients' AND TRIGGER_NAME LIKE 'dbwitness%'");
      await conn.query('SET SESSION sql_log_bin = 0');
      for (const t of trig as Array<{ n: string }>) await conn.query(`DROP TRIGGER clinic.\`${t.n.replace(/`/g, '``')}\``);
    } finally {
      await conn.end();
    }
    try {
      await this.#exec('root', undefined, statements, {});
    } finally {
      await this.#setup();
    }
  }

  async #exec(user: string, password: string | undefined, statements: readonly string[], opts: ExecOptions): Promise<void> {
    const stream = net.connect({ host: '127.0.0.1', port: this.server.port, localAddress: '127.0.0.1' });
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: this.server.port, user, stream, ...(password !== undefined ? { password } : {}) });
    try {
      // The documented session variables an application sets (docs/mysql.md).
      if (opts.appUser !== undefined) await conn.query('SET @dbwitness_app_user = ?', [opts.appUser]);
      if (opts.application !== undefined) await conn.query('SET @dbwitness_application = ?', [opts.application]);
      await conn.beginTransaction();
      for (const s of statements) await conn.query(s);
      await conn.commit();
    } catch (e) {
      await conn.rollback().catch(() => undefined);
      throw e;
    } finally {
      await conn.end();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server?.close();
    this.#server = null;
  }
}

export async function makeMariaDbTarget(): Promise<ConformanceTarget> {
  return new MariaDbTarget();
}
