/**
 * Building the index from the store: a full rebuild (into a new file that
 * replaces the old one only when complete) or an incremental catch-up from
 * each source's watermark. Both read the same bytes in the same order, so
 * they produce the same rows (a unit test holds them to it).
 */
import { existsSync } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DbwitnessError, isDbwitnessError } from '../core/errors.js';
import { listSources } from '../store/reader.js';
import { finishBulk, INDEX_FILE, INDEX_SCHEMA_VERSION, indexVersion, openIndexDb, type Db } from './schema.js';
import { ArchiveResolver } from './archived-chain.js';
import { chainSegments, readEventAt, scanChain, staleIndex, type ChainGap } from './store-scan.js';
import { IndexWriter, readWatermarks, type IndexEntry, type ScanPosition, type Watermark } from './writer.js';

export interface IndexProgress {
  readonly events: number;
  readonly bytes: number;
  readonly totalBytes: number;
}

export interface UpdateIndexOptions {
  /** Default: DIR/index.sqlite. */
  readonly indexPath?: string | undefined;
  /** Required when the store is encrypted. */
  readonly encryptionKey?: Buffer | undefined;
  /** Called every few thousand events (e.g. a TTY progress line). */
  readonly onProgress?: ((p: IndexProgress) => void) | undefined;
  /** Where segments retention archived are now (DIR/<source>/seg-N.jsonl), tried before the paths in archived.jsonl. */
  readonly archiveDirs?: readonly string[] | undefined;
  /** SQLite page cache of the writing connection in KiB (default 16 MiB; `run` uses less, see updater.ts). */
  readonly cacheKiB?: number | undefined;
}

export interface UpdateIndexResult {
  readonly added: number;
  /** True when the index was (re)built from scratch. */
  readonly rebuilt: boolean;
  readonly indexPath: string;
  /** Archived segments this run could not read: their events are recorded as gaps, not indexed. */
  readonly gaps: readonly ChainGap[];
}

const BATCH = 5000;
/**
 * Bytes of store lines whose parsed events are held before one write, so
 * that wide rows do not multiply what a batch holds: 5,000 events with
 * 10 KB notes took the daemon's index worker about 50 MB over idle.
 */
const BATCH_BYTES = 4 * 1024 * 1024;

export function defaultIndexPath(dir: string): string {
  return join(dir, INDEX_FILE);
}

/**
 * Brings the index up to date with the store: catches up from the
 * watermarks, or rebuilds when there is no index yet, it is of another
 * version, or it no longer matches the store (a replaced or pruned store).
 * Safe to call periodically from `run` and before every report.
 */
export async function updateIndex(dir: string, opts: UpdateIndexOptions = {}): Promise<UpdateIndexResult> {
  const indexPath = opts.indexPath ?? defaultIndexPath(dir);
  if (!existsSync(indexPath)) return rebuildIndex(dir, opts);
  const db = openIndexDb(indexPath, { cacheKiB: opts.cacheKiB });
  try {
    if (indexVersion(db) !== INDEX_SCHEMA_VERSION) throw staleIndex('index version differs');
    const gaps: ChainGap[] = [];
    const added = await catchUp(db, dir, opts, false, gaps);
    // Planner statistics from a build on a small store mislead it once the store has grown:
    // `optimize` re-analyzes (bounded by analysis_limit) only tables whose size changed a lot.
    if (added > 0) {
      db.pragma('analysis_limit = 1000');
      db.pragma('optimize');
    }
    return { added, rebuilt: false, indexPath, gaps };
  } catch (e) {
    if (!isDbwitnessError(e) || e.code !== 'E_INDEX_STALE') throw e;
    db.close();
    return rebuildIndex(dir, opts);
  } finally {
    if (db.open) db.close();
  }
}

