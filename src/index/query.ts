/**
 * The index-backed path of `dbwitness query`: the same `EventFilter` as the
 * full scan (src/query/filter.ts), translated to SQL over the index, with
 * each full event read back from the store by file and offset and checked
 * once more with `matchesEvent`. Results are identical to the scan, in the
 * scan's order (source by source, in chain order), so `--limit` cuts at the
 * same event.
 */
import type { AuditEvent } from '../core/event.js';
import { matchesEvent, type EventFilter } from '../query/filter.js';
import { IndexReader } from './reader.js';
import { staleIndex } from './store-scan.js';
import { defaultIndexPath, indexStatus } from './update.js';

type Param = string | number;

export function filterSql(f: EventFilter): { where: string; params: Param[] } {
  const parts: string[] = [];
  const params: Param[] = [];
  const inList = (column: string, values: readonly string[] | undefined): void => {
    if (values === undefined) return;
    parts.push(`${column} IN (${values.map(() => '?').join(', ')})`);
    params.push(...values);
  };
  if (f.from !== undefined) {
    parts.push('e.time >= ?');
    params.push(f.from);
  }
  if (f.to !== undefined) {
    parts.push('e.time < ?');
    params.push(f.to);
  }
  inList('e.source', f.sources);
  inList('e.action', f.actions);
  inList('e.db_user', f.users);
  inList('e.application', f.apps);
  inList('e.client_addr', f.clients);
  if (f.tables !== undefined) {
    const alts = f.tables.map((t) => {
      if (t.schema === null) {
        params.push(t.table);
        return 'e.table_name = ?';
      }
      params.push(t.schema, t.table);
      return '(e.schema_name = ? AND e.table_name = ?)';
    });
    parts.push(`(${alts.join(' OR ')})`);
  }
  return { where: parts.length ? parts.join(' AND ') : '1 = 1', params };
}

/**
 * Matching events through the index, or null when the index is missing,
 * behind the store, or holds rows without a store location (then the
 * caller scans).
 */
export async function indexedMatching(dir: string, filter: EventFilter, encryptionKey: Buffer | undefined, indexPath = defaultIndexPath(dir)): Promise<AsyncGenerator<AuditEvent> | null> {
  const status = await indexStatus(dir, indexPath).catch(() => null);
  if (!status?.current) return null;
  const reader = IndexReader.open(indexPath, dir, encryptionKey);
  if (reader.db.prepare('SELECT 1 FROM events WHERE file IS NULL LIMIT 1').get() !== undefined) {
    reader.close();
    return null;
  }
  const { where, params } = filterSql(filter);
  return (async function* () {
    let n = 0;
    try {
      for (const row of reader.events(where, params, 'e.source, e.seq')) {
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
  })();
}
