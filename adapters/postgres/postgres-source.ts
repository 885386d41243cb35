/**
 * The PostgreSQL ChangeSource: pgoutput from a logical slot, translated
 * into SourceMessages, with acknowledgement strictly after durability.
 *
 * Positions: `commit.checkpoint` is the commit's end LSN. The walsender
 * skips a transaction whose commit record starts before the start position
 * (confirmed_flush_lsn, or the LSN in START_REPLICATION when higher), so
 * resuming at a commit's end LSN skips exactly the transactions stored.
 *
 * Heartbeats: `heartbeat()` writes a non-transactional `dbwitness.heartbeat`
 * message through `<schema>.emit_heartbeat(nonce)` (heartbeat-sql.ts); it
 * comes back through this stream as an idle checkpoint at its LSN, so an
 * idle database still shows progress and its slot still advances, and the
 * nonce's round trip is `lag().seconds`.
 *
 * Reconnects: on a dropped connection or server restart the source
 * reconnects with backoff and restarts at the last commit (or idle
 * position: keepalive or heartbeat) it handed out. A transaction cut in the middle is replayed by
 * the server from its BEGIN; the messages the consumer already received are
 * skipped, so the consumer sees each transaction once and whole.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { Logger } from 'pino';
import { DbwitnessError, HEARTBEAT_UNAVAILABLE } from '../../src/core/errors.js';
import type { Source } from '../../src/core/event.js';
import { nowMicros } from '../../src/core/ids.js';
import type { ChangeSource, SourceMessage } from '../../src/core/ports.js';
import { resolveSourceUrl } from '../../src/core/source-config.js';
import type { PostgresSourceConfig } from './postgres-config.js';
import { connectAdmin, serverOf } from './postgres-connection.js';
import { fatalStreamError, slotInvalidated, slotMissing } from './postgres-errors.js';
import { FrameQueue } from './frame-queue.js';
import { heartbeatCallSql } from './heartbeat-sql.js';
import { HeartbeatTracker } from './heartbeat-tracker.js';
import { checkpointOf, formatLsn, parseLsn } from './lsn.js';
import { decodePgoutput, type Relation } from './pgoutput-decoder.js';
import { PgoutputTranslator } from './pgoutput-translator.js';
import { NO_SESSION_KEYS, sessionKeysFromRow, type SessionKeys } from './identity-message.js';
import { SessionKeyRing } from './session-key-ring.js';
import { ReplicationConnection } from './replication-connection.js';
import { quoteIdent, quoteLiteral } from './sql-quote.js';
import { SESSION_KEY_TABLE } from './identity-sql.js';
import { sleep } from '../../src/core/sleep.js';

/**
 * Messages per group handed to the consumer at most (a group holds only
 * frames already received). Small, so that a row's translated message is
 * consumed within a millisecond or so of its decoding: a group of 1,000
 * held each message for about as many row-times, long enough to outlive
 * young-generation collections and be copied into the old generation. A
 * group costs one async step, which 64 messages amortize.
 */
const MAX_BATCH = 64;

export interface PostgresSourceTuning {
  /** Frames buffered before the socket is paused (default 2000). */
  readonly highWater?: number;
  readonly lowWater?: number;
  /** Bytes of pgoutput buffered before the socket is paused (default 4 MiB), and resumed below (default 1 MiB). */
  readonly highWaterBytes?: number;
  readonly lowWaterBytes?: number;
  /** Interval of unsolicited status updates; must stay below wal_sender_timeout (default 10 s). */
  readonly statusIntervalMs?: number;
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /** Session keys older than this are read again before the next identity is checked (default 60 s; session-key-ring.ts). */
  readonly sessionKeyMaxAgeMs?: number;
  /** A failed session id reads the keys again at most this often (default 1 s). */
  readonly sessionKeyRetryMs?: number;
}

interface SlotRow {
  plugin: string | null;
  database: string | null;
  wal_status: string | null;
  confirmed_flush_lsn: string | null;
  current_db: string;
}

export class PostgresChangeSource implements ChangeSource {
  readonly source: Source;
  readonly #config: PostgresSourceConfig;
  readonly #log: Logger;
  readonly #tuning: Required<PostgresSourceTuning>;
  /** The highest LSN declared durable by `acknowledge` (or given as the start checkpoint). */
  #durable = 0n;
  #conn: ReplicationConnection | null = null;
  #queue: FrameQueue | null = null;
  #lookup: pg.Client | null = null;
  #closed = false;
  readonly #beats = new HeartbeatTracker();

