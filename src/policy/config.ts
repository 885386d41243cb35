/**
 * The two config-file sections that decide what an audit event may say
 * about a patient: `subjects` (which row belongs to which patient) and
 * `redaction` (what happens to each column's value before it is hashed and
 * stored). Both are embedded in the main YAML config.
 *
 * @example
 * ```yaml
 * subjects:
 *   clinic.patients:      { patient_id: { column: id } }
 *   clinic.encounters:    { patient_id: { column: patient_id } }
 *   clinic.prescriptions:
 *     patient_id: { lookup: { table: clinic.encounters, key: encounter_id, column: patient_id } }
 * redaction:
 *   default: hmac
 *   statement: redact_literals
 *   hmac_key: { env: DBWITNESS_HMAC_KEY }
 *   tables:
 *     clinic.patients: { name: redact, balance: keep, dob: drop }
 * ```
 */
import { z } from 'zod';
import { setOwn } from '../core/own-field.js';

/** keep: the exact value; hmac: keyed HMAC-SHA-256 of it; redact: `{ redacted: true }`; drop: removed from before/after. */
export const ColumnRule = z.enum(['keep', 'hmac', 'redact', 'drop']);
export type ColumnRule = z.infer<typeof ColumnRule>;

/**
 * What to do with SQL text (MariaDB annotate rows, DDL): literals in it are
 * row values. `redact_literals` replaces every string, number and comment
 * with `?`, keeping the statement's shape for the reviewer.
 */
export const StatementRule = z.enum(['keep', 'drop', 'hmac', 'redact_literals']);
export type StatementRule = z.infer<typeof StatementRule>;

const TABLE_NAME = z.string().regex(/^[^.\s]+\.[^.\s]+$/, 'a table is named schema.table (PostgreSQL) or database.table (MySQL/MariaDB)');

/** The subject id is this column of the row itself. */
export const ColumnMapping = z.object({ column: z.string().min(1) }).strict();

/**
 * The subject id comes from another audited table: this row's `key` column
 * holds the parent's key (`parent_key`, default: the parent's single
 * primary-key column), and the parent row's subject is taken from the
 * parent's own mapping, or else from its `column`.
 */
export const LookupMapping = z
  .object({
    lookup: z
      .object({
        table: TABLE_NAME,
        key: z.string().min(1),
        column: z.string().min(1),
        parent_key: z.string().min(1).optional(),
      })
      .strict(),
  })
  .strict();

export const SubjectMapping = z.union([ColumnMapping, LookupMapping]);
export type SubjectMapping = z.infer<typeof SubjectMapping>;

/** table -> subject name (e.g. patient_id) -> how to find it. */
export const SubjectsConfig = z.record(TABLE_NAME, z.record(z.string().regex(/^[a-z][a-z0-9_]*$/), SubjectMapping));
export type SubjectsConfig = z.infer<typeof SubjectsConfig>;

/** Where the HMAC key comes from. It is never written into the store. */
export const HmacKeySource = z.union([
  z.object({ file: z.string().min(1) }).strict(),
  z.object({ env: z.string().min(1) }).strict(),
]);
export type HmacKeySource = z.infer<typeof HmacKeySource>;

/**
 * One table's column rules. A column may be named `__proto__`, and
 * z.record drops that key (on purpose: plain assignment of it would set the
 * prototype), which would quietly give that column the default rule. So the
 * entries are validated as a Map (errors still name the column) and rebuilt
 * with own fields.
 */
export const TableRedaction = z
  .preprocess(
    (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? new Map(Object.entries(v)) : v),
    z.map(z.string().min(1), ColumnRule, { error: 'expected a mapping of column name to rule (keep, hmac, redact or drop)' }),
  )
  .transform((m) => {
    const rules: Record<string, ColumnRule> = {};
    for (const [column, rule] of m) setOwn(rules, column, rule);
    return rules;
  });

export const RedactionConfig = z
  .object({
    /** Rule for columns that are neither primary-key nor subject columns and have no override. */
    default: ColumnRule.default('hmac'),
    statement: StatementRule.default('redact_literals'),
    hmac_key: HmacKeySource.optional(),
    /** Per table (schema.table), per column overrides; `*` sets the table's default. */
    tables: z.record(TABLE_NAME, TableRedaction).default({}),
  })
  .strict();
export type RedactionConfig = z.infer<typeof RedactionConfig>;

export const PolicyConfig = z
  .object({
    subjects: SubjectsConfig.default({}),
    redaction: RedactionConfig.default({ default: 'hmac', statement: 'redact_literals', tables: {} }),
  })
  .strict();
export type PolicyConfig = z.infer<typeof PolicyConfig>;
export type PolicyConfigInput = z.input<typeof PolicyConfig>;