/** Builds the index from scratch; the old index stays usable until the new one is complete. */
export async function rebuildIndex(dir: string, opts: UpdateIndexOptions = {}): Promise<UpdateIndexResult> {
  const indexPath = opts.indexPath ?? defaultIndexPath(dir);
  const building = `${indexPath}.building`;
  await rm(building, { force: true });
  const db = openIndexDb(building, { bulk: true, cacheKiB: opts.cacheKiB });
  let added: number;
  const gaps: ChainGap[] = [];
  try {
    added = await catchUp(db, dir, opts, true, gaps);
    finishBulk(db);
  } catch (e) {
    db.close();
    await rm(building, { force: true });
    if (isDbwitnessError(e) && e.code === 'E_INDEX_STALE') {
      throw new DbwitnessError('E_STORE_SEQUENCE', `the store cannot be indexed: ${e.message}`, 'run `dbwitness verify` on the store to locate the damage', { exitCode: 1 });
    }
    throw e;
  }
  db.close();
  await rm(`${indexPath}-wal`, { force: true });
  await rm(`${indexPath}-shm`, { force: true });
  await rename(building, indexPath);
  return { added, rebuilt: true, indexPath, gaps };
}

async function catchUp(db: Db, dir: string, opts: UpdateIndexOptions, fresh: boolean, gaps: ChainGap[]): Promise<number> {
  const writer = new IndexWriter(db);
  const archiveDirs = opts.archiveDirs ?? [];
  const archive = new ArchiveResolver(dir, archiveDirs);
  const sources = await listSources(dir);
  for (const mark of writer.watermarks()) {
    if (!sources.includes(mark.source)) throw staleIndex(`source ${mark.source} is no longer in the store`);
  }
  const starts = new Map<string, ScanPosition | null>();
  let totalBytes = 0;
  for (const sourceId of sources) {
    const from = fresh ? null : await resumePoint(writer, dir, sourceId, opts.encryptionKey, archive);
    starts.set(sourceId, from);
    totalBytes += await remainingBytes(dir, sourceId, from);
  }
  let events = 0;
  let bytes = 0;
  let lastReport = 0;
  for (const sourceId of sources) {
    let pending: IndexEntry[] = [];
    let pendingBytes = 0;
    let scan: ScanPosition | null = null;
    let lastTime: string | null = null;
    const flush = (): void => {
      if (!scan) return;
      const { added, gaps } = writer.append(pending, new Map([[sourceId, scan]]));
      // A gap in what the store handed us means the index cannot follow it (events at or below the
      // watermark are simply skipped: a concurrent catch-up indexed them already).
      if (gaps.size > 0) throw staleIndex(`chain ${sourceId} does not continue the indexed sequence`);
      events += added;
      pending = [];
      pendingBytes = 0;
    };
    for await (const batch of scanChain(dir, sourceId, starts.get(sourceId) ?? null, opts.encryptionKey, archiveDirs)) {
      if (batch.gap !== undefined) {
        flush();
        const before = writer.watermark(sourceId)?.seq ?? 0;
        if (!writer.skipGap(batch.gap, lastTime)) throw staleIndex(`chain ${sourceId} does not continue the indexed sequence before archived segment ${batch.gap.file}`);
        if (batch.gap.lastSeq > before) gaps.push({ ...batch.gap, firstSeq: Math.max(batch.gap.firstSeq, before + 1) });
        scan = null;
        continue;
      }
      const tail = batch.entries[batch.entries.length - 1];
      if (tail !== undefined) lastTime = tail.event.time;
      pending.push(...batch.entries);
      scan = batch.scan;
      bytes += batch.bytes;
      pendingBytes += batch.bytes;
      if (pending.length >= BATCH || pendingBytes >= BATCH_BYTES) flush();
      if (opts.onProgress && events - lastReport >= BATCH) {
        lastReport = events;
        opts.onProgress({ events, bytes, totalBytes });
      }
    }
    flush();
  }
  opts.onProgress?.({ events, bytes, totalBytes });
  return events;
}

