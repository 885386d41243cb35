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
import { chainFiles, type ArchiveResolver, type ChainFile } from './archived-chain.js';

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
  /** Set when the batch stands for an archived segment that cannot be read: its events are not in `entries`. */
  readonly gap?: ChainGap;
}

/** Events of a chain the index cannot hold: an archived segment not reachable, or deleted under the retention policy. */
export interface ChainGap {
  readonly source: string;
  readonly segment: number;
  /** Store-relative name, as the index records segments. */
  readonly file: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** From the segment's seal copy in the manifest: none of its events is younger. */
  readonly sealedAt: string | null;
  /** The hash of its last event (from the seal copy), or null. */
  readonly lastHash: string | null;
  readonly reason: string;
}

/** Segment files of a chain relative to the store dir, ascending. */
export async function chainSegments(dir: string, sourceId: string): Promise<string[]> {
  const { segments } = await listSegments(join(dir, sourceId));
  return segments.map((n) => `${sourceId}/${segmentFileName(n)}`);
}

/**
 * Yields the events of chain `sourceId` after `from` (null: from the start),
 * one batch per chunk of the underlying reader. Segments retention moved
 * away are read from the archive (`archiveDirs`, then the path the manifest
 * recorded); one that cannot be read yields a batch with `gap` set. The
 * manifest is read only when the scan starts before the store's first
 * segment, so a catch-up within the store costs what it always did.
 */
export async function* scanChain(
  dir: string,
  sourceId: string,
  from: ScanPosition | null,
  encryptionKey: Buffer | undefined,
  archiveDirs: readonly string[] = [],
): AsyncGenerator<ScanBatch> {
  const present = await chainSegments(dir, sourceId);
  let files: { rel: string; path: string | null; gap: ChainGap | null }[];
  if (from !== null && present.includes(from.file)) {
    files = present.map((rel) => ({ rel, path: join(dir, rel), gap: null }));
  } else {
    files = (await chainFiles(dir, sourceId, archiveDirs)).map((f) => ({ rel: f.rel, path: f.path, gap: f.path === null ? chainGap(sourceId, f) : null }));
  }
  let startIdx = 0;
  if (from) {
    startIdx = files.findIndex((f) => f.rel === from.file);
    if (startIdx < 0) throw staleIndex(`segment ${from.file} is gone from the store and not recorded in its archive manifest`);
  }
  for (let i = startIdx; i < files.length; i++) {
    const { rel, path, gap } = files[i]!;
    const skipBefore = from && i === startIdx ? from.bytes : 0;
    if (path === null) {
      // An empty segment (no seqs) leaves nothing out.
      if (gap !== null) yield { entries: [], scan: { file: rel, bytes: 0 }, bytes: 0, gap };
      continue;
    }
    let consumed = skipBefore;
    for await (const lines of readLineBatches(path, undefined, SCAN_CHUNK_BYTES)) {
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

function chainGap(source: string, f: ChainFile): ChainGap | null {
  const line = f.archived;
  if (line === null || line.first_seq === null || line.last_seq === null) return null;
  return {
    source,
    segment: f.segment,
    file: f.rel,
    firstSeq: line.first_seq,
    lastSeq: line.last_seq,
    sealedAt: line.signed_seal?.sealed_at ?? null,
    lastHash: line.signed_seal?.last_hash ?? null,
    reason: f.unreadable ?? 'not readable',
  };
}

/**
 * Reads the event stored at `file` (relative to `dir`) and byte `offset`.
 * With `archive`, a segment retention moved out of the store is read from
 * its archive copy.
 */
export async function readEventAt(dir: string, file: string, offset: number, encryptionKey: Buffer | undefined, archive?: ArchiveResolver): Promise<AuditEvent | null> {
  let fh = await open(join(dir, file), 'r').catch(() => null);
  if (!fh && archive !== undefined) {
    const archived = await archive.lookup(file);
    if (archived?.path != null) fh = await open(archived.path, 'r').catch(() => null);
  }
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
