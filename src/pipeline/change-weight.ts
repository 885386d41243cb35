/**
 * How much memory a change holds, approximately: the characters of its row
 * values (and their column names), plus a fixed amount for the objects
 * around them. Counts alone do not bound memory when rows are wide: 5,000
 * clinical notes of 100 KB are 500 MB. The buffer, the batches and what is
 * outstanding in the store are therefore bounded by this weight as well as
 * by count. One pass over the row's members, no serialization.
 */
import type { Row } from '../core/event.js';
import type { RowChange } from '../core/ports.js';

/** The fixed part: the change, its key and column list, and the event built from it. */
export const CHANGE_OVERHEAD = 512;

export function changeWeight(c: RowChange): number {
  return CHANGE_OVERHEAD + rowChars(c.before) + rowChars(c.after);
}

function rowChars(r: Row | null): number {
  if (r === null) return 0;
  let n = 0;
  for (const k in r) {
    const v = r[k];
    n += k.length;
    if (typeof v === 'string') n += v.length;
    else if (v !== null && v !== undefined && 'base64' in v) n += v.base64.length;
  }
  return n;
}