/** Where to continue reading a chain; throws E_INDEX_STALE when the store no longer holds what the index recorded. */
async function resumePoint(writer: IndexWriter, dir: string, sourceId: string, key: Buffer | undefined, archive: ArchiveResolver): Promise<ScanPosition | null> {
  const mark = writer.watermark(sourceId);
  if (!mark) return null;
  if (mark.eventFile !== null && mark.eventOffset !== null) {
    // Not a line start any more (a replaced store) reads as garbage: treat it like a mismatch.
    const ev = await readEventAt(dir, mark.eventFile, mark.eventOffset, key, archive).catch(() => null);
    if (!ev && (await archivedOutOfReach(archive, mark))) {
      // Retention moved the segment away before the index read all of it: resume there, and the rest
      // of that segment becomes a recorded gap rather than a rebuild that would drop what is indexed.
    } else if (!ev || ev.seq !== mark.seq || ev.hash !== mark.hash) throw staleIndex(`event ${mark.seq} of ${sourceId} is not where the index recorded it`);
  }
  if (mark.scanFile !== null && mark.scanBytes !== null) return { file: mark.scanFile, bytes: mark.scanBytes };
  if (mark.eventFile !== null && mark.eventOffset !== null) return { file: mark.eventFile, bytes: mark.eventOffset };
  return null; // rows came from the pipeline without locations: read the chain, skipping indexed seqs
}

/** The watermark's segment is recorded as archived (or deleted), holds its seq, and no copy can be read. */
async function archivedOutOfReach(archive: ArchiveResolver, mark: Watermark): Promise<boolean> {
  if (mark.eventFile === null) return false;
  const f = await archive.lookup(mark.eventFile);
  const line = f?.archived;
  if (!f || f.path !== null || !line || line.first_seq === null || line.last_seq === null) return false;
  if (mark.seq < line.first_seq || mark.seq > line.last_seq) return false;
  // The seal copy names the segment's last event: where it can, check the index followed this chain.
  return !(mark.seq === line.last_seq && line.signed_seal !== undefined && line.signed_seal.last_hash !== mark.hash);
}

async function remainingBytes(dir: string, sourceId: string, from: ScanPosition | null): Promise<number> {
  const files = await chainSegments(dir, sourceId);
  let total = 0;
  let counting = from === null;
  for (const f of files) {
    if (!counting && f === from?.file) counting = true;
    if (!counting) continue;
    const size = (await stat(join(dir, f)).catch(() => ({ size: 0 }))).size;
    total += f === from?.file ? Math.max(0, size - from.bytes) : size;
  }
  return total;
}

export interface IndexStatus {
  readonly exists: boolean;
  /** Every event of the store is indexed (nothing after any watermark). */
  readonly current: boolean;
  readonly sources: readonly { readonly source: string; readonly indexedSeq: number }[];
}

/** Cheap check (file sizes only) whether the index covers the whole store. */
export async function indexStatus(dir: string, indexPath = defaultIndexPath(dir)): Promise<IndexStatus> {
  if (!existsSync(indexPath)) return { exists: false, current: false, sources: [] };
  const db = openIndexDb(indexPath, { readonly: true });
  try {
    if (indexVersion(db) !== INDEX_SCHEMA_VERSION) return { exists: true, current: false, sources: [] };
    const bySource = readWatermarks(db);
    const marks = [...bySource.values()];
    const sources = await listSources(dir);
    let current = marks.every((m) => sources.includes(m.source));
    for (const sourceId of sources) {
      const files = await chainSegments(dir, sourceId);
      const mark = bySource.get(sourceId);
      const lastFile = files[files.length - 1];
      if (lastFile === undefined) continue;
      const size = (await stat(join(dir, lastFile))).size;
      if (!mark || mark.scanFile !== lastFile || mark.scanBytes !== size) current = false;
    }
    return { exists: true, current, sources: marks.map((m) => ({ source: m.source, indexedSeq: m.seq })) };
  } finally {
    db.close();
  }
}
