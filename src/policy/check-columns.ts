/**
 * Doctor checks of the policy against the live schema: every column the
 * subject mapping or a redaction rule names must exist in its table.
 *
 * Neither mistake stops `run`, and both quietly weaken the trail: a mapping
 * that reads a column the table lacks gives every event of that table
 * `patient_id: null` (so `report patient` misses them), and a rule for a
 * misspelt column leaves the real column to the table's fallback rule,
 * which stores it in clear when that rule is `keep`.
 */
import { similarName } from '../core/similar-name.js';
import type { Finding } from '../core/ports.js';
import type { ColumnRule, PolicyConfig } from './config.js';

/** `columns`: each audited table (`schema.table`, as the policy names it) with its column names. */
export function checkPolicyColumns(config: PolicyConfig, columns: ReadonlyMap<string, readonly string[]>): Finding[] {
  const out: Finding[] = [];
  const missing = (table: string, column: string): boolean => {
    const cols = columns.get(table);
    // No columns at all means they could not be seen (MySQL shows only columns the account holds a privilege on), not that none exist.
    return cols !== undefined && cols.length > 0 && !cols.includes(column);
  };
  const hint = (table: string, column: string): string => {
    const cols = columns.get(table) ?? [];
    const near = similarName(column, cols);
    return near !== null ? `did you mean ${near}? ` : '';
  };
  const listed = (table: string): string => `${table} has: ${(columns.get(table) ?? []).join(', ')}`;

  for (const [table, subjects] of Object.entries(config.subjects)) {
    for (const [name, mapping] of Object.entries(subjects)) {
      if ('column' in mapping) {
        if (missing(table, mapping.column)) {
          out.push({
            id: 'policy.subjects.column_missing',
            status: 'fail',
            title: `${table}.${name} reads column ${mapping.column}, which ${table} does not have`,
            detail: `every ${table} event would get ${name}: null, so \`report patient\` would not list it; ${listed(table)}`,
            fix: `${hint(table, mapping.column)}name one of ${table}'s columns in subjects.${table}.${name}.column (names are case-sensitive)`,
          });
        }
        continue;
      }
      const { table: parent, key, column, parent_key: parentKey } = mapping.lookup;
      const lookupFail = (where: string, col: string, inTable: string, why: string): Finding => ({
        id: 'policy.subjects.column_missing',
        status: 'fail',
        title: `${table}.${name} looks up ${where} ${col}, which ${inTable} does not have`,
        detail: `${why}; ${listed(inTable)}`,
        fix: `${hint(inTable, col)}name one of ${inTable}'s columns in subjects.${table}.${name}.lookup.${where} (names are case-sensitive)`,
      });
      const unresolved = `every ${table} event would get ${name}: null`;
      if (missing(table, key)) out.push(lookupFail('key', key, table, unresolved));
      if (parentKey !== undefined && missing(parent, parentKey)) out.push(lookupFail('parent_key', parentKey, parent, unresolved));
      // The parent's own mapping of the same subject wins over `column` (subjects.ts), so `column` is read only without one.
      if (config.subjects[parent]?.[name] === undefined && missing(parent, column)) out.push(lookupFail('column', column, parent, unresolved));
    }
  }

  const r = config.redaction;
  for (const [table, rules] of Object.entries(r.tables)) {
    if (!columns.has(table)) continue; // not audited: check.ts reports the table itself
    const fallback: ColumnRule = rules['*'] ?? r.default;
    for (const [column, rule] of Object.entries(rules)) {
      if (column === '*' || !missing(table, column)) continue;
      // A protective rule for a column that is not there, while the table keeps by default: the column meant (if misspelt) is stored in clear.
      const exposed = rule !== 'keep' && fallback === 'keep';
      out.push({
        id: 'policy.redaction.column_missing',
        status: exposed ? 'fail' : 'warn',
        title: `Redaction rule for ${table}.${column}, which ${table} does not have`,
        detail: `the rule (${rule}) applies to nothing${exposed ? `, and ${table}'s other columns are kept in clear (${rules['*'] !== undefined ? "the table's * rule" : 'redaction.default'} is keep)` : ''}; ${listed(table)}`,
        fix: `${hint(table, column)}name the column as the table spells it in redaction.tables.${table} (names are case-sensitive), or remove the rule`,
      });
    }
  }
  return out;
}
