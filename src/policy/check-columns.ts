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
import { namedColumnList } from './named-columns.js';

/** `columns`: each audited table (`schema.table`, as the policy names it) with its column names. */
export function checkPolicyColumns(config: PolicyConfig, columns: ReadonlyMap<string, readonly string[]>): Finding[] {
  const out: Finding[] = [];
  for (const named of namedColumnList(config)) {
    const { table, column, setting } = named;
    const cols = columns.get(table);
    // Not audited here (check.ts reports the table itself), or no columns at all: they could not be seen
    // (MySQL shows only columns the account holds a privilege on), which is not the same as none existing.
    if (cols === undefined || cols.length === 0 || cols.includes(column)) continue;
    const near = similarName(column, cols);
    const fix = `${near !== null ? `did you mean ${near}? ` : ''}name one of ${table}'s columns in ${setting} (names are case-sensitive)`;
    const has = `${table} has: ${cols.join(', ')}`;
    if (named.kind === 'subject') {
      const { subject, mappedTable } = named;
      const where = setting.slice(`subjects.${mappedTable}.${subject}.`.length); // column, lookup.key, lookup.parent_key, lookup.column
      const what = where === 'column' ? `reads column ${column}` : `looks up ${where.slice('lookup.'.length)} ${column}`;
      out.push({
        id: 'policy.subjects.column_missing',
        status: 'fail',
        title: `${mappedTable}.${subject} ${what}, which ${table} does not have`,
        detail: `every ${mappedTable} event would get ${subject}: null, so \`report patient\` would not list it; ${has}`,
        fix,
      });
      continue;
    }
    const rules = config.redaction.tables[table] ?? {};
    const fallback: ColumnRule = rules['*'] ?? config.redaction.default;
    // A protective rule for a column that is not there, while the table keeps by default: the column meant (if misspelt) is stored in clear.
    const exposed = named.rule !== 'keep' && fallback === 'keep';
    out.push({
      id: 'policy.redaction.column_missing',
      status: exposed ? 'fail' : 'warn',
      title: `Redaction rule for ${table}.${column}, which ${table} does not have`,
      detail: `the rule (${named.rule}) applies to nothing${exposed ? `, and ${table}'s other columns are kept in clear (${rules['*'] !== undefined ? "the table's * rule" : 'redaction.default'} is keep)` : ''}; ${has}`,
      fix: `${near !== null ? `did you mean ${near}? ` : ''}name the column as the table spells it in ${setting} (names are case-sensitive), or remove the rule`,
    });
  }
  return out;
}
