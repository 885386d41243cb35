/**
 * The MySQL/MariaDB ChangeSource: binlog streams from a resume point,
 * reconnecting with backoff when the server goes away.
 *
 * Nothing is acknowledged to the server: a binlog reader holds no position
 * there (unlike a PostgreSQL slot), so the store's checkpoint is the only
 * resume point, and binlog retention (doctor checks it against the outage
 * budget) bounds how long dbwitness may be down. `lag()` measures how far
 * the binlog is ahead of that durable position (binlog-lag.ts).
 *
 * Reconnect inside a transaction: the new stream replays that transaction
 * from its GTID. Its messages come out identical (the binlog is immutable
 * and the assembler deterministic), so the ones already delivered are
 * skipped and the consumer sees each transaction exactly once and whole.
 */
import type { Logger } from 'pino';
import { DbwitnessError, isDbwitnessError, redactUrl } from '../../src/core/errors.js';
import type { Source } from '../../src/core/event.js';
import type { ChangeSource, SourceMessage } from '../../src/core/ports.js';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from './binlog-checkpoint.js';
import { assertResumable, currentPosition } from './binlog-position.js';
import { BinlogStream } from './binlog-stream.js';
import { auditScope, effectiveServerId, type MysqlSourceConfig } from './mysql-config.js';
import { connect, connectionOptions, rows, serverFlavor, type ServerFlavor } from './mysql-connect.js';
import type { TableFacts } from './zongji-events.js';
import { ConnectionRegistry } from './connection-registry.js';
import { loadTableFacts, preloadRegistry } from './table-facts.js';
import { sleep } from '../../src/core/sleep.js';
import { measureLag, type BinlogLag, type DurablePoint } from './binlog-lag.js';
import { binlogMarkOf, type BinlogMark } from './tx-assembler.js';

/** Checkpoints handed out and not yet acknowledged, kept for lag(); beyond this the oldest are forgotten. */
const MAX_PENDING_MARKS = 10_000;

/** Errors after which retrying cannot help: access, privileges, purged binlog. */
const FATAL_ERRNOS = new Set([1045, 1044, 1142, 1143, 1227, 1236, 1370]);

/** Connection-level failures worth a reconnect: the server went away or the link broke. */
const TRANSIENT_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'E_SILENT', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_SERVER_SHUTDOWN', 'ER_CONNECTION_KILLED', 'ER_QUERY_INTERRUPTED', 'ERR_STREAM_WRITE_AFTER_END']);
/** 1053 shutdown in progress, 1927 connection killed, 2006/2013 server gone/lost, 1040 too many connections. */
const TRANSIENT_ERRNOS = new Set([1053, 1927, 2006, 2013, 1040, 1317]);

function isTransient(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; fatal?: boolean };
  if (e.code !== undefined && TRANSIENT_CODES.has(e.code)) return true;
  if (e.errno !== undefined && TRANSIENT_ERRNOS.has(e.errno)) return true;
  return false;
}

export class BinlogSource implements ChangeSource {
  readonly source: Source;
  readonly #config: MysqlSourceConfig;
  readonly #logger: Logger;
  readonly #flavor: ServerFlavor;
  #stream: BinlogStream | null = null;
  #closed = false;
  #acked: string | null = null;
  #reconnects = 0;
  #serverHost: string | null = null;
  /** The durable resume point (stored or acknowledged) and where it stands in the binlog. */
  #durable: (DurablePoint & { readonly token: string }) | null = null;
  /** Checkpoint messages yielded after the durable point, oldest first, one per distinct token. */
  #pending: Array<{ readonly token: string; mark: BinlogMark }> = [];

  /** Where a new chain starts: the server's position when the source was opened. */
  readonly #openedAt: Checkpoint;

  constructor(config: MysqlSourceConfig, flavor: ServerFlavor, logger: Logger, openedAt: Checkpoint) {
    this.#config = config;
    this.#openedAt = openedAt;
    this.#flavor = flavor;
    this.#logger = logger.child({ component: 'binlog-source', source: config.id });
    const opts = connectionOptions(config);
    const scope = auditScope(config);
    this.source = {
      id: config.id,
      engine: flavor.isMariaDb ? 'mariadb' : 'mysql',
      server: `${opts.host}:${opts.port}`,
      database: scope.databases[0] ?? scope.tables[0]?.[0] ?? opts.database ?? '',
    };
  }

  /** How many times the binlog connection was re-established (observability, tests). */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Weight (change-weight.ts) of the changes read and not yet taken (bounded: binlog-stream.ts). */
  get bufferedWeight(): number {
    return this.#stream?.queuedWeight ?? 0;
  }

  get lastAcknowledged(): string | null {
    return this.#acked;
  }