  constructor(config: PostgresSourceConfig, logger: Logger, tuning: PostgresSourceTuning = {}) {
    this.#config = config;
    this.#log = logger.child({ component: 'postgres-source', source: config.id, slot: config.slot });
    this.#tuning = {
      highWater: tuning.highWater ?? 2000,
      lowWater: tuning.lowWater ?? 500,
      highWaterBytes: tuning.highWaterBytes ?? 4 * 1024 * 1024,
      lowWaterBytes: tuning.lowWaterBytes ?? 1024 * 1024,
      statusIntervalMs: tuning.statusIntervalMs ?? 10_000,
      reconnectMinMs: tuning.reconnectMinMs ?? 250,
      reconnectMaxMs: tuning.reconnectMaxMs ?? 15_000,
      sessionKeyMaxAgeMs: tuning.sessionKeyMaxAgeMs ?? 60_000,
      sessionKeyRetryMs: tuning.sessionKeyRetryMs ?? 1000,
    };
    this.source = { id: config.id, engine: 'postgres', ...serverOf(config.url) };
  }

  /** Frames read from the server and not yet handed out (bounded by highWater plus one socket read). */
  get bufferedFrames(): number {
    return this.#queue?.size ?? 0;
  }

  /** Bytes of those frames (bounded by highWaterBytes plus one socket read and one frame). */
  get bufferedBytes(): number {
    return this.#queue?.bytes ?? 0;
  }

  async acknowledge(checkpoint: string): Promise<void> {
    const lsn = parseLsn(checkpoint);
    if (lsn > this.#durable) this.#durable = lsn;
    // The pipeline calls this only after the events up to `checkpoint` are fsync'd.
    this.#conn?.sendStatus(this.#durable);
  }

  /**
   * How far the server is ahead of what dbwitness acknowledged (slot lag),
   * and how much WAL the slot makes the server keep: the figures operators
   * alert on before `max_slot_wal_keep_size` invalidates the slot. Read on a
   * short ordinary connection; pg_replication_slots and pg_current_wal_lsn()
   * are readable by any role.
   */
  async lag(): Promise<{ bytes: number | null; retainedBytes: number | null; seconds: number | null }> {
    const client = await connectAdmin(this.#config, { application_name: 'dbwitness-lag' });
    try {
      const { rows } = await client.query<{ lag: string | null; retained: string | null }>(
        'SELECT (pg_catalog.pg_current_wal_lsn() OPERATOR(pg_catalog.-) confirmed_flush_lsn)::text AS lag, (pg_catalog.pg_current_wal_lsn() OPERATOR(pg_catalog.-) restart_lsn)::text AS retained FROM pg_catalog.pg_replication_slots WHERE slot_name = $1',
        [this.#config.slot],
      );
      const row = rows[0];
      const num = (v: string | null | undefined): number | null => (v === null || v === undefined ? null : Number(v));
      return { bytes: num(row?.lag), retainedBytes: num(row?.retained), seconds: this.#beats.seconds(performance.now()) };
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /**
   * Writes one heartbeat into the WAL (see heartbeat-sql.ts) over a short
   * ordinary connection, remembering its nonce and when it was sent. The
   * message itself, read back by `messages()`, is what shows progress.
   * Resolves to the message's position, in the checkpoint form of the idle
   * message it becomes.
   */
  async heartbeat(): Promise<string> {
    const nonce = randomBytes(12).toString('hex');
    const client = await connectAdmin(this.#config, { application_name: 'dbwitness-heartbeat' });
    try {
      this.#beats.sent(nonce, performance.now());
      const { rows } = await client.query<{ lsn: string }>(heartbeatCallSql(this.#config.schema_name), [nonce]);
      return checkpointOf(parseLsn(rows[0]?.lsn ?? ''));
    } catch (e) {
      this.#beats.failed(nonce);
      throw heartbeatFailed(this.#config.schema_name, e);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#conn?.close();
    this.#conn = null;
    await this.#lookup?.end().catch(() => undefined);
    this.#lookup = null;
  }

  /** One message at a time: `batches`, flattened. */
  async *messages(checkpoint: string | null, signal: AbortSignal): AsyncGenerator<SourceMessage> {
    for await (const batch of this.batches(checkpoint, signal)) yield* batch;
  }

  /**
   * The stream in groups: every frame already received is decoded and
   * translated synchronously, and the messages are handed over together
   * when no further frame is queued (or the group is full). One async step
   * per group instead of per message: the per-message promises were a
   * large share of the drain's allocations at one row per transaction.
   */
  async *batches(checkpoint: string | null, signal: AbortSignal): AsyncGenerator<readonly SourceMessage[]> {
    /** Where the next connection starts: the last commit end or idle position handed out. */
    let resume = checkpoint === null ? 0n : parseLsn(checkpoint);
    if (resume > this.#durable) this.#durable = resume;
    /** The transaction being handed out, and how many of its messages went out. */
    let open: { xid: string; sent: number } | null = null;
    /** After a reconnect inside a transaction: messages of its replay still to drop. */
    let replay: { xid: string; drop: number; first: boolean } | null = null;
    let failures = 0;
    let first = true;
    /**
     * Messages translated and not yet handed over. They already count as
     * sent (`open.sent`, `resume`), so after a stream failure they are handed
     * over before reconnecting: the replay drops exactly what was counted.
     */
    let batch: SourceMessage[] = [];

    while (!signal.aborted && !this.#closed) {
      let conn: ReplicationConnection;
      try {
        conn = await ReplicationConnection.open(resolveSourceUrl(this.#config));
      } catch (e) {
        const fatal = fatalStreamError(e, this.#config.slot, this.#config.publication);
        if (fatal !== null) throw fatal;
        failures++;
        this.#log.warn({ attempt: failures, err: errText(e) }, 'cannot connect for replication; retrying');
        await sleep(this.#backoff(failures), signal);
        continue;
      }
      this.#conn = conn;
      const queue = new FrameQueue(this.#tuning.highWater, this.#tuning.lowWater, conn, this.#tuning.highWaterBytes, this.#tuning.lowWaterBytes);
      this.#queue = queue;
      const onAbort = (): void => {
        queue.interrupt();
        void conn.close();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      // Unsolicited status updates keep wal_sender_timeout from firing while
      // the socket is paused by backpressure; they carry the durable LSN only.
      const timer = setInterval(() => conn.sendStatus(this.#durable), this.#tuning.statusIntervalMs);
      try {
        const slot = await this.#checkSlot(conn);
        const translator = new PgoutputTranslator(
          (rel) => this.#keyColumns(rel),
          (nonce) => this.#beats.seen(nonce, performance.now()),
          new SessionKeyRing(await this.#sessionKeys(), () => this.#sessionKeys(), { maxAgeMs: this.#tuning.sessionKeyMaxAgeMs, retryMs: this.#tuning.sessionKeyRetryMs }),
        );
        if (first && resume !== 0n && slot.confirmed !== null && slot.confirmed > resume) {
          batch.push({
            kind: 'alert',
            code: 'pg_slot_ahead_of_store',
            message: `slot "${this.#config.slot}" was confirmed up to ${formatLsn(slot.confirmed)} but the store's checkpoint is ${formatLsn(resume)}: changes in between are not in this store`,
            position: formatLsn(slot.confirmed),
            time: nowMicros(),
            detail: { store_checkpoint: formatLsn(resume), slot_confirmed_flush: formatLsn(slot.confirmed) },
          });
        }
        first = false;
        // Never report less than the slot already has: before PG17 a lower
        // flush position moves confirmed_flush_lsn backwards in memory.
        if (slot.confirmed !== null && slot.confirmed > this.#durable) this.#durable = slot.confirmed;
        this.#log.info({ start: formatLsn(resume), replaying: replay !== null }, 'starting replication');
        conn
          .stream(this.#config.slot, this.#config.publication, resume, {
            data: (bytes) => queue.push({ kind: 'data', bytes }),
            keepalive: (walEnd, replyRequested) => {
              if (replyRequested) conn.sendStatus(this.#durable);
              queue.push({ kind: 'keepalive', walEnd });
            },
          })
          .then(
            () => queue.push({ kind: 'end', error: null }),
            (e: unknown) => queue.push({ kind: 'end', error: e }),
          );
        for (;;) {
          let frame = queue.take();
          if (frame === undefined) {
            if (batch.length > 0) {
              // Nothing more is queued: hand over what is ready before waiting.
              const out = batch;
              batch = [];
              yield out;
              continue;
            }
            const waited = await queue.shift(signal);
            if (waited === null) return;
            frame = waited;
          }
          if (frame.kind === 'end') throw frame.error ?? new Error('the server ended the replication stream');
          failures = 0;
          if (frame.kind === 'keepalive') {
            // Every frame before this keepalive has been handed out; with no
            // transaction open, everything up to walEnd is delivered. (After a
            // reconnect inside a transaction the consumer still has it open
            // while the server replays it: no idle until its commit.)
            if (open === null && !translator.inTransaction) {
              // Each position is offered once: the pipeline stores the newest
              // idle position within its idle interval even if nothing follows
              // (a stopping server's walsender waits for exactly that).
              if (frame.walEnd > resume) {
                resume = frame.walEnd;
                batch.push({ kind: 'idle', checkpoint: checkpointOf(frame.walEnd) });
              }
            }
            continue;
          }
          const translated = translator.translate(decodePgoutput(frame.bytes));
          for (const m of Array.isArray(translated) ? translated : await translated) {
            if (m.kind === 'idle') {
              // A heartbeat: the same rule as a keepalive. Resuming at its LSN
              // delivers it again, which moves nothing.
              const at = parseLsn(m.checkpoint);
              if (open === null && !translator.inTransaction && at > resume) {
                resume = at;
                batch.push(m);
              }
              continue;
            }
            if (replay !== null) {
              if (replay.first) {
                if (m.kind !== 'begin' || m.txId !== replay.xid) {
                  throw new DbwitnessError('E_PG_REPLAY', `after reconnecting, transaction ${replay.xid} was expected again but ${m.kind === 'begin' ? m.txId : m.kind} arrived`, 'restart dbwitness; it resumes from the last durable checkpoint');
                }
                replay.first = false;
              }
              replay.drop--;
              if (replay.drop === 0) replay = null;
              continue;
            }
            if (m.kind === 'begin') open = { xid: m.txId, sent: 0 };
            if (open !== null) open.sent++;
            if (m.kind === 'commit') {
              open = null;
              resume = parseLsn(m.checkpoint);
            }
            batch.push(m);
          }
          if (batch.length >= MAX_BATCH) {
            const out = batch;
            batch = [];
            yield out;
          }
        }
      } catch (e) {
        if (signal.aborted || this.#closed) return;
        const fatal = fatalStreamError(e, this.#config.slot, this.#config.publication);
        if (fatal !== null) throw fatal;
        if (batch.length > 0) {
          const out = batch;
          batch = [];
          yield out;
        }
        failures++;
        if (open !== null) replay = { xid: open.xid, drop: open.sent, first: true };
        this.#log.warn({ attempt: failures, err: errText(e), resume: formatLsn(resume), open_tx: open?.xid ?? null }, 'replication stream lost; reconnecting');
        await this.#lookup?.end().catch(() => undefined);
        this.#lookup = null;
        await sleep(this.#backoff(failures), signal);
      } finally {
        clearInterval(timer);
        signal.removeEventListener('abort', onAbort);
        await conn.close();
        if (this.#conn === conn) this.#conn = null;
      }
    }
  }

  #backoff(failures: number): number {
    const base = Math.min(this.#tuning.reconnectMaxMs, this.#tuning.reconnectMinMs * 2 ** Math.min(failures - 1, 10));
    return base / 2 + Math.random() * (base / 2);
  }

  /** The slot must exist, be a pgoutput slot of this database, and not be invalidated; run never creates one. */
  async #checkSlot(conn: ReplicationConnection): Promise<{ confirmed: bigint | null }> {
    // A replication connection accepts the simple query protocol only: no bind parameters.
    const rows = await conn.query<SlotRow>(
      `SELECT plugin, database, wal_status, confirmed_flush_lsn::text AS confirmed_flush_lsn, pg_catalog.current_database() AS current_db
       FROM pg_catalog.pg_replication_slots WHERE slot_name = ${quoteLiteral(this.#config.slot)}`,
    );
    const slot = rows[0];
    if (slot === undefined) throw slotMissing(this.#config.slot);
    if (slot.wal_status === 'lost') throw slotInvalidated(this.#config.slot, 'wal_status = lost');
    if (slot.plugin !== 'pgoutput' || slot.database !== slot.current_db) {
      throw new DbwitnessError(
        'E_PG_SLOT_KIND',
        `replication slot "${this.#config.slot}" is not a pgoutput slot of database "${slot.current_db}" (plugin ${slot.plugin ?? 'none'}, database ${slot.database ?? 'none'})`,
        'give dbwitness its own slot (--slot NAME) and create it with `dbwitness setup postgres --apply`',
      );
    }
    return { confirmed: slot.confirmed_flush_lsn === null ? null : parseLsn(slot.confirmed_flush_lsn) };
  }

  /** The catalog connection (key columns, session key), opened on first use and again after a stream failure. */
  async #lookupClient(): Promise<pg.Client> {
    if (this.#lookup === null) {
      const client = new pg.Client({ connectionString: resolveSourceUrl(this.#config), application_name: 'dbwitness' });
      client.on('error', () => undefined);
      await client.connect();
      this.#lookup = client;
    }
    return this.#lookup;
  }

  /**
   * The keys that sign cached session ids (identity-sql.ts), read at every
   * (re)connect so a key created by a later setup is picked up, and again
   * when an id fails against the keys held (a rotation). The row is read as
   * JSON so a table from a setup before rotation (no prev_k, rotated_at,
   * prev_until) reads the same. Missing table or privilege (a setup from
   * before the key): no key, and the translator reports each session whose
   * id it cannot check. Any other failure is the connection's and goes to
   * the reconnect loop.
   */
  async #sessionKeys(): Promise<SessionKeys> {
    const client = await this.#lookupClient();
    try {
      const { rows } = await client.query<{ r: Record<string, unknown> }>(`SELECT pg_catalog.to_jsonb(t.*) AS r FROM ${quoteIdent(this.#config.schema_name)}.${SESSION_KEY_TABLE} AS t`);
      return sessionKeysFromRow(rows[0]?.r);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code !== '42P01' && code !== '42501') throw e;
      this.#log.warn({ err: errText(e), schema: this.#config.schema_name }, 'cannot read the session key: session ids of identity messages cannot be checked; re-run `dbwitness setup postgres --apply`');
      return NO_SESSION_KEYS;
    }
  }

  /** Primary key (else replica identity index) columns, in key order, from the catalog. */
  async #keyColumns(relation: Relation): Promise<readonly string[] | null> {
    const lookup = await this.#lookupClient();
    const { rows } = await lookup.query<{ indexrelid: string; attname: string }>(
      `SELECT i.indexrelid::text AS indexrelid, a.attname
       FROM pg_catalog.pg_index i
       CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
       WHERE i.indrelid = $1::pg_catalog.oid AND (i.indisprimary OR i.indisreplident)
       ORDER BY i.indisprimary DESC, i.indexrelid, k.ord`,
      [String(relation.id)],
    );
    const firstIndex = rows[0]?.indexrelid;
    if (firstIndex === undefined) return null;
    return rows.filter((r) => r.indexrelid === firstIndex).map((r) => r.attname);
  }
}

function heartbeatFailed(schema: string, e: unknown): DbwitnessError {
  const reason = errText(e);
  const missing = /does not exist|permission denied/i.test(reason);
  return new DbwitnessError(
    // Missing or not granted: the daemon stops asking this source for heartbeats (see HEARTBEAT_UNAVAILABLE).
    missing ? HEARTBEAT_UNAVAILABLE : 'E_PG_HEARTBEAT',
    `cannot write a heartbeat: ${reason}`,
    missing
      ? `run \`dbwitness setup postgres --apply\` (it creates ${schema}.emit_heartbeat() and grants the daemon role EXECUTE on it); \`dbwitness doctor\` shows pg.heartbeat`
      : 'check that the server is up; until heartbeats arrive an idle source counts as silent',
    { cause: e },
  );
}

function errText(e: unknown): string {
  // Server and network errors name no row values; keep only the message.
  return e instanceof Error ? e.message : String(e);
}

