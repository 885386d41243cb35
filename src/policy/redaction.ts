/**
 * Column redaction. Which rule applies to a column, most specific first:
 * 1. an explicit `redaction.tables.<table>.<column>` rule;
 * 2. `keep` for primary-key and subject columns (a reviewer needs them to
 *    say whose record was touched; they are identifiers, not clinical data);
 * 3. the table's `*` rule;
 * 4. `redaction.default` (hmac unless configured).
 */
import type { ColumnValue, Row } from '../core/event.js';
import { setOwn } from '../core/own-field.js';
import type { ColumnRule, RedactionConfig } from './config.js';
import type { Hmac } from './hmac.js';

export class TableRules {
  readonly #explicit: ReadonlyMap<string, ColumnRule>;
  readonly #kept: ReadonlySet<string>;
  readonly #fallback: ColumnRule;
  readonly #cache = new Map<string, ColumnRule>();

  /** Every column of the table is kept whatever it is: the rows need no copy. */
  readonly keepsAll: boolean;

  constructor(explicit: ReadonlyMap<string, ColumnRule>, kept: ReadonlySet<string>, fallback: ColumnRule) {
    this.#explicit = explicit;
    this.#kept = kept;
    this.#fallback = fallback;
    this.keepsAll = fallback === 'keep' && [...explicit.values()].every((r) => r === 'keep');
  }

  /** `keyColumns`: the event's primary-key columns, kept unless a rule says otherwise. */
  rule(column: string, keyColumns: ReadonlySet<string> | null): ColumnRule {
    const explicit = this.#explicit.get(column);
    if (explicit) return explicit;
    if (keyColumns?.has(column)) return 'keep';
    let r = this.#cache.get(column);
    if (r === undefined) {
      r = this.#kept.has(column) ? 'keep' : this.#fallback;
      this.#cache.set(column, r);
    }
    return r;
  }
}

export function tableRules(config: RedactionConfig, table: string, subjectColumns: readonly string[]): TableRules {
  const overrides = config.tables[table] ?? {};
  const explicit = new Map<string, ColumnRule>();
  let star: ColumnRule | undefined;
  for (const [column, rule] of Object.entries(overrides)) {
    if (column === '*') star = rule;
    else explicit.set(column, rule);
  }
  return new TableRules(explicit, new Set(subjectColumns), star ?? config.default);
}

/** Whether any rule of the config can produce an HMAC (then the key is required). */
export function configUsesHmac(config: RedactionConfig): boolean {
  if (config.default === 'hmac' || config.statement === 'hmac') return true;
  return Object.values(config.tables).some((t) => Object.values(t).includes('hmac'));
}

export function redactValue(value: ColumnValue, rule: Exclude<ColumnRule, 'keep' | 'drop'>, hmac: Hmac | null): ColumnValue {
  // An unsent TOASTed value carries no data; an already-protected value stays protected.
  if (value !== null && typeof value === 'object' && !('base64' in value)) return value;
  if (rule === 'redact') return { redacted: true };
  if (value === null) return null;
  if (!hmac) throw new Error('hmac rule without a key'); // compilePolicy refuses this configuration earlier
  // HMAC over the exact bytes: the source's text form, or the decoded binary value.
  return { hmac: hmac(typeof value === 'string' ? value : Buffer.from(value.base64, 'base64')) };
}

/** Applies the rules to one row image; dropped columns disappear. */
export function redactRow(row: Row, rules: TableRules, keyColumns: ReadonlySet<string> | null, hmac: Hmac | null): Row {
  const out: Row = {};
  for (const column of Object.keys(row)) {
    const rule = rules.rule(column, keyColumns);
    const value = row[column]!;
    if (rule === 'keep') setOwn(out, column, value);
    else if (rule !== 'drop') setOwn(out, column, redactValue(value, rule, hmac));
  }
  return out;
}

/** The object key: a key column cannot vanish (the event must still name a row), so `drop` redacts it. */
export function redactKey(key: Row, rules: TableRules, hmac: Hmac | null): Row {
  const out: Row = {};
  const keyColumns = new Set(Object.keys(key));
  for (const column of keyColumns) {
    const rule = rules.rule(column, keyColumns);
    const value = key[column]!;
    setOwn(out, column, rule === 'keep' ? value : redactValue(value, rule === 'drop' ? 'redact' : rule, hmac));
  }
  return out;
}
