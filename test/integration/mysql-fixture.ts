/**
 * Shared setup for the MySQL/MariaDB integration tests: a private MariaDB
 * 10.11 (test/harness), the adapter's setup applied, and helpers that run
 * SQL as an account from a chosen 127.0.0.x address and collect source
 * messages until a barrier condition holds.
 */
import net from 'node:net';
import mysql from 'mysql2/promise';
import { startMariaDB, waitFor, type MariaDbServer } from '../harness/index.js';
import { silentLogger } from '../../src/core/logger.js';
import type { SourceMessage } from '../../src/core/ports.js';
import { mysqlAdapter } from '../../adapters/mysql/index.js';
import { MysqlSourceConfig } from '../../adapters/mysql/mysql-config.js';
import type { BinlogSource } from '../../adapters/mysql/binlog-source.js';

export const ctx = { logger: silentLogger() };
export const REPL_PASSWORD = 'repl-Secret-42';

export async function startClinic(config: Record<string, string> = {}): Promise<MariaDbServer> {
  const db = await startMariaDB({ config, database: 'clinic' });
  await db.query('CREATE TABLE clinic.patients (id BIGINT PRIMARY KEY, mrn VARCHAR(32) NOT NULL, name VARCHAR(200) NOT NULL, dob DATE, balance DECIMAL(12,2))');
  await db.query('CREATE TABLE clinic.encounters (id BIGINT PRIMARY KEY, patient_id BIGINT NOT NULL, note TEXT, seen_at TIMESTAMP(6) NULL)');
  for (const [user, host] of [['alice', '127.0.0.%'], ['bob', '127.0.0.%']] as const) {
    await db.query(`CREATE USER '${user}'@'${host}' IDENTIFIED BY '${user}-pw'`);
    await db.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON clinic.* TO '${user}'@'${host}'`);
  }
  return db;
}

export function sourceConfig(db: MariaDbServer, extra: Record<string, unknown> = {}): MysqlSourceConfig {
  return MysqlSourceConfig.parse({ id: 'mdb', url: db.url(), tables: ['clinic.patients', 'clinic.encounters'], heartbeat_seconds: 1, ...extra });
}

export async function applySetup(config: MysqlSourceConfig): Promise<void> {
  const plan = await mysqlAdapter.planSetup(config, ctx);
  process.env[config.replication_password_env] = REPL_PASSWORD;
  await mysqlAdapter.applyPlan(config, plan, ctx);
}

/** Runs statements in one transaction as `user`, connecting from `localAddress` (127.0.0.x). */
export async function execAs(db: MariaDbServer, user: string, statements: readonly string[], opts: { localAddress?: string; appUser?: string; rollback?: boolean; charset?: string } = {}): Promise<{ connId: number; localPort: number }> {
  // mysql2 stores `localAddress` but does not pass it to net.connect, so
  // the socket is made here, bound to the chosen loopback address.
  const stream = net.connect({ host: '127.0.0.1', port: db.port, localAddress: opts.localAddress ?? '127.0.0.1' });
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: db.port, user, password: `${user}-pw`, stream, ...(opts.charset !== undefined ? { charset: opts.charset } : {}) });
  try {
    if (opts.appUser !== undefined) await conn.query('SET @dbwitness_app_user = ?', [opts.appUser]);
    await conn.beginTransaction();
    for (const s of statements) await conn.query(s);
    if (opts.rollback) await conn.rollback();
    else await conn.commit();
    const [r] = await conn.query('SELECT CONNECTION_ID() AS id');
    return { connId: Number((r as Array<{ id: number }>)[0]!.id), localPort: stream.localPort! };
  } finally {
    await conn.end();
  }
}

/** A running consumer of a source: messages so far, and a stop handle. */
export class Collector {
  readonly messages: SourceMessage[] = [];
  readonly #ac = new AbortController();
  readonly done: Promise<void>;
  error: unknown = null;

  constructor(source: BinlogSource, checkpoint: string | null) {
    this.done = (async () => {
      try {
        for await (const m of source.messages(checkpoint, this.#ac.signal)) this.messages.push(m);
      } catch (e) {
        this.error = e;
      }
    })();
  }

  commits(): Array<Extract<SourceMessage, { kind: 'commit' }>> {
    return this.messages.filter((m): m is Extract<SourceMessage, { kind: 'commit' }> => m.kind === 'commit');
  }

  changes(): Array<Extract<SourceMessage, { kind: 'change' }>['change']> {
    return this.messages.flatMap((m) => (m.kind === 'change' ? [m.change] : []));
  }

  async until<T>(probe: (c: Collector) => T | undefined | null | false, what: string, timeoutMs = 20_000): Promise<T> {
    return waitFor(() => {
      if (this.error) throw this.error;
      return probe(this);
    }, { what, timeoutMs });
  }

  async stop(): Promise<void> {
    this.#ac.abort();
    await this.done;
  }
}

/** Splits messages into whole transactions: [begin, ...body, commit]. */
export function transactions(msgs: readonly SourceMessage[]): SourceMessage[][] {
  const out: SourceMessage[][] = [];
  let cur: SourceMessage[] | null = null;
  for (const m of msgs) {
    if (m.kind === 'begin') cur = [m];
    else if (cur) {
      cur.push(m);
      if (m.kind === 'commit') {
        out.push(cur);
        cur = null;
      }
    }
  }
  return out;
}

export async function openSource(config: MysqlSourceConfig): Promise<BinlogSource> {
  return (await mysqlAdapter.openSource(config, ctx)) as BinlogSource;
}

/** Opens a source on `config` and collects its messages from the server-side start, once it is streaming. */
export async function startedCollector(config: MysqlSourceConfig): Promise<{ source: BinlogSource; c: Collector }> {
  const source = await openSource(config);
  const c = new Collector(source, null);
  await c.until((x) => x.messages.some((m) => m.kind === 'idle'), 'source started');
  return { source, c };
}

/** afterAll for the pieces above; any may be missing when beforeAll failed half way. */
export async function stopAll(c: Collector | undefined, source: BinlogSource | undefined, db: MariaDbServer | undefined): Promise<void> {
  await c?.stop();
  await source?.close();
  await db?.close();
}
