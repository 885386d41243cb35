/**
 * The open segment of a chain: an append-only file, its running SHA-256
 * (for the seal) and counters. Every write is followed by fdatasync before
 * the caller may treat the bytes as durable; fdatasync also persists the
 * file size, which is all an append needs (fdatasync(2)).
 */
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChainHead } from '../core/ports.js';
import { FILE_MODE, segmentFileName } from './layout.js';
import { writeFileDurable } from './durable-fs.js';
import type { OpenSegmentState } from './recovery.js';

export interface WriteStats {
  /** fdatasync calls on segment files (one per group commit). */
  fsyncs: number;
  writes: number;
  events: number;
  /** Bytes appended to segment files. */
  bytes: number;
  /**
   * Called after each of those fdatasyncs with its duration in seconds (the
   * fdatasync alone: no queueing, no write). Set by an observer, e.g. the
   * daemon's fsync latency histogram; an observer that throws is ignored.
   */
  onFsync?: (seconds: number) => void;
}

export class SegmentFile {
  readonly number: number;
  readonly path: string;
  readonly createdAtMs: number;
  readonly startHead: ChainHead;
  readonly recordSha256: string;
  readonly #fh: FileHandle;
  readonly #digest: Hash;
  #size: number;
  firstSeq: number | null;
  count: number;

  private constructor(path: string, fh: FileHandle, state: OpenSegmentState) {
    this.path = path;
    this.#fh = fh;
    this.number = state.number;
    this.createdAtMs = state.createdAtMs;
    this.startHead = state.startHead;
    this.recordSha256 = state.recordSha256;
    this.#digest = state.digest;
    this.#size = state.size;
    this.firstSeq = state.firstSeq;
    this.count = state.count;
  }

  /** Creates segment `n` holding only `headerLine`, atomically (a segment file always starts with its record). */
  static async create(chainDir: string, n: number, headerLine: string, recordSha256: string, createdAtMs: number, startHead: ChainHead): Promise<SegmentFile> {
    const path = join(chainDir, segmentFileName(n));
    const bytes = Buffer.from(headerLine + '\n', 'utf8');
    await writeFileDurable(path, bytes, FILE_MODE);
    const digest = createHash('sha256').update(bytes);
    return SegmentFile.reopen(chainDir, { number: n, size: bytes.length, createdAtMs, digest, firstSeq: null, count: 0, startHead, recordSha256 });
  }

  static async reopen(chainDir: string, state: OpenSegmentState): Promise<SegmentFile> {
    const path = join(chainDir, segmentFileName(state.number));
    const fh = await open(path, 'a', FILE_MODE);
    return new SegmentFile(path, fh, state);
  }

  get size(): number {
    return this.#size;
  }

  /** Appends the buffers (one writev) and fdatasyncs. On failure the file may hold a partial write: the chain must stop and be reopened (recovery truncates it). */
  async append(buffers: readonly Buffer[], stats: WriteStats): Promise<void> {
    let bytes = 0;
    for (const b of buffers) bytes += b.length;
    // One writev for the whole group; loop only if the kernel writes less.
    let pending = buffers.filter((b) => b.length > 0);
    while (pending.length > 0) {
      const { bytesWritten } = await this.#fh.writev(pending);
      pending = skipWritten(pending, bytesWritten);
    }
    stats.writes++;
    const syncStart = process.hrtime.bigint();
    await this.#fh.datasync();
    stats.fsyncs++;
    if (stats.onFsync !== undefined) {
      const seconds = Number(process.hrtime.bigint() - syncStart) / 1e9;
      try {
        stats.onFsync(seconds);
      } catch {
        // Metrics must never fail a write that is already durable.
      }
    }
    stats.bytes += bytes;
    for (const b of buffers) this.#digest.update(b);
    this.#size += bytes;
  }

  /** SHA-256 of every byte in the file so far. */
  digestHex(): string {
    return this.#digest.copy().digest('hex');
  }

  async close(): Promise<void> {
    await this.#fh.close();
  }
}

function skipWritten(buffers: readonly Buffer[], written: number): Buffer[] {
  const out: Buffer[] = [];
  let n = written;
  for (const b of buffers) {
    if (n >= b.length) {
      n -= b.length;
      continue;
    }
    out.push(n > 0 ? b.subarray(n) : b);
    n = 0;
  }
  return out;
}
