/**
 * Shared pieces of the PostgreSQL integration tests: a clinic schema, an
 * applied setup, and a collector that drains a real ChangeSource,
 * acknowledging each commit the way the pipeline does (after "storing").
 */
import pg from 'pg';
import { postgresAdapter, PostgresChangeSource, type PostgresSourceTuning } from '../../adapters/postgres/index.js';
import type { PostgresSourceConfig } from '../../adapters/postgres/postgres-config.js';
import { silentLogger } from '../../src/core/logger.js';
import type { RowChange, SessionIdentity, SourceMessage } from '../../src/core/ports.js';
import { waitFor, type PgServer } from '../harness/index.js';

export const CLINIC_SQL = [
  'CREATE SCHEMA IF NOT EXISTS clinic',
  'CREATE TABLE clinic.patients (id bigint PRIMARY KEY, mrn varchar(32) NOT NULL, name varchar(200) NOT NULL, dob date, balance numeric(12,2))',
  'CREATE TABLE clinic.encounters (id bigint PRIMARY KEY, patient_id bigint NOT NULL REFERENCES clinic.patients(id) ON DELETE CASCADE, note text, seen_at timestamp(6))',
  'CREATE TABLE clinic.prescriptions (id bigint PRIMARY KEY, encounter_id bigint NOT NULL, drug varchar(100) NOT NULL, dose varchar(50))',
];

export const CLINIC_TABLES = ['clinic.patients', 'clinic.encounters', 'clinic.prescriptions'];

let counter = 0;
/** A slot/publication suffix unique within the test process. */
export function unique(prefix: string): string {
  counter++;
  return `${prefix}_${process.pid}_${counter}`;
}

export function pgConfig(server: PgServer, database: string, extra: Record<string, unknown> = {}): PostgresSourceConfig {
  return postgresAdapter.configSchema.parse({ id: 'pg-test', url: server.url({ database }), tables: CLINIC_TABLES, ...extra });
}

export async function applySetup(config: PostgresSourceConfig): Promise<void> {
  const ctx = { logger: silentLogger() };
  const plan = await postgresAdapter.planSetup(config, ctx);
  await postgresAdapter.applyPlan(config, plan, ctx);
}

/** Runs statements in one transaction on a fresh connection. */
export async function exec(url: string, statements: readonly string[], opts: { application?: string; appUser?: string } = {}): Promise<void> {
  const client = new pg.Client({ connectionString: url, ...(opts.application !== undefined ? { application_name: opts.application } : {}) });
  await client.connect();
  try {
    await client.query('BEGIN');
    if (opts.appUser !== undefined) await client.query("SELECT set_config('dbwitness.app_user', $1, true)", [opts.appUser]);
    for (const s of statements) await client.query(s);
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
}

export interface CollectedTx {
  readonly txId: string;
  readonly items: ReadonlyArray<{ identity: SessionIdentity | null; change: RowChange }>;
  readonly identities: readonly SessionIdentity[];
  readonly alerts: ReadonlyArray<Extract<SourceMessage, { kind: 'alert' }>>;
  readonly commit: Extract<SourceMessage, { kind: 'commit' }>;
}

/** Drains a source in the background; every commit is acknowledged once recorded. */
export class Collector {
  readonly source: PostgresChangeSource;
  readonly txs: CollectedTx[] = [];
  readonly messages: SourceMessage[] = [];
  readonly alerts: Array<Extract<SourceMessage, { kind: 'alert' }>> = [];
  idles = 0;
  error: unknown = null;
  readonly #abort = new AbortController();
  #done: Promise<void>;

  constructor(config: PostgresSourceConfig, checkpoint: string | null = null, tuning: PostgresSourceTuning = {}, opts: { ack?: boolean; keepMessages?: boolean } = {}) {
    this.source = new PostgresChangeSource(config, silentLogger(), { reconnectMinMs: 100, reconnectMaxMs: 1000, ...tuning });
    this.#done = this.#run(checkpoint, opts.ack ?? true, opts.keepMessages ?? true);
  }

  async #run(checkpoint: string | null, ack: boolean, keep: boolean): Promise<void> {
    let current: { txId: string; items: CollectedTx['items'][number][]; identities: SessionIdentity[]; alerts: CollectedTx['alerts'][number][]; identity: SessionIdentity | null } | null = null;
    try {
      for await (const m of this.source.messages(checkpoint, this.#abort.signal)) {
        if (keep) this.messages.push(m);
        switch (m.kind) {
          case 'begin':
            if (current !== null) throw new Error(`begin ${m.txId} inside ${current.txId}`);
            current = { txId: m.txId, items: [], identities: [], alerts: [], identity: null };
            break;
          case 'identity':
            current!.identity = m.identity;
            current!.identities.push(m.identity);
            break;
          case 'change':
            if (keep) current!.items.push({ identity: current!.identity, change: m.change });
            break;
          case 'alert':
            this.alerts.push(m);
            current?.alerts.push(m);
            break;
          case 'commit':
            this.txs.push({ txId: current!.txId, items: current!.items, identities: current!.identities, alerts: current!.alerts, commit: m });
            current = null;
            if (ack) await this.source.acknowledge(m.checkpoint);
            break;
          case 'idle':
            this.idles++;
            if (ack) await this.source.acknowledge(m.checkpoint);
            break;
        }
      }
    } catch (e) {
      this.error = e;
    }
  }

  /** Waits until a committed transaction satisfies `pred`, and returns it. */
  async waitTx(pred: (tx: CollectedTx) => boolean, what = 'transaction', timeoutMs = 20_000): Promise<CollectedTx> {
    return waitFor(
      () => {
        if (this.error !== null) throw this.error;
        return this.txs.find(pred);
      },
      { what, timeoutMs },
    );
  }

  /** Waits for the transaction that touched `table` and has a change matching `pred`. */
  async waitChange(table: string, pred: (c: RowChange) => boolean = () => true, timeoutMs = 20_000): Promise<CollectedTx> {
    return this.waitTx((tx) => tx.items.some((i) => i.change.table === table && pred(i.change)), `a change on ${table}`, timeoutMs);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#done;
    await this.source.close();
  }
}

export function changesOf(tx: CollectedTx): RowChange[] {
  return tx.items.map((i) => i.change);
}
