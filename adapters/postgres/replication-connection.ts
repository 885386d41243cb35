/**
 * One streaming-replication connection (replication=database) speaking the
 * walsender's CopyBoth sub-protocol directly through node-postgres.
 *
 * Why not pg-logical-replication's LogicalReplicationService: its
 * acknowledge() reports `lsn + 1` as flushed (confirming `end + 1` can skip a
 * transaction whose commit record starts exactly at `end`, because the
 * walsender skips commits that start before confirmed_flush_lsn); its timer
 * acknowledges `lastLsn`, which includes frames not yet processed; under
 * flowControl it emits keepalives ahead of queued data; and resubscribing
 * reuses `lastLsn`. Each of those confirms WAL before it is durable.
 * Here the only LSN ever reported flushed is the one the caller declared
 * durable, and keepalives stay in stream order with the data.
 */
import pg from 'pg';
import { PG_EPOCH_MICROS } from '../../src/core/ids.js';
import { quoteIdent, quoteLiteral } from './sql-quote.js';

/** The parts of pg's internal Connection this module needs. */
interface WireConnection {
  on(event: 'copyData', listener: (msg: { chunk: Buffer }) => void): void;
  once(event: 'replicationStart', listener: () => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
  stream: { pause(): void; resume(): void; isPaused?(): boolean };
}

/**
 * pgoutput renders values with the walsender session's output functions, so
 * these settings fix the text form whatever the server's defaults are:
 * timestamptz in UTC, ISO dates, PostgreSQL interval style, and the shortest
 * float text that reads back exactly (extra_float_digits >= 1, PG12+).
 */
const OUTPUT_SETTINGS = '-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=1';

export interface StreamHandlers {
  /**
   * Called synchronously, in stream order, for every XLogData frame, with
   * the pgoutput message's bytes: a copy, since node-postgres reuses its
   * read buffer for the next socket chunk. Decoding is left to the
   * consumer (`decodePgoutput`), so frames waiting in a queue hold these
   * few bytes rather than decoded rows: held for tens of milliseconds, each
   * decoded row outlived several young-generation collections and was
   * copied into the old generation.
   */
  data(bytes: Buffer): void;
  /** Called synchronously, in stream order, for every primary keepalive. */
  keepalive(walEnd: bigint, replyRequested: boolean): void;
}

export class ReplicationConnection {
  readonly #client: pg.Client;
  #wire: WireConnection | null = null;
  #closed = false;
  #error: Error | null = null;

  private constructor(client: pg.Client) {
    this.#client = client;
  }

  static async open(connectionString: string): Promise<ReplicationConnection> {
    const client = new pg.Client({ connectionString, replication: 'database', application_name: 'dbwitness', options: OUTPUT_SETTINGS } as pg.ClientConfig);
    const conn = new ReplicationConnection(client);
    client.on('error', (e: Error) => {
      conn.#error ??= e;
    });
    await client.connect();
    conn.#wire = (client as unknown as { connection: WireConnection }).connection;
    return conn;
  }

  /** Plain SQL before streaming starts (a logical walsender accepts it). */
  async query<T extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]> {
    const r = await this.#client.query<T>(sql, params);
    return r.rows;
  }

  /**
   * START_REPLICATION from `startLsn` (0 = the slot's confirmed_flush_lsn).
   * Resolves when the server ends the stream, rejects with the server's
   * error (missing slot, invalidated slot, connection lost).
   */
  stream(slot: string, publication: string, startLsn: bigint, handlers: StreamHandlers): Promise<void> {
    const wire = this.#wire;
    if (wire === null) throw new Error('replication connection is not open');
    wire.on('copyData', ({ chunk }) => {
      const type = chunk[0];
      if (type === 0x77) {
        // XLogData: 'w', walStart, walEnd, sendTime (3 x int64), then the pgoutput message.
        handlers.data(Buffer.from(chunk.subarray(25)));
      } else if (type === 0x6b) {
        // Primary keepalive: 'k', walEnd, sendTime, replyRequested.
        handlers.keepalive(chunk.readBigUInt64BE(1), chunk[17] === 1);
      }
    });
    const lsn = `${(startLsn >> 32n).toString(16).toUpperCase()}/${(startLsn & 0xffffffffn).toString(16).toUpperCase()}`;
    // proto_version 1: whole transactions at commit (no streaming of
    // in-progress ones); messages 'true' (PG14+) delivers logical messages.
    const sql = `START_REPLICATION SLOT ${quoteIdent(slot)} LOGICAL ${lsn} (proto_version '1', publication_names ${quoteLiteral(quoteIdent(publication))}, messages 'true')`;
    return this.#client.query(sql).then(
      () => undefined,
      (e: unknown) => {
        if (this.#closed && /terminated|ended/i.test(String(e))) return undefined;
        throw e;
      },
    );
  }

  /**
   * Standby status update. write = flush = apply = `durableLsn`: for a
   * logical slot the flush position becomes confirmed_flush_lsn, after which
   * the server may discard that WAL.
   */
  sendStatus(durableLsn: bigint, requestReply = false): void {
    if (this.#closed || this.#wire === null) return;
    const b = Buffer.alloc(34);
    b.write('r', 0, 'latin1');
    b.writeBigUInt64BE(durableLsn, 1);
    b.writeBigUInt64BE(durableLsn, 9);
    b.writeBigUInt64BE(durableLsn, 17);
    b.writeBigInt64BE(BigInt(Date.now()) * 1000n - PG_EPOCH_MICROS, 25);
    b.writeUInt8(requestReply ? 1 : 0, 33);
    this.#wire.sendCopyFromChunk(b);
  }

  /** Stops reading the socket: TCP backpressure reaches the walsender. */
  pause(): void {
    this.#wire?.stream.pause();
  }

  resume(): void {
    if (!this.#closed) this.#wire?.stream.resume();
  }

  get error(): Error | null {
    return this.#error;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wire?.stream.resume();
    await this.#client.end().catch(() => undefined);
  }
}
