/**
 * Reads one chain of the store from a byte position on, for incremental
 * indexing. `readEvents` (src/store/reader.ts) always starts at the first
 * segment; catching up after each append would re-read the whole store, so
 * this walks the same segment files (layout.ts, line-reader.ts, records.ts)
 * and skips the lines before the position without parsing them.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { DbwitnessError } from '../core/errors.js';
import type { AuditEvent } from '../core/event.js';
import { listSegments, segmentFileName } from '../store/layout.js';
import { readLineBatches } from '../store/line-reader.js';
import { parsePlainLine, plainLine } from '../store/records.js';
import type { IndexEntry, ScanPosition } from './writer.js';

/**
 * Bytes read per batch. Every event of a batch is parsed and kept until the
 * batch is written, and `run` catches up while it captures: 4 MiB batches
 * (verify's size) added about 40 MiB to the daemon's peak RSS during a
 * 1,000,000-row drain; 256 KiB made a full reindex about 4% slower
 * (bench/postgres/RESULTS.md, section d).
 */
const SCAN_CHUNK_BYTES = 256 * 1024;

export interface ScanBatch {
  readonly entries: IndexEntry[];
  /** Everything before this point of the chain has been consumed. */
  readonly scan: ScanPosition;
  /** Bytes read in this batch (progress). */
  readonly bytes: number;
}

/** Segment files of a chain relative to the store dir, ascending. */
export async function chainSegments(dir: string, sourceId: string): Promise<string[]> {
  const { segments } = await listSegments(join(dir, sourceId));
  return segments.map((n) => `${sourceId}/${segmentFileName(n)}`);
}

/**
 * Yields the events of chain `sourceId` after `from` (null: from the start),
 * one batch per chunk of the underlying reader.
 */
export async function* scanChain(dir: string, sourceId: string, from: ScanPosition | null, encryptionKey: Buffer | undefined): AsyncGenerator<ScanBatch> {
  const files = await chainSegments(dir, sourceId);
  let startIdx = 0;
  if (from) {
    startIdx = files.indexOf(from.file);
    if (startIdx < 0) throw staleIndex(`segment ${from.file} is gone from the store`);
  }
  for (let i = startIdx; i < files.length; i++) {
    const rel = files[i]!;
    const skipBefore = from && i === startIdx ? from.bytes : 0;
    let consumed = skipBefore;
    for await (const lines of readLineBatches(join(dir, rel), undefined, SCAN_CHUNK_BYTES)) {
      const entries: IndexEntry[] = [];
      let bytes = 0;
      for (const line of lines) {
        if (line.offset < skipBefore) continue;
        // A torn tail (a write in progress or cut by a crash) is not consumed: the next scan resumes before it.
        if (!line.complete) break;
        bytes += line.bytes.length + 1;
        consumed = line.offset + line.bytes.length + 1;
        if (line.bytes.length === 0) continue;
        const event = decode(line.bytes, encryptionKey, `${rel} at byte ${line.offset}`);
        if (event) entries.push({ event, file: rel, offset: line.offset });
      }
      yield { entries, scan: { file: rel, bytes: consumed }, bytes };
    }
    if (consumed === 0 && i === files.length - 1) yield { entries: [], scan: { file: rel, bytes: 0 }, bytes: 0 };
  }
}

/** Reads the event stored at `file` (relative to `dir`) and byte `offset`. */
export async function readEventAt(dir: string, file: string, offset: number, encryptionKey: Buffer | undefined): Promise<AuditEvent | null> {
  const fh = await open(join(dir, file), 'r').catch(() => null);
  if (!fh) return null;
  try {
    let size = 4096;
    for (;;) {
      const buf = Buffer.allocUnsafe(size);
      const { bytesRead } = await fh.read(buf, 0, size, offset);
      const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
      if (nl >= 0) return decode(buf.subarray(0, nl), encryptionKey, `${file} at byte ${offset}`);
      if (bytesRead < size) return null; // no complete line there
      size *= 4;
    }
  } finally {
    await fh.close();
  }
}

function decode(bytes: Buffer, key: Buffer | undefined, where: string): AuditEvent | null {
  const plain = plainLine(bytes.toString('utf8'), key, where);
  let parsed;
  try {
    parsed = parsePlainLine(plain);
  } catch {
    throw new DbwitnessError('E_STORE_CORRUPT', `${where} is not valid JSON`, 'run `dbwitness verify` on the store to locate and explain the damage', { exitCode: 1 });
  }
  return parsed.kind === 'event' ? parsed.event : null;
}

export function staleIndex(why: string): DbwitnessError {
  return new DbwitnessError('E_INDEX_STALE', `the index does not match the store: ${why}`, 'rebuild it with `dbwitness reindex STORE_DIR`');
}
