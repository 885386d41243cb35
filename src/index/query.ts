/**
 * The query filter as SQL over the index: the same `EventFilter` as the
 * full scan (src/query/filter.ts). src/query/indexed.ts runs it, reads each
 * full event back by file and offset and checks it once more with
 * `matchesEvent`, so results are identical to the scan, in the scan's order.
 */
import type { EventFilter } from '../query/filter.js';

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