  async *messages(checkpoint: string | null, signal: AbortSignal): AsyncGenerator<SourceMessage> {
    const cfg = this.#config;
    const facts: TableFacts = { keys: new Map(), logical: new Map() };
    // MySQL 8 names each transaction's connection; the registry says whose
    // it was. Registrations older than the resume point are read from the
    // table, later ones arrive in the binlog.
    let registry: ConnectionRegistry | null = null;
    let resume: Checkpoint;
    {
      const ctrl = await connect(cfg);
      try {
        // Session ids are `<@@hostname>:<connection id>`, as in the server_audit log.
        const [h] = await rows<{ h: string | null }>(ctrl, 'SELECT @@hostname AS h');
        this.#serverHost = h?.h || null;
        registry = this.#flavor.isMariaDb ? null : new ConnectionRegistry(undefined, this.#serverHost);
        // Not "now": whatever committed after openSource returned (and the
        // daemon reported itself streaming) must be in the new chain.
        resume = checkpoint ? decodeCheckpoint(checkpoint) : this.#openedAt;
        // A stored checkpoint is durable by definition.
        if (checkpoint) this.#durable = { token: checkpoint, checkpoint: resume, mark: null };
        await assertResumable(ctrl, this.#flavor, resume);
        await loadTableFacts(ctrl, cfg, facts);
        if (registry) await preloadRegistry(ctrl, cfg, registry, this.#logger);
      } finally {
        await ctrl.end().catch(() => undefined);
      }
    }
    // A new chain starts "now": hand the starting point over at once so it
    // is stored, and a crash before the first change cannot skip anything.
    if (!checkpoint) yield { kind: 'idle', checkpoint: encodeCheckpoint(resume) };

    let openTx: string | null = null;
    let deliveredInTx = 0;
    let skip: { txId: string; count: number } | null = null;
    let failures = 0;
    let downSince: number | null = null;

    while (!signal.aborted && !this.#closed) {
      const stream = this.#openStream(resume, facts, registry);
      try {
        for await (const m of stream.drain(signal)) {
          failures = 0;
          downSince = null;
          if (skip) {
            if (m.kind === 'idle') continue;
            if (m.kind === 'begin' && m.txId !== skip.txId) {
              throw new DbwitnessError('E_MYSQL_REPLAY_MISMATCH', `after reconnecting, transaction ${m.txId} arrived where ${skip.txId} was being replayed`, 'restart dbwitness: it resumes from the stored checkpoint');
            }
            if (skip.count > 0) {
              skip.count--;
              continue;
            }
            skip = null;
          }
          if (m.kind === 'begin') {
            openTx = m.txId;
            deliveredInTx = 0;
          }
          if (m.kind === 'commit' || m.kind === 'idle') {
            openTx = null;
            deliveredInTx = 0;
          } else {
            deliveredInTx++;
          }
          if (m.kind === 'commit' || m.kind === 'idle') this.#noteCheckpoint(m.checkpoint, binlogMarkOf(m));
          yield m;
        }
        return; // aborted
      } catch (err) {
        if (isDbwitnessError(err)) throw err;
        const errno = (err as { errno?: number }).errno;
        if (errno !== undefined && FATAL_ERRNOS.has(errno)) throw await this.#fatal(err, resume);
        if (!isTransient(err)) {
          // A decoding failure (unsupported event, schema drift) would recur
          // on every reconnect: stop and say so rather than loop.
          throw new DbwitnessError('E_MYSQL_DECODE', `the binlog stream failed at ${encodeCheckpoint(resume)}: ${(err as Error).message ?? String(err)}`, 'check the server log and the binlog at that position; dbwitness resumes from the stored checkpoint when restarted', { cause: err });
        }
        resume = decodeCheckpoint(stream.checkpoint);
        skip = openTx ? { txId: openTx, count: deliveredInTx } : null;
        downSince ??= Date.now();
        const code = (err as { code?: string }).code ?? 'UNKNOWN';
        if (cfg.reconnect_timeout_ms > 0 && Date.now() - downSince > cfg.reconnect_timeout_ms) {
          throw new DbwitnessError('E_MYSQL_UNREACHABLE', `binlog connection to ${redactUrl(cfg.url)} lost (${code}) and not back within ${cfg.reconnect_timeout_ms} ms`, 'check the server; dbwitness resumes from its checkpoint when restarted', { cause: err });
        }
        const delay = Math.min(cfg.max_backoff_ms, 100 * 2 ** Math.min(failures, 10));
        this.#reconnects++;
        failures++;
        this.#logger.warn({ code, errno, retryInMs: delay, inTransaction: openTx !== null }, 'binlog connection lost; reconnecting');
        await sleep(delay, signal);
        if (signal.aborted) return;
        try {
          const ctrl = await connect(cfg);
          try {
            await assertResumable(ctrl, this.#flavor, resume);
          } finally {
            await ctrl.end().catch(() => undefined);
          }
        } catch (e) {
          if (isDbwitnessError(e) && e.code === 'E_MYSQL_BINLOG_PURGED') throw e;
          // Server still down: the next stream attempt fails and backs off again.
        }
      } finally {
        stream.stop();
        if (this.#stream === stream) this.#stream = null;
      }
    }
  }

  #openStream(resume: Checkpoint, facts: TableFacts, registry: ConnectionRegistry | null): BinlogStream {
    const cfg = this.#config;
    const scope = auditScope(cfg);
    const include: Record<string, string[] | true> = {};
    for (const db of scope.databases) include[db] = true;
    for (const [db, t] of scope.tables) {
      const cur = include[db];
      if (cur !== true) include[db] = [...(cur ?? []), t];
    }
    const addTable = (db: string, t: string): void => {
      const cur = include[db];
      if (cur !== true) include[db] = [...(cur ?? []), t];
    };
    addTable(cfg.marker_database, cfg.marker_table);
    if (registry) addTable(cfg.marker_database, cfg.registry_table);
    const stream = new BinlogStream(resume, {
      connection: connectionOptions(cfg),
      serverId: effectiveServerId(cfg),
      includeSchema: include,
      heartbeatSeconds: cfg.heartbeat_seconds,
      highWaterMark: cfg.high_water_mark,
      facts,
      logger: this.#logger,
      assembler: {
        marker: [cfg.marker_database, cfg.marker_table],
        serverHost: this.#serverHost,
        ...(registry ? { registry, registryTable: [cfg.marker_database, cfg.registry_table] as const } : {}),
        ddlDatabases: [...new Set([...scope.databases, ...scope.tables.map(([d]) => d), cfg.marker_database])],
      },
    });
    this.#stream = stream;
    return stream;
  }

  async #fatal(err: unknown, resume: Checkpoint): Promise<DbwitnessError> {
    const errno = (err as { errno?: number }).errno;
    if (errno === 1236) {
      // The server refused the resume point: usually purged binlogs.
      try {
        const ctrl = await connect(this.#config);
        try {
          await assertResumable(ctrl, this.#flavor, resume);
        } finally {
          await ctrl.end().catch(() => undefined);
        }
      } catch (e) {
        if (isDbwitnessError(e)) return e;
      }
      return new DbwitnessError('E_MYSQL_BINLOG_PURGED', `the server cannot stream from ${encodeCheckpoint(resume)}: ${(err as Error).message}`, 'the binlogs no longer reach the resume point: record the gap, raise binlog retention, and start a new chain', { exitCode: 1, cause: err });
    }
    return new DbwitnessError('E_MYSQL_BINLOG_ACCESS', `the binlog connection was refused (errno ${errno})`, 'grant the replication account REPLICATION SLAVE and BINLOG MONITOR (MariaDB) or REPLICATION CLIENT (MySQL); see `dbwitness setup mysql`', { cause: err });
  }

  async acknowledge(checkpoint: string): Promise<void> {
    // Called only after the events up to `checkpoint` are fsync'd; the
    // server keeps no reader position, so this only records progress.
    this.#acked = checkpoint;
    let at = -1;
    for (let i = this.#pending.length - 1; i >= 0; i--) {
      if (this.#pending[i]!.token === checkpoint) {
        at = i;
        break;
      }
    }
    const mark = at >= 0 ? this.#pending[at]!.mark : this.#durable?.token === checkpoint ? this.#durable.mark : null;
    this.#durable = { token: checkpoint, checkpoint: decodeCheckpoint(checkpoint), mark };
    if (at >= 0) this.#pending = this.#pending.slice(at + 1);
  }

  /** Records where a checkpoint handed to the consumer stands in the binlog. */
  #noteCheckpoint(token: string, mark: BinlogMark | undefined): void {
    if (!mark) return;
    const d = this.#durable;
    if (d && d.token === token && this.#pending.length === 0) {
      // Same resume point as the durable one, read further on: nothing in
      // between needs auditing, so the durable position moves with it.
      this.#durable = { ...d, mark: { ...mark, newestMs: mark.newestMs ?? d.mark?.newestMs ?? null } };
      return;
    }
    const last = this.#pending.at(-1);
    if (last && last.token === token) {
      last.mark = { ...mark, oldestMs: last.mark.oldestMs ?? mark.oldestMs };
      return;
    }
    this.#pending.push({ token, mark });
    if (this.#pending.length > MAX_PENDING_MARKS) this.#pending.shift();
  }

  /**
   * Bytes of binlog written past the durable position, bytes the server
   * retains from the oldest file still needed, and seconds behind (see
   * binlog-lag.ts). A short ordinary connection with the source's own
   * account: SHOW BINARY LOGS / SHOW MASTER STATUS need BINLOG MONITOR
   * (MariaDB) or REPLICATION CLIENT (MySQL), which setup grants it.
   */
  async lag(): Promise<BinlogLag> {
    const durable = this.#durable;
    const oldestPending = this.#pending.find((p) => p.mark.oldestMs !== null)?.mark.oldestMs ?? null;
    const conn = await connect(this.#config);
    try {
      return await measureLag(conn, this.#flavor, durable, oldestPending);
    } finally {
      await conn.end().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stream?.stop();
    this.#stream = null;
  }
}


export async function openBinlogSource(config: MysqlSourceConfig, logger: Logger): Promise<BinlogSource> {
  const conn = await connect(config);
  try {
    const flavor = await serverFlavor(conn);
    return new BinlogSource(config, flavor, logger, await currentPosition(conn, flavor));
  } finally {
    await conn.end().catch(() => undefined);
  }
}
