/**
 * The canonical audit event, version 1.
 *
 * This schema is the contract between every source adapter, the store, and
 * every reviewer tool. `schema/audit-event.v1.json` is generated from it
 * (`npm run schema`) and a unit test fails when the two drift.
 *
 * Rules every producer follows:
 * - Values are exact: column values are the source's own text form
 *   (PostgreSQL output functions, MySQL's literal form), never JS numbers.
 *   Binary values are `{ base64 }`; a PostgreSQL TOASTed value that was not
 *   sent is `{ unchanged_toast: true }` and is never invented.
 * - `time` is the commit time at the source; `recorded_at` is when the store
 *   wrote the event: set as its batch is built, just before the write and
 *   fdatasync that make it durable (a time inside the file cannot follow
 *   them). Both are UTC ISO 8601 with microseconds.
 * - `id` is deterministic: the same source change yields the same id on every
 *   replay, which is how the store removes duplicates after a crash.
 * - `seq`, `recorded_at`, `prev` and `hash` are assigned by the store.
 */
import { z } from 'zod';

export const EVENT_VERSION = 1 as const;

/** UTC ISO 8601 with exactly six fractional digits, e.g. 2026-11-26T10:00:00.123456Z */
export const MICRO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export const HEX_SHA256 = /^[0-9a-f]{64}$/;

export const Engine = z.enum(['postgres', 'mysql', 'mariadb', 'pglog', 'mariadb_audit']);
export type Engine = z.infer<typeof Engine>;

export const Action = z.enum([
  'insert',
  'update',
  'delete',
  'truncate',
  'ddl',
  'read',
  'login',
  'logout',
  'login_failed',
  'privilege',
  'alert',
  'heartbeat',
]);
export type Action = z.infer<typeof Action>;

export const Outcome = z.enum(['success', 'failure']);
export type Outcome = z.infer<typeof Outcome>;

export const Identity = z.enum(['verified', 'unattributed']);
export type Identity = z.infer<typeof Identity>;

/**
 * One column value. Strings carry the source's exact text form.
 * Tagged objects carry what a string cannot say honestly.
 */
export const ColumnValue = z.union([
  z.string(),
  z.null(),
  z.object({ base64: z.string() }).strict(),
  z.object({ unchanged_toast: z.literal(true) }).strict(),
  z.object({ hmac: z.string().regex(HEX_SHA256) }).strict(),
  z.object({ redacted: z.literal(true) }).strict(),
]);
export type ColumnValue = z.infer<typeof ColumnValue>;

export const Row = z.record(z.string(), ColumnValue);
export type Row = z.infer<typeof Row>;

export const Source = z
  .object({
    id: z.string().min(1),
    engine: Engine,
    server: z.string(),
    database: z.string(),
  })
  .strict();
export type Source = z.infer<typeof Source>;

export const Tx = z
  .object({
    id: z.string(),
    index: z.number().int().nonnegative(),
    count: z.number().int().positive(),
  })
  .strict();
export type Tx = z.infer<typeof Tx>;

export const Actor = z
  .object({
    db_user: z.string().nullable(),
    role: z.string().nullable(),
    app_user: z.string().nullable(),
    client_addr: z.string().nullable(),
    client_port: z.number().int().nullable(),
    application: z.string().nullable(),
    session_id: z.string().nullable(),
    identity: Identity,
  })
  .strict();
export type Actor = z.infer<typeof Actor>;

export const ObjectRef = z
  .object({
    schema: z.string().nullable(),
    table: z.string().nullable(),
    key: Row.nullable(),
  })
  .strict();
export type ObjectRef = z.infer<typeof ObjectRef>;

export const Subject = z.record(z.string(), z.string().nullable());
export type Subject = z.infer<typeof Subject>;

export const Changes = z
  .object({
    /** Every column whose value changed (insert: all columns; delete: all columns). */
    columns: z.array(z.string()),
    before: Row.nullable(),
    after: Row.nullable(),
  })
  .strict();
export type Changes = z.infer<typeof Changes>;

/** Free-form, string-valued details: alert codes, DDL object identity, row counts. */
export const Detail = z.record(z.string(), z.string());
export type Detail = z.infer<typeof Detail>;

export const AuditEvent = z
  .object({
    v: z.literal(EVENT_VERSION),
    id: z.string().regex(/^[0-9a-f]{32}$/),
    seq: z.number().int().positive(),
    time: z.string().regex(MICRO_TIMESTAMP),
    recorded_at: z.string().regex(MICRO_TIMESTAMP),
    source: Source,
    position: z.string().min(1),
    tx: Tx.nullable(),
    actor: Actor,
    action: Action,
    outcome: Outcome,
    object: ObjectRef.nullable(),
    subject: Subject.nullable(),
    changes: Changes.nullable(),
    statement: z.string().nullable(),
    detail: Detail.nullable(),
    prev: z.string().regex(HEX_SHA256),
    hash: z.string().regex(HEX_SHA256),
  })
  .strict();
export type AuditEvent = z.infer<typeof AuditEvent>;

/** What a producer hands to the store: everything but the fields the store assigns. */
export type DraftEvent = Omit<AuditEvent, 'seq' | 'recorded_at' | 'prev' | 'hash'>;

/** `prev` of the first event of every chain. */
export const GENESIS_HASH = '0'.repeat(64);

export const UNATTRIBUTED_ACTOR: Actor = Object.freeze({
  db_user: null,
  role: null,
  app_user: null,
  client_addr: null,
  client_port: null,
  application: null,
  session_id: null,
  identity: 'unattributed',
}) as Actor;
