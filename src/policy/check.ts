/**
 * Doctor checks of the subject mapping and redaction policy, as findings
 * with fixes (core/ports.ts `Finding`): problems that would not stop `run`
 * but would quietly weaken the trail.
 */
import { isDbwitnessError } from '../core/errors.js';
import type { Finding } from '../core/ports.js';
import { PolicyConfig, type PolicyConfigInput } from './config.js';
import { loadHmacKey } from './hmac.js';
import { configUsesHmac } from './redaction.js';
import { checkPolicyColumns } from './check-columns.js';
import { similarName } from '../core/similar-name.js';

/** The subject name reports by patient read (`report patient`, the index's patient_id). */
const PATIENT_SUBJECT = 'patient_id';

/**
/** What the sources audit: tables by name, and schemas (or MySQL databases) whose every table is audited. */
export interface AuditedScope {
  readonly tables: readonly string[];
  readonly schemas?: readonly string[];
}

/**
 * @param scope what every source audits, as tables or as a scope with schemas (empty: unknown, table checks skipped)
 * @param columns the audited tables' columns, read from the database (null: unknown, column checks skipped; tables absent from it are not checked)
 */
export function checkPolicy(
  input: PolicyConfig | PolicyConfigInput,
  scope: readonly string[] | AuditedScope,
  env: NodeJS.ProcessEnv = process.env,
  columns: ReadonlyMap<string, readonly string[]> | null = null,
): Finding[] {
  const config = PolicyConfig.parse(input);
  const out: Finding[] = [];
  const { tables: auditedTables, schemas = [] } = Array.isArray(scope) ? { tables: scope as readonly string[] } : (scope as AuditedScope);
  const names = new Set(auditedTables);
  const audited = { has: (table: string): boolean => names.has(table) || schemas.some((s) => table.startsWith(`${s}.`)) };
  const known = names.size > 0 || schemas.length > 0;

  const mapped = Object.keys(config.subjects);
  if (mapped.length === 0) {
    out.push({ id: 'policy.subjects', status: 'warn', title: 'No table is mapped to a patient', detail: 'events carry no subject.patient_id, so `report patient` finds nothing', fix: 'add a `subjects` section naming, per table, the column (or lookup) that holds the patient id (docs/reports.md)' });
  }
  for (const [table, subjects] of Object.entries(config.subjects)) {
    if (known && !audited.has(table)) {
      const near = similarName(table, names);
      out.push({ id: 'policy.subjects.unaudited', status: 'warn', title: `Mapped table ${table} is not audited`, detail: 'no source audits it, so its mapping is never used', fix: `${near !== null ? `did you mean ${near}? ` : ''}add ${table} to a source's tables, or remove its mapping` });
    }
    const subjectNames = Object.keys(subjects);
    if (!subjectNames.includes(PATIENT_SUBJECT)) {
      // Other subject names are allowed (they land in subject.*), but only patient_id is indexed for reports.
      const near = subjectNames.find((n) => similarName(n, [PATIENT_SUBJECT]) !== null);
      out.push({
        id: 'policy.subjects.no_patient_id',
        status: 'warn',
        title: `${table} is mapped without ${PATIENT_SUBJECT}`,
        detail: `its events carry subject ${subjectNames.join(', ')} but no ${PATIENT_SUBJECT}, so \`report patient\` never lists them`,
        fix: near !== undefined ? `did you mean ${PATIENT_SUBJECT}? rename subjects.${table}.${near}` : `add ${PATIENT_SUBJECT} to subjects.${table} if its rows belong to a patient`,
      });
    }
    for (const [name, mapping] of Object.entries(subjects)) {
      if (!('lookup' in mapping)) continue;
      const parent = mapping.lookup.table;
      if (known && !audited.has(parent)) {
        out.push({
          id: 'policy.lookup.parent_unaudited',
          status: 'fail',
          title: `${table}.${name} looks up ${parent}, which is not audited`,
          detail: `dbwitness never sees ${parent} rows, so every ${table} event gets ${name}: null`,
          fix: `audit ${parent} too (add it to the source's tables and re-run setup), or map ${table} by a column of its own`,
        });
      }
      if (parent === table) {
        out.push({ id: 'policy.lookup.self', status: 'fail', title: `${table}.${name} looks up its own table`, detail: 'a lookup must name another table', fix: 'use { column: ... } for a column of the same row' });
      }
    }
  }

  const r = config.redaction;
  for (const [table, rules] of Object.entries(r.tables)) {
    if (!known || audited.has(table)) continue;
    // Rules for a table no source audits apply to nothing; if the name is a slip for an audited table, that table falls to the default rule.
    const protective = Object.values(rules).some((rule) => rule !== 'keep');
    const exposed = protective && r.default === 'keep';
    const near = similarName(table, names);
    out.push({
      id: 'policy.redaction.unaudited',
      status: exposed ? 'fail' : 'warn',
      title: `Redaction rules name ${table}, which is not audited`,
      detail: `its rules apply to nothing${exposed ? ', and every audited table without rules is kept in clear (redaction.default is keep)' : ''}`,
      fix: `${near !== null ? `did you mean ${near}? ` : ''}name an audited table in redaction.tables, or remove the entry`,
    });
  }
  if (columns !== null) out.push(...checkPolicyColumns(config, columns));
  if (configUsesHmac(r)) {
    if (!r.hmac_key) {
      out.push({ id: 'policy.hmac_key', status: 'fail', title: 'The redaction policy hashes values but names no HMAC key', detail: 'run refuses to start without one', fix: 'set redaction.hmac_key to { env: VAR } or { file: PATH } with at least 32 random bytes (`openssl rand -hex 32`)' });
    } else {
      try {
        loadHmacKey(r.hmac_key, env);
        out.push({ id: 'policy.hmac_key', status: 'ok', title: 'The HMAC key is readable and long enough', detail: 'file' in r.hmac_key ? `from file ${r.hmac_key.file}` : `from environment variable ${r.hmac_key.env}` });
      } catch (e) {
        if (!isDbwitnessError(e)) throw e;
        out.push({ id: 'policy.hmac_key', status: 'fail', title: 'The HMAC key cannot be used', detail: e.message, fix: e.fix });
      }
    }
  }
  if (r.default === 'keep') {
    out.push({ id: 'policy.default_keep', status: 'warn', title: 'Column values are stored in clear by default', detail: 'redaction.default is keep: the store then holds ePHI and must be protected as such', fix: 'use the default (hmac), or redact/drop the clinical columns per table' });
  }
  if (r.statement === 'keep') {
    out.push({ id: 'policy.statement_keep', status: 'warn', title: 'SQL text is stored as sent', detail: 'statement literals (names, dates, notes) reach the store', fix: 'use redaction.statement: redact_literals (the default) or drop' });
  }
  if (out.every((f) => f.status === 'ok')) out.push({ id: 'policy', status: 'ok', title: 'Subject mapping and redaction policy', detail: `${mapped.length} mapped table(s), default rule ${r.default}, statements ${r.statement}` });
  return out;
}
