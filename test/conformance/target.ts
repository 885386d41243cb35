/**
 * One conformance suite runs the same workload against every adapter and
 * expects the same audit events. Each engine provides a `ConformanceTarget`
 * in ./targets/<engine>.ts.
 *
 * The workload uses portable SQL on the clinic schema below, addressed as
 * `clinic.<table>` on every engine (a PostgreSQL schema, a MySQL database):
 *
 *   clinic.patients      (id BIGINT PRIMARY KEY, mrn VARCHAR(32) NOT NULL, name VARCHAR(200) NOT NULL, dob DATE, balance DECIMAL(14,2))
 *   clinic.encounters    (id BIGINT PRIMARY KEY, patient_id BIGINT NOT NULL, note TEXT, seen_at TIMESTAMP(6))  -- FK to patients ON DELETE CASCADE
 *   clinic.prescriptions (id BIGINT PRIMARY KEY, encounter_id BIGINT NOT NULL, drug VARCHAR(100) NOT NULL, dose VARCHAR(50))
 */
export type Account = 'alice' | 'bob' | 'admin';

export interface ExecOptions {
  /** Application-level user, set through the engine's documented session setting. */
  readonly appUser?: string;
  /** Client application name where the engine has one (PostgreSQL application_name). */
  readonly application?: string;
}

export interface ConformanceTarget extends AsyncDisposable {
  readonly engine: 'postgres' | 'mariadb' | 'mysql';
  /** The `source.id` of the events (what `runArgs` configures). */
  readonly sourceId: string;
  /**
   * Starts a private server, creates the clinic schema, runs
   * `dbwitness setup <engine> --apply` for the three tables, and creates the
   * accounts: alice and bob (ordinary staff with DML rights on clinic.*),
   * admin (a DBA account). Idempotent per target.
   */
  prepare(): Promise<void>;
  /** Runs the statements in ONE transaction as the account, over TCP from 127.0.0.1. */
  execAs(account: Account, statements: readonly string[], opts?: ExecOptions): Promise<void>;
  /** The db_user the events should show for an account. */
  dbUser(account: Account): string;
  /** argv for `dbwitness run`, without `--store`. */
  runArgs(): string[];
  /** Disables the identity mechanism for one statement batch (evasion test). */
  execWithoutIdentity(statements: readonly string[]): Promise<void>;
}
