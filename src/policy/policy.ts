/**
 * The event policy the pipeline applies to every draft before it is hashed
 * and stored: subject mapping first (it needs the raw values), then
 * redaction of row images, key and statement. Whatever the policy removes
 * never reaches the store, the index or a log line.
 */
import { usageError } from '../core/errors.js';
import type { DraftEvent, Row } from '../core/event.js';
import { PolicyConfig, type PolicyConfigInput } from './config.js';
import { loadHmacKey, makeHmac, type Hmac } from './hmac.js';
import { configUsesHmac, redactKey, redactRow, tableRules, type TableRules } from './redaction.js';
import { redactSqlLiterals } from './statement.js';
import { SubjectResolver, type SubjectFallback, type SubjectStats } from './subjects.js';
import { PolicyColumnWatch, type MissingPolicyColumns } from './named-columns.js';

export interface EventPolicy {
  /**
   * Returns the draft with `subject` set where the table is mapped and the
   * row images, key and statement redacted. Does not modify its argument.
   * Not pure in one respect: it remembers parent rows for lookup mappings,
   * so events must be applied in stream order.
   */
  apply(draft: DraftEvent): DraftEvent;
  /** Lookup counters: resolved from memory, from the fallback, and unresolved. */
  stats(): Readonly<SubjectStats>;
}

export interface CompilePolicyOptions {
  /** Required when any rule hashes (the default policy does). Load it with `loadHmacKey`. */
  hmacKey?: Buffer | undefined;
  /** Durable parent lookup (e.g. `IndexReader.subjectFallback()`), used when memory does not know the parent. */
  lookupFallback?: SubjectFallback | undefined;
  /** Entries per lookup parent kept in memory (default 100,000). */
  lookupCacheSize?: number | undefined;
  /** Called once per table when its first insert lacks a column the policy names (a misspelt mapping or rule). */
  onMissingColumns?: ((missing: MissingPolicyColumns) => void) | undefined;
}

/**
 * @example
 * ```ts
 * const policy = compilePolicy(config, { hmacKey: loadHmacKey(config.redaction.hmac_key!) });
 * const stored = await chain.append(drafts.map((d) => policy.apply(d)));
 * ```
 */
export function compilePolicy(input: PolicyConfig | PolicyConfigInput, opts: CompilePolicyOptions = {}): EventPolicy {
  const config = PolicyConfig.parse(input);
  const { redaction } = config;
  if (configUsesHmac(redaction) && !opts.hmacKey) {
    throw usageError(
      'E_HMAC_KEY_MISSING',
      'the redaction policy hashes column values (HMAC) but no HMAC key was given',
      'set redaction.hmac_key to { env: VAR } or { file: PATH } holding at least 32 random bytes (`openssl rand -hex 32`), or change the rules to keep/redact/drop',
    );
  }
  const hmac: Hmac | null = opts.hmacKey ? makeHmac(opts.hmacKey) : null;
  const subjects = new SubjectResolver(config.subjects, { fallback: opts.lookupFallback, cacheSize: opts.lookupCacheSize });
  const rulesByTable = new Map<string, TableRules>();
  const rulesFor = (table: string): TableRules => {
    let r = rulesByTable.get(table);
    if (!r) {
      r = tableRules(redaction, table, subjects.subjectColumns(table));
      rulesByTable.set(table, r);
    }
    return r;
  };
  const watch = opts.onMissingColumns !== undefined ? new PolicyColumnWatch(config, opts.onMissingColumns) : null;
  const dialectOf = (d: DraftEvent): 'postgres' | 'mysql' => (d.source.engine === 'postgres' || d.source.engine === 'pglog' ? 'postgres' : 'mysql');

  return {
    stats: () => ({ ...subjects.stats }),
    apply(draft) {
      const obj = draft.object;
      const table = obj && obj.schema !== null && obj.table !== null ? `${obj.schema}.${obj.table}` : null;
      let out: DraftEvent = draft;
      if (table !== null && obj) {
        watch?.observe(table, draft);
        const subject = subjects.resolve(table, draft);
        const rules = rulesFor(table);
        if (rules.keepsAll) {
          // Nothing to redact: the row images are shared with the draft, not copied (neither is modified).
          if (subject !== null && subject !== draft.subject) out = { ...draft, subject };
        } else {
          const keyColumns = obj.key ? new Set(Object.keys(obj.key)) : null;
          const changes = draft.changes;
          out = {
            ...draft,
            subject: subject ?? draft.subject,
            object: obj.key ? { ...obj, key: redactKey(obj.key, rules, hmac) } : obj,
            changes: changes && {
              // Dropped and redacted columns stay listed: the reviewer learns that they changed, not to what.
              columns: [...changes.columns],
              before: changes.before && redactRow(changes.before, rules, keyColumns, hmac),
              after: changes.after && redactRow(changes.after, rules, keyColumns, hmac),
            },
          };
        }
      } else if (draft.changes && (draft.changes.before || draft.changes.after)) {
        // Row images without a table name cannot be matched to rules: apply the default to every column.
        const rules = rulesFor('');
        const redact = (row: Row | null): Row | null => row && redactRow(row, rules, null, hmac);
        out = { ...draft, changes: { columns: [...draft.changes.columns], before: redact(draft.changes.before), after: redact(draft.changes.after) } };
      }
      if (draft.statement !== null) {
        out = { ...out, statement: redactStatement(draft.statement, redaction.statement, dialectOf(draft), hmac) };
      }
      return out;
    },
  };
}

/**
 * `compilePolicy` with the HMAC key loaded from `redaction.hmac_key`
 * (file or environment variable) when the rules need one.
 */
export function policyFromConfig(input: PolicyConfig | PolicyConfigInput, opts: Omit<CompilePolicyOptions, 'hmacKey'> & { env?: NodeJS.ProcessEnv } = {}): EventPolicy {
  const config = PolicyConfig.parse(input);
  const source = config.redaction.hmac_key;
  const hmacKey = source && configUsesHmac(config.redaction) ? loadHmacKey(source, opts.env) : undefined;
  return compilePolicy(config, { ...opts, hmacKey });
}

function redactStatement(sql: string, rule: PolicyConfig['redaction']['statement'], dialect: 'postgres' | 'mysql', hmac: Hmac | null): string | null {
  switch (rule) {
    case 'keep':
      return sql;
    case 'drop':
      return null;
    case 'hmac':
      return `hmac-sha256:${hmac!(sql)}`;
    case 'redact_literals':
      return redactSqlLiterals(sql, dialect);
  }
}
