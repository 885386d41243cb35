/**
 * Subject mapping: which patient a changed row belongs to.
 *
 * A `column` mapping reads the id from the row itself. A `lookup` mapping
 * follows a key to a parent table (a prescription belongs to an encounter,
 * which belongs to a patient). The parent's patient is found in, in order:
 * 1. an in-memory LRU map of parent rows this process has seen (every event
 *    on a parent table records `parent key -> patient id`; deletes keep the
 *    entry because cascaded child deletes arrive after the parent's);
 * 2. the optional `fallback` (the query index: the newest indexed event of
 *    the parent row).
 * When neither knows the parent (it was never audited, or was written
 * before dbwitness ran and never touched since), `patient_id` is null: the
 * event says "mapped table, patient unknown", and reports count such events.
 */
import type { ColumnValue, DraftEvent, Row, Subject } from '../core/event.js';
import type { SubjectsConfig } from './config.js';

/** Resolves a parent row's subject from durable state; undefined when unknown. */
export type SubjectFallback = (parentTable: string, parentKey: string, subject: string) => string | null | undefined;

export const DEFAULT_LOOKUP_CACHE_SIZE = 100_000;

interface ColumnSpec {
  readonly name: string;
  readonly column: string;
}
interface LookupSpec {
  readonly name: string;
  readonly key: string;
  readonly parentTable: string;
  readonly cacheId: string;
}
/** Recorded on a parent table's events: where its subject id and key are. */
interface ParentSpec {
  readonly cacheId: string;
  readonly subject: string;
  readonly column: string;
  readonly parentKey: string | undefined;
}
interface TableSpec {
  readonly columns: readonly ColumnSpec[];
  readonly lookups: readonly LookupSpec[];
  readonly parents: readonly ParentSpec[];
}

export interface SubjectStats {
  lookupHits: number;
  fallbackHits: number;
  unresolved: number;
}

export class SubjectResolver {
  readonly #tables = new Map<string, TableSpec>();
  readonly #caches = new Map<string, Map<string, string | null>>();
  readonly #maxEntries: number;
  readonly #fallback: SubjectFallback | undefined;
  readonly stats: SubjectStats = { lookupHits: 0, fallbackHits: 0, unresolved: 0 };

  constructor(config: SubjectsConfig, opts: { fallback?: SubjectFallback | undefined; cacheSize?: number | undefined } = {}) {
    this.#maxEntries = opts.cacheSize ?? DEFAULT_LOOKUP_CACHE_SIZE;
    this.#fallback = opts.fallback;
    const spec = (table: string): { columns: ColumnSpec[]; lookups: LookupSpec[]; parents: ParentSpec[] } => {
      let s = this.#tables.get(table) as { columns: ColumnSpec[]; lookups: LookupSpec[]; parents: ParentSpec[] } | undefined;
      if (!s) {
        s = { columns: [], lookups: [], parents: [] };
        this.#tables.set(table, s);
      }
      return s;
    };
    for (const [table, subjects] of Object.entries(config)) {
      for (const [name, mapping] of Object.entries(subjects)) {
        if ('column' in mapping) {
          spec(table).columns.push({ name, column: mapping.column });
        } else {
          const { table: parentTable, key, column, parent_key } = mapping.lookup;
          const cacheId = `${parentTable}\u0000${name}\u0000${parent_key ?? ''}`;
          spec(table).lookups.push({ name, key, parentTable, cacheId });
          const parents = spec(parentTable).parents;
          if (!parents.some((p) => p.cacheId === cacheId)) parents.push({ cacheId, subject: name, column, parentKey: parent_key });
          if (!this.#caches.has(cacheId)) this.#caches.set(cacheId, new Map());
        }
      }
    }
  }

  /** Columns that identify a subject in this table (kept by the default redaction). */
  subjectColumns(table: string): string[] {
    const s = this.#tables.get(table);
    if (!s) return [];
    return [...s.columns.map((c) => c.column), ...s.lookups.map((l) => l.key), ...s.parents.map((p) => p.column)];
  }

  isMapped(table: string): boolean {
    const s = this.#tables.get(table);
    return s !== undefined && s.columns.length + s.lookups.length > 0;
  }

  /** The subject block for an event on `table` (raw, unredacted rows), recording parent rows. */
  resolve(table: string, draft: DraftEvent): Subject | null {
    const spec = this.#tables.get(table);
    const changes = draft.changes;
    if (!spec || !changes || (changes.before === null && changes.after === null)) return null;
    let subject: Record<string, string | null> | null = null;
    for (const c of spec.columns) {
      subject ??= {};
      setSubject(subject, c.name, text(changes.before?.[c.column]), text(changes.after?.[c.column]), changes.before !== null, changes.after !== null);
    }
    for (const l of spec.lookups) {
      subject ??= {};
      const before = changes.before ? this.#lookup(l, text(changes.before[l.key])) : null;
      const after = changes.after ? this.#lookup(l, text(changes.after[l.key])) : null;
      setSubject(subject, l.name, before, after, changes.before !== null, changes.after !== null);
      if (subject[l.name] === null) this.stats.unresolved++;
    }
    for (const p of spec.parents) {
      const row = changes.after ?? changes.before;
      if (!row) continue;
      const key = p.parentKey !== undefined ? text(row[p.parentKey]) : singleKey(draft.object?.key ?? null);
      if (key === null) continue;
      const own = subject && p.subject in subject ? subject[p.subject]! : text(row[p.column]);
      this.#remember(p.cacheId, key, own);
    }
    return subject;
  }

  #lookup(spec: LookupSpec, key: string | null): string | null {
    if (key === null) return null;
    const cache = this.#caches.get(spec.cacheId)!;
    if (cache.has(key)) {
      const v = cache.get(key)!;
      cache.delete(key); // LRU: move to the newest end
      cache.set(key, v);
      this.stats.lookupHits++;
      return v;
    }
    const found = this.#fallback?.(spec.parentTable, key, spec.name);
    if (found !== undefined && found !== null) this.stats.fallbackHits++;
    // Misses are cached too (as null) so an orphaned child does not query the fallback on every event;
    // a later event on the parent overwrites the entry.
    this.#remember(spec.cacheId, key, found ?? null);
    return found ?? null;
  }

  #remember(cacheId: string, key: string, value: string | null): void {
    const cache = this.#caches.get(cacheId)!;
    cache.delete(key);
    cache.set(key, value);
    if (cache.size > this.#maxEntries) cache.delete(cache.keys().next().value as string);
  }
}

function setSubject(subject: Record<string, string | null>, name: string, before: string | null, after: string | null, hasBefore: boolean, hasAfter: boolean): void {
  subject[name] = hasAfter ? after : before;
  // An update that moves a row to another patient concerns both of them.
  if (hasBefore && hasAfter && before !== after) subject[`${name}_before`] = before;
}

function text(v: ColumnValue | undefined): string | null {
  return typeof v === 'string' ? v : null;
}

function singleKey(key: Row | null): string | null {
  if (!key) return null;
  const cols = Object.keys(key);
  return cols.length === 1 ? text(key[cols[0]!]) : null;
}
