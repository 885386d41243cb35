/**
 * The columns the policy names, per table, and a check of them against the
 * rows the daemon actually sees: `run` reports a misspelt column once, at
 * the first insert on its table, for operators who never run
 * `doctor --config` (which checks the same against the catalog).
 */
import type { DraftEvent } from '../core/event.js';
import type { PolicyConfig } from './config.js';

/** table -> column -> what names it (e.g. `subjects.clinic.encounters.patient_id.column`). */
export function namedColumns(config: PolicyConfig): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  const add = (table: string, column: string, where: string): void => {
    let m = out.get(table);
    if (m === undefined) out.set(table, (m = new Map()));
    if (!m.has(column)) m.set(column, where);
  };
  for (const [table, subjects] of Object.entries(config.subjects)) {
    for (const [name, mapping] of Object.entries(subjects)) {
      const at = `subjects.${table}.${name}`;
      if ('column' in mapping) {
        add(table, mapping.column, `${at}.column`);
        continue;
      }
      const { table: parent, key, column, parent_key: parentKey } = mapping.lookup;
      add(table, key, `${at}.lookup.key`);
      if (parentKey !== undefined) add(parent, parentKey, `${at}.lookup.parent_key`);
      // Read only when the parent does not map the same subject itself (subjects.ts).
      if (config.subjects[parent]?.[name] === undefined) add(parent, column, `${at}.lookup.column`);
    }
  }
  for (const [table, rules] of Object.entries(config.redaction.tables)) {
    for (const column of Object.keys(rules)) if (column !== '*') add(table, column, `redaction.tables.${table}`);
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
