/**
 * The index-backed path of `dbwitness query`: the filter as SQL over the
 * index (src/index/query.ts), each event read back and checked again, with
 * events of archived segments read back from the archive (`--archive DIR`,
 * then the recorded path), and whatever cannot be read stated instead of
 * silently left out: indexed events whose archive copy is out of reach
 * (counted exactly, since the index holds their filter columns) and the
 * index's recorded gaps (never indexed; any may match).
 */
import type { AuditEvent } from '../core/event.js';
import { chainFiles, isDeletedReason, type ChainFile } from '../index/archived-chain.js';
import { filterSql } from '../index/query.js';
import { IndexReader } from '../index/reader.js';
import { staleIndex } from '../index/store-scan.js';
import { defaultIndexPath, indexStatus } from '../index/update.js';
import { listSources } from '../store/reader.js';
import { gapSegment, type QueryMissingSegment } from './archive-missing.js';
import { matchesEvent, type EventFilter } from './filter.js';

export interface IndexedAnswer {
  readonly events: AsyncGenerator<AuditEvent>;
  /** What the rows cannot include, stated before them. */
  readonly missing: QueryMissingSegment[];
}

/**
 * The answer through the index, or null when the full scan must give it:
 * the index is missing, behind the store, holds rows without a store
 * location, or lacks archived segments that can now be read (`--archive`
 * made them reachable after the index recorded them as gaps).
 */
export async function indexedAnswer(
  dir: string,
  filter: EventFilter,
  encryptionKey: Buffer | undefined,
  archiveDirs: readonly string[],
  indexPath = defaultIndexPath(dir),
): Promise<IndexedAnswer | null> {
  const status = await indexStatus(dir, indexPath).catch(() => null);
  if (!status?.current) return null;
  const reader = IndexReader.open(indexPath, dir, encryptionKey, archiveDirs);
  try {
    if (reader.db.prepare('SELECT 1 FROM events WHERE file IS NULL LIMIT 1').get() !== undefined) return close(reader);
    const all = await listSources(dir);
    const sources = filter.sources === undefined ? all : all.filter((s) => filter.sources?.includes(s));
    const files = new Map<string, ChainFile>();
    for (const s of sources) for (const f of await chainFiles(dir, s, archiveDirs)) files.set(f.rel, f);
    const gaps = reader.gaps().filter((g) => sources.includes(g.source));
    // The scan reads what the index could not; it states whatever stays out of reach.
    if (gaps.some((g) => files.get(g.file)?.path != null)) return close(reader);
    const { where, params } = filterSql(filter);
    const unreadable = [...files.values()].filter((f) => f.path === null && f.archived !== null);
    const missing: QueryMissingSegment[] = gaps.map(gapSegment);
    const count = reader.db.prepare<(string | number)[], { n: number; first: string | null; last: string | null }>(
      `SELECT count(*) AS n, min(e.time) AS first, max(e.time) AS last FROM events e JOIN files f ON f.id = e.file WHERE f.path = ? AND ${where}`,
    );
    for (const f of unreadable) {
      const line = f.archived!;
      const c = count.get(f.rel, ...params)!;
      if (c.n === 0) continue; // nothing of the answer is in it
      const reason = f.unreadable ?? 'not readable';
      missing.push({
        source: f.rel.slice(0, f.rel.indexOf('/')),
        segment: f.segment,
        file: f.rel,
        first_seq: line.first_seq ?? 0,
        last_seq: line.last_seq ?? 0,
        events: c.n,
        matching: c.n,
        after: null,
        sealed_at: line.signed_seal?.sealed_at ?? null,
        matching_times: c.first !== null && c.last !== null ? { first: c.first, last: c.last } : null,
        reason,
        deleted: isDeletedReason(reason),
      });
    }
    missing.sort((a, b) => (a.source === b.source ? a.segment - b.segment : a.source < b.source ? -1 : 1));
    const skip = new Set(unreadable.map((f) => f.rel));
    return { events: rows(reader, filter, where, params, skip), missing };
  } catch (e) {
    reader.close();
    throw e;
  }
}

function close(reader: IndexReader): null {
  reader.close();
  return null;
}

async function* rows(reader: IndexReader, filter: EventFilter, where: string, params: (string | number)[], unreadable: ReadonlySet<string>): AsyncGenerator<AuditEvent> {
  let n = 0;
  try {
    for (const row of reader.events(where, params, 'e.source, e.seq')) {
      if (row.file !== null && unreadable.has(row.file)) continue; // stated in `missing`
      const event = await reader.readEvent(row);
      // The index was current when checked; a missing or different event means the store changed under it.
      if (event === null || event.id !== row.id) throw staleIndex(`no event ${row.id} at ${row.file ?? '?'} byte ${row.offset ?? '?'}`);
      if (!matchesEvent(event, filter)) continue;
      yield event;
      if (filter.limit !== undefined && ++n >= filter.limit) return;
    }
  } finally {
    reader.close();
  }
}
