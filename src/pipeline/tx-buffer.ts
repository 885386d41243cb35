/**
 * Holds one source transaction until its COMMIT arrives.
 *
 * Every event carries `tx.count`, which is known only at COMMIT, and
 * pgoutput (without streaming) and the binlog deliver a transaction's rows
 * before its commit. So a transaction is buffered — in memory up to
 * `memoryLimit` entries, then in a spill file on disk — and replayed once
 * committed. Memory therefore stays bounded however large a transaction is.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { RowChange, SessionIdentity } from '../core/ports.js';

/** One buffered change and the identity in force when it arrived (null: none). */
export interface BufferedChange {
  readonly change: RowChange;
  readonly identity: SessionIdentity | null;
}

export interface TxBufferOptions {
  /** Entries kept in memory before spilling to disk. */
  readonly memoryLimit: number;
  /** Parent directory for spill files (default: the OS temp dir). */
  readonly spillDir?: string | undefined;
}

export class TxBuffer {
  readonly txId: string;
  #identity: SessionIdentity | null = null;
  #sawIdentity = false;
  #memory: BufferedChange[] = [];
  #count = 0;
  #spill: { dir: string; file: string; stream: WriteStream } | null = null;
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
    const entry: BufferedChange = { change, identity: this.#identity };
    this.#count++;
    if (this.#spill === null && this.#memory.length < this.#options.memoryLimit) {
      this.#memory.push(entry);
      return undefined;
    }
    return this.#addSpilled(entry);
  }

  /** The buffered changes in arrival order when none were spilled, else null (use `entries`). */
  inMemory(): readonly BufferedChange[] | null {
    return this.#spill === null ? this.#memory : null;
  }

  async #addSpilled(entry: BufferedChange): Promise<void> {
    if (this.#spill === null) await this.#startSpill();
    const spill = this.#spill!;
    // Respect the write stream's backpressure so the spill itself stays bounded.
    if (!spill.stream.write(JSON.stringify(entry) + '\n')) await once(spill.stream, 'drain');
  }

  /** Yields the buffered changes in arrival order. Call once, after COMMIT. */
  async *entries(): AsyncGenerator<BufferedChange> {
    for (const e of this.#memory) yield e;
    if (this.#spill === null) return;
    const { stream, file } = this.#spill;
    stream.end();
    await once(stream, 'finish');
    const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.length > 0) yield JSON.parse(line) as BufferedChange;
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
    this.#spill = { dir, file, stream };
  }
}
