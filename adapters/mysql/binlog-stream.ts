/**
 * One binlog connection (a zongji instance) from one resume point, turned
 * into a pull queue. The binlog connection is paused while the consumer
 * lags by `highWaterMark` messages or 4 MiB of row text
 * (change-weight.ts: 4,096 wide rows would be hundreds of MB) and resumed
 * when it has caught up to half the count and a quarter of the weight, so
 * memory stays bounded however large a transaction or its rows are (a
 * single rows event holds at most binlog_row_event_max_size bytes, or one
 * row).
 *
 * zongji does not verify binlog event checksums (CRC32): it skips them.
 * The TCP connection (and TLS, when configured) is what protects the bytes.
 */
import ZongJi from '@vlasky/zongji';
import type { ConnectionOptions } from 'mysql2';
import type { Logger } from 'pino';
import type { SourceMessage } from '../../src/core/ports.js';
import type { Checkpoint } from './binlog-checkpoint.js';
import { mariaPosText } from './binlog-checkpoint.js';
import { TxAssembler, type AssemblerOptions } from './tx-assembler.js';
import { fromZongji, type TableFacts } from './zongji-events.js';
import { changeWeight } from '../../src/pipeline/change-weight.js';

/** Weight of queued changes (change-weight.ts) that pauses the binlog connection. */
const HIGH_WATER_WEIGHT = 4 * 1024 * 1024;

export interface StreamOptions {
  readonly connection: ConnectionOptions;
  readonly serverId: number;
  readonly includeSchema: Record<string, string[] | true>;
  readonly heartbeatSeconds: number;
  readonly highWaterMark: number;
  readonly facts: TableFacts;
  readonly assembler: Omit<AssemblerOptions, 'start'>;
  readonly logger: Logger;
}

interface ZongJiLike {
  on(event: string, fn: (...args: never[]) => void): unknown;
  start(opts: Record<string, unknown>): void;
  stop(): void;
  isMariaDb: boolean;
  connection: { pause(): void; resume(): void; query(sql: string, cb?: (err: unknown) => void): unknown } | null;
}

export class BinlogStream {
  readonly #o: StreamOptions;
  readonly #assembler: TxAssembler;
  /** Taken messages are cleared until the front is spliced off, so a wide row is not kept after it is handed on. */
  readonly #queue: (SourceMessage | undefined)[] = [];
  /** Weight of each queued message (0 but for changes), aligned with #queue. */
  readonly #weights: number[] = [];
  #queuedWeight = 0;
  #head = 0;
  #error: unknown = null;
  #wake: (() => void) | null = null;
  #paused = false;
  #z: ZongJiLike | null = null;
  #lastEventAt = Date.now();
  #watchdog: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(start: Checkpoint, o: StreamOptions) {
    this.#o = o;
    this.#assembler = new TxAssembler({ ...o.assembler, start });
    const z = new ZongJi({ ...o.connection, dateStrings: true, timezone: 'Z', jsonStrings: true, supportBigNumbers: true, bigNumberStrings: true }) as unknown as ZongJiLike;
    this.#z = z;
    z.on('binlog', ((ev: Parameters<typeof fromZongji>[0]) => this.#onEvent(ev)) as never);
    z.on('error', ((err: unknown) => this.#fail(err)) as never);
    z.on('ready', (() => {
      // Queued on the binlog connection ahead of the dump command zongji
      // adds right after 'ready': the server then sends a heartbeat event
      // after this many idle nanoseconds (MariaDB and MySQL read the same
      // variable; 8.4 also accepts the source_ spelling).
      const ns = BigInt(Math.round(o.heartbeatSeconds * 1e9));
      z.connection?.query(`SET @master_heartbeat_period = ${ns}, @source_heartbeat_period = ${ns}`, (err) => {
        if (err) this.#fail(err);
      });
    }) as never);
    const opts: Record<string, unknown> = {
      serverId: o.serverId,
      includeSchema: o.includeSchema,
      requestAnnotateRows: true,
    };
    if (start.kind === 'mariadb-gtid') opts['gtidSet'] = mariaPosText(start.pos);
    else if (start.kind === 'mysql-gtid') opts['gtidSet'] = start.set;
    else {
      opts['filename'] = start.file;
      opts['position'] = start.offset;
    }
    z.start(opts);
    const silentMs = (o.heartbeatSeconds * 3 + 5) * 1000;
    this.#watchdog = setInterval(() => {
      // A dump connection that died without an error (server shutdown can
      // end the stream with EOF) shows as silence past several heartbeats.
      if (!this.#paused && Date.now() - this.#lastEventAt > silentMs) {
        this.#fail(Object.assign(new Error('binlog connection silent past its heartbeat period'), { code: 'E_SILENT' }));
      }
    }, Math.min(silentMs, 5000));
    this.#watchdog.unref();
  }

  /** Checkpoint after the last whole transaction the stream decoded. */
  /** Weight of the changes queued and not yet taken (change-weight.ts). */
  get queuedWeight(): number {
    return this.#queuedWeight;
  }

  get checkpoint(): string {
    return this.#assembler.checkpoint;
  }

  #onEvent(ev: Parameters<typeof fromZongji>[0]): void {
    if (this.#stopped) return;
    this.#lastEventAt = Date.now();
    try {
      const e = fromZongji(ev, this.#o.facts, this.#z?.isMariaDb ?? true);
      if (e) {
        for (const m of this.#assembler.push(e)) {
          const w = m.kind === 'change' ? changeWeight(m.change) : 0;
          this.#queue.push(m);
          this.#weights.push(w);
          this.#queuedWeight += w;
        }
      }
    } catch (err) {
      this.#fail(err);
      return;
    }
    if ((this.#queue.length - this.#head >= this.#o.highWaterMark || this.#queuedWeight >= HIGH_WATER_WEIGHT) && this.#z?.connection) {
      // Checked on every event: zongji itself resumes the connection after
      // fetching table metadata, which may undo an earlier pause.
      this.#z.connection.pause();
      this.#paused = true;
    }
    this.#notify();
  }

  #fail(err: unknown): void {
    if (this.#error === null) this.#error = err ?? new Error('binlog stream failed');
    this.#notify();
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  /** Yields queued messages; throws the stream's error once the queue is drained. */
  async *drain(signal: AbortSignal): AsyncGenerator<SourceMessage> {
    const onAbort = (): void => this.#notify();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        if (this.#head < this.#queue.length) {
          const m = this.#queue[this.#head]!;
          this.#queue[this.#head] = undefined;
          this.#queuedWeight -= this.#weights[this.#head]!;
          this.#head++;
          if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
            this.#queue.splice(0, this.#head);
            this.#weights.splice(0, this.#head);
            this.#head = 0;
          }
          if (this.#paused && this.#queue.length - this.#head <= this.#o.highWaterMark / 2 && this.#queuedWeight <= HIGH_WATER_WEIGHT / 4) {
            this.#paused = false;
            this.#lastEventAt = Date.now();
            this.#z?.connection?.resume();
          }
          yield m;
          continue;
        }
        if (this.#error !== null) throw this.#error;
        if (this.#stopped) return; // closed while the consumer waited
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#watchdog) clearInterval(this.#watchdog);
    try {
      this.#z?.stop();
    } catch (err) {
      this.#o.logger.debug({ code: (err as { code?: string }).code }, 'binlog stop failed');
    }
    this.#z = null;
    this.#notify();
  }
}
