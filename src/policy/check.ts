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

/**
 * @param auditedTables every `schema.table` some source audits (empty: unknown, table checks skipped)
 */
export function checkPolicy(input: PolicyConfig | PolicyConfigInput, auditedTables: readonly string[], env: NodeJS.ProcessEnv = process.env): Finding[] {
  const config = PolicyConfig.parse(input);
  const out: Finding[] = [];
  const audited = new Set(auditedTables);
  const known = audited.size > 0;

  const mapped = Object.keys(config.subjects);
  if (mapped.length === 0) {
    out.push({ id: 'policy.subjects', status: 'warn', title: 'No table is mapped to a patient', detail: 'events carry no subject.patient_id, so `report patient` finds nothing', fix: 'add a `subjects` section naming, per table, the column (or lookup) that holds the patient id (docs/reports.md)' });
  }
  for (const [table, subjects] of Object.entries(config.subjects)) {
    if (known && !audited.has(table)) {
      out.push({ id: 'policy.subjects.unaudited', status: 'warn', title: `Mapped table ${table} is not audited`, detail: 'no source audits it, so its mapping is never used', fix: `add ${table} to a source's tables, or remove its mapping` });
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
