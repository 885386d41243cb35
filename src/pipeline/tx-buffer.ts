/**
 * Holds one source transaction until its COMMIT arrives.
 *
 * Every event carries `tx.count`, which is known only at COMMIT, and
 * pgoutput (without streaming) and the binlog deliver a transaction's rows
 * before its commit. So a transaction is buffered — in memory up to
 * `memoryLimit` entries or `memoryWeight` (change-weight.ts: wide rows),
 * then in a spill file on disk — and replayed once committed. Memory
 * therefore stays bounded however large a transaction is.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DbwitnessError } from '../core/errors.js';
import type { RowChange, SessionIdentity } from '../core/ports.js';
import { readLineBatches } from '../store/line-reader.js';
import { changeWeight } from './change-weight.js';

/** One buffered change, the identity in force when it arrived (null: none), and its weight (change-weight.ts). */
export interface BufferedChange {
  readonly change: RowChange;
  readonly identity: SessionIdentity | null;
  readonly weight: number;
}

export interface TxBufferOptions {
  /** Entries kept in memory before spilling to disk. */
  readonly memoryLimit: number;
  /** Weight (change-weight.ts, about bytes of row text) kept in memory before spilling (default 4 MiB). */
  readonly memoryWeight?: number | undefined;
  /** Parent directory for spill files (default: the OS temp dir). */
  readonly spillDir?: string | undefined;
}

const CHANGE = 'C'.charCodeAt(0);
const IDENTITY = 'I'.charCodeAt(0);

/** Row text held in memory before spilling, whatever the count (wide rows). */
const DEFAULT_MEMORY_WEIGHT = 4 * 1024 * 1024;

/** Characters of spill lines collected before one write. */
const SPILL_CHUNK = 64 * 1024;
/**
 * Bytes per read of the spill file. Every change parsed from one read is
 * alive until the pipeline has turned the whole chunk into events, so this
 * bounds the memory a large transaction takes on its way out: with the
 * line reader's 4 MiB default, the 1,000,000-row transaction of
 * bench/postgres (d) peaked 35 MiB higher (88 MiB over idle, against the
 * 64 MB target). 128 KiB is about 800 rows; one read per chunk costs
 * nothing beside parsing them.
 */
const SPILL_READ_BYTES = 128 * 1024;

interface Spill {
  readonly dir: string;
  readonly file: string;
  readonly stream: WriteStream;
  /** Lines not yet handed to the stream. */
  pending: string;
  /** The identity the file's last `I` line set (valid once `identityWritten`). */
  identity: SessionIdentity | null;
  identityWritten: boolean;
}

export class TxBuffer {
  readonly txId: string;
  #identity: SessionIdentity | null = null;
  #sawIdentity = false;
  #memory: BufferedChange[] = [];
  #memoryWeight = 0;
  #count = 0;
  #spill: Spill | null = null;
  readonly #options: TxBufferOptions;

  constructor(txId: string, options: TxBufferOptions) {
    this.txId = txId;
    this.#options = options;
  }

  get count(): number {
    return this.#count;
  }

  /** True when at least one identity message arrived in this transaction. */
  get sawIdentity(): boolean {
    return this.#sawIdentity;
  }

  setIdentity(identity: SessionIdentity): void {
    this.#identity = identity;
    this.#sawIdentity = true;
  }

  /** Synchronous while the transaction fits in memory; a promise only once it spills. */
  add(change: RowChange): Promise<void> | undefined {
    const entry: BufferedChange = { change, identity: this.#identity, weight: changeWeight(change) };
    this.#count++;
    if (this.#spill === null && this.#memory.length < this.#options.memoryLimit && this.#memoryWeight < (this.#options.memoryWeight ?? DEFAULT_MEMORY_WEIGHT)) {
      this.#memory.push(entry);
      this.#memoryWeight += entry.weight;
      return undefined;
    }
    return this.#addSpilled(entry);
  }

  /** The buffered changes in arrival order when none were spilled, else null (use `entries`). */
  inMemory(): readonly BufferedChange[] | null {
    return this.#spill === null ? this.#memory : null;
  }

  /**
   * Spill file format, one line each: `I` + the identity in force from here
   * on (JSON, or null), or `C` + one change (JSON). The identity is written
   * only when it changes, so the changes read back share one identity
   * object, as they did in memory: the actor built from it, and its
   * serialization, are then made once per identity, not once per row.
   * Lines are written in chunks of SPILL_CHUNK characters.
   */
  async #addSpilled(entry: BufferedChange): Promise<void> {
    if (this.#spill === null) await this.#startSpill();
    const spill = this.#spill!;
    if (!spill.identityWritten || entry.identity !== spill.identity) {
      spill.pending += 'I' + JSON.stringify(entry.identity) + '\n';
      spill.identity = entry.identity;
      spill.identityWritten = true;
    }
    spill.pending += 'C' + JSON.stringify(entry.change) + '\n';
    if (spill.pending.length >= SPILL_CHUNK) await this.#writePending(spill);
  }

  async #writePending(spill: Spill): Promise<void> {
    const text = spill.pending;
    spill.pending = '';
    // Respect the write stream's backpressure so the spill itself stays bounded.
    if (text !== '' && !spill.stream.write(text)) await once(spill.stream, 'drain');
  }

  /**
   * Yields the buffered changes in arrival order, in chunks: the ones in
   * memory, then one chunk per read of the spill file (a readline stream
   * and an async step per row cost about twice the parsing itself). Call
   * once, after COMMIT.
   */
  async *chunks(): AsyncGenerator<readonly BufferedChange[]> {
    if (this.#memory.length > 0) yield this.#memory;
    const spill = this.#spill;
    if (spill === null) return;
    await this.#writePending(spill);
    spill.stream.end();
    await once(spill.stream, 'finish');
    let identity: SessionIdentity | null = null;
    for await (const lines of readLineBatches(spill.file, undefined, SPILL_READ_BYTES)) {
      const out: BufferedChange[] = [];
      for (const line of lines) {
        // Written whole and closed before this read: a partial line means the file was cut or the disk failed.
        if (!line.complete) {
          throw new DbwitnessError(
            'E_SPILL_DAMAGED',
            `the spill file of transaction ${this.txId} (${spill.file}) ends with a partial line`,
            'check the disk and free space of the spill directory (the system temp dir, TMPDIR), then restart: the transaction is not acknowledged, so the source delivers it again, and events of it already stored are not written twice',
          );
        }
        const kind = line.bytes[0];
        const json = line.bytes.toString('utf8', 1);
        if (kind === CHANGE) {
          const change = JSON.parse(json) as RowChange;
          out.push({ change, identity, weight: changeWeight(change) });
        }
        else if (kind === IDENTITY) identity = Object.freeze(JSON.parse(json) as SessionIdentity | null);
      }
      if (out.length > 0) yield out;
    }
  }

  /** Removes the spill file, if any. Safe to call more than once. */
  async dispose(): Promise<void> {
    this.#memory = [];
    const spill = this.#spill;
    this.#spill = null;
    if (spill === null) return;
    spill.stream.destroy();
    await rm(spill.dir, { recursive: true, force: true });
  }

  async #startSpill(): Promise<void> {
    const dir = await mkdtemp(join(this.#options.spillDir ?? tmpdir(), 'dbwitness-spill-'));
    const file = join(dir, 'tx.jsonl');
    // Spilled rows are ePHI: owner-only, and removed as soon as the transaction is stored.
    const stream = createWriteStream(file, { mode: 0o600 });
    this.#spill = { dir, file, stream, pending: '', identity: null, identityWritten: false };
  }
}
