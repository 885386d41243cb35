/**
 * The columns the policy names, per table, with the setting that names
 * each. `doctor --config` checks them against the catalog
 * (check-columns.ts); `run` checks them against the rows it sees, and
 * reports a misspelt column once, at the first insert on its table, for
 * operators who never run doctor.
 */
import type { DraftEvent } from '../core/event.js';
import type { ColumnRule, PolicyConfig } from './config.js';

export type NamedColumn =
  | { readonly kind: 'subject'; readonly table: string; readonly column: string; readonly setting: string; readonly subject: string; readonly mappedTable: string }
  | { readonly kind: 'redaction'; readonly table: string; readonly column: string; readonly setting: string; readonly rule: ColumnRule };

/**
 * Every column the policy names, in config order. A subject entry's
 * `table` is where the column must be (a lookup's parent, for its
 * `parent_key` and `column`), `mappedTable` the table whose events it maps.
 */
export function namedColumnList(config: PolicyConfig): NamedColumn[] {
  const out: NamedColumn[] = [];
  for (const [table, subjects] of Object.entries(config.subjects)) {
    for (const [name, mapping] of Object.entries(subjects)) {
      const at = `subjects.${table}.${name}`;
      const subject = (inTable: string, column: string, where: string): NamedColumn => ({ kind: 'subject', table: inTable, column, setting: `${at}.${where}`, subject: name, mappedTable: table });
      if ('column' in mapping) {
        out.push(subject(table, mapping.column, 'column'));
        continue;
      }
      const { table: parent, key, column, parent_key: parentKey } = mapping.lookup;
      out.push(subject(table, key, 'lookup.key'));
      if (parentKey !== undefined) out.push(subject(parent, parentKey, 'lookup.parent_key'));
      // Read only when the parent does not map the same subject itself (subjects.ts).
      if (config.subjects[parent]?.[name] === undefined) out.push(subject(parent, column, 'lookup.column'));
    }
  }
  for (const [table, rules] of Object.entries(config.redaction.tables)) {
    for (const [column, rule] of Object.entries(rules)) {
      if (column !== '*') out.push({ kind: 'redaction', table, column, setting: `redaction.tables.${table}`, rule });
    }
  }
  return out;
}

/** table -> column -> the first setting that names it. */
export function namedColumns(config: PolicyConfig): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const { table, column, setting } of namedColumnList(config)) {
    let m = out.get(table);
    if (m === undefined) out.set(table, (m = new Map()));
    if (!m.has(column)) m.set(column, setting);
  }
  return out;
}

export interface MissingPolicyColumns {
  readonly table: string;
  /** Each missing column with the setting that names it. */
  readonly columns: ReadonlyArray<{ readonly column: string; readonly setting: string }>;
  /** The columns the row has. */
  readonly present: readonly string[];
}

/**
 * Watches drafts (raw, before redaction) and reports, once per table, the
 * policy's columns that the table's first insert lacks. An insert's row is
 * the whole row (a delete's or update's may hold only key or changed
 * columns, e.g. without REPLICA IDENTITY FULL or with a minimal binlog row
 * image), so only inserts are compared.
 */
export class PolicyColumnWatch {
  readonly #named: Map<string, Map<string, string>>;
  readonly #report: (missing: MissingPolicyColumns) => void;

  constructor(config: PolicyConfig, report: (missing: MissingPolicyColumns) => void) {
    this.#named = namedColumns(config);
    this.#report = report;
  }

  observe(table: string, draft: DraftEvent): void {
    const named = this.#named.get(table);
    if (named === undefined || draft.action !== 'insert') return;
    const row = draft.changes?.after;
    if (!row) return;
    this.#named.delete(table); // once per table
    const missing = [...named].filter(([column]) => !Object.hasOwn(row, column)).map(([column, setting]) => ({ column, setting }));
    if (missing.length > 0) this.#report({ table, columns: missing, present: Object.keys(row) });
  }
}
