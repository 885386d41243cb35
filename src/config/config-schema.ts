/**
 * The YAML config file. Everything the CLI flags offer can be set here;
 * flags override the file. Secrets are never written in the file: name an
 * environment variable (`password_env`, `encryption_key_env`) or a file.
 *
 * Source entries are validated twice: here for the shared fields, then by
 * the selected adapter's own `configSchema` for engine-specific ones.
 */
import { z } from 'zod';
import { LOG_LEVELS } from '../core/logger.js';
import { SOURCE_ID } from '../core/source-config.js';

const Duration = z.union([z.number().int().positive(), z.string().regex(/^\d+(ms|s|m|h|d)$/, 'a duration like 500ms, 30s, 15m, 6h or 7d')]);

export const StoreConfig = z
  .object({
    /** Directory of the store (one sub-directory per source). */
    dir: z.string().min(1),
    /** Ed25519 private key (PEM) that seals segments; create one with `dbwitness keygen`. */
    signing_key: z.string().optional(),
    /** File holding the 32-byte AES-256-GCM key (base64 or hex) for encryption at rest. */
    encryption_key_file: z.string().optional(),
    /** Environment variable holding that key instead of a file. */
    encryption_key_env: z.string().optional(),
    /** Rotate (and seal) a segment when it reaches this size in bytes. */
    segment_max_bytes: z.number().int().min(4096).optional(),
    /** Rotate (and seal) a segment when it is this old. */
    segment_max_age: Duration.optional(),
  })
  .strict();
export type StoreConfig = z.infer<typeof StoreConfig>;

/** `127.0.0.1:9464`, `[::1]:9464` or a bare port (then bound to 127.0.0.1). */
const ListenAddress = z.union([z.number().int().min(0).max(65535), z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$|^\d{1,5}$/, 'host:port, e.g. 127.0.0.1:9464')]);

export const HttpConfig = z
  .object({
    /** Where /healthz, /readyz and /metrics listen. Bound to 127.0.0.1 unless a host is given. */
    listen: ListenAddress,
    /** /readyz fails when a source has shown no progress (message, event or acknowledgement) for this long. */
    ready_max_silence: Duration.default('2m'),
  })
  .strict();
export type HttpConfig = z.infer<typeof HttpConfig>;

const Rule = z.object({ enabled: z.boolean().default(true) }).strict();
const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day like 07:00');

export const AlertRulesConfig = z
  .object({
    /** Committed change on an audited table without a session identity (written by the pipeline). */
    unattributed_change: Rule.default({ enabled: true }),
    /** DDL on an audited table. */
    ddl: Rule.default({ enabled: true }),
    /** DDL or statements that touch dbwitness's own triggers, functions, publication or marker tables. */
    audit_tampering: Rule.default({ enabled: true }),
    /** Changes by an account outside the allowlist (off while the list is empty). */
    account_allowlist: z.object({ enabled: z.boolean().default(true), accounts: z.array(z.string()).default([]) }).strict().default({ enabled: true, accounts: [] }),
    /** Changes outside working hours (off unless enabled). */
    after_hours: z
      .object({
        enabled: z.boolean().default(false),
        start: HHMM.default('07:00'),
        end: HHMM.default('19:00'),
        /** ISO weekdays that are working days, 1 = Monday. */
        days: z.array(z.number().int().min(1).max(7)).default([1, 2, 3, 4, 5]),
        time_zone: z.string().default('UTC'),
      })
      .strict()
      .default({ enabled: false, start: '07:00', end: '19:00', days: [1, 2, 3, 4, 5], time_zone: 'UTC' }),
    /** More rows or patients than allowed per user in one transaction or time window. */
    bulk_access: z
      .object({
        enabled: z.boolean().default(true),
        max_rows_per_tx: z.number().int().positive().default(1000),
        max_rows_per_window: z.number().int().positive().default(5000),
        max_patients_per_window: z.number().int().positive().default(100),
        window: Duration.default('5m'),
      })
      .strict()
      .default({ enabled: true, max_rows_per_tx: 1000, max_rows_per_window: 5000, max_patients_per_window: 100, window: '5m' }),
    /** Replication lag or retained WAL/binlog beyond a threshold. */
    replication_lag: z
      .object({ enabled: z.boolean().default(true), max_seconds: z.number().positive().default(300), max_retained_bytes: z.number().int().positive().default(10 * 1024 ** 3) })
      .strict()
      .default({ enabled: true, max_seconds: 300, max_retained_bytes: 10 * 1024 ** 3 }),
    /**
     * No progress from a source for longer than `after`. Applies to streams whose silence means trouble
     * (binlog heartbeats, heartbeat-capable sources); with require_heartbeat: false to every source.
     */
    pipeline_silent: z
      .object({ enabled: z.boolean().default(true), after: Duration.default('5m'), require_heartbeat: z.boolean().default(true) })
      .strict()
      .default({ enabled: true, after: '5m', require_heartbeat: true }),
  })
  .strict();
export type AlertRulesConfig = z.infer<typeof AlertRulesConfig>;

export const WebhookConfig = z
  .object({
    url: z.string().url(),
    /** Environment variable holding a shared secret: requests then carry X-Dbwitness-Signature: sha256=HMAC(body). */
    secret_env: z.string().optional(),
    timeout: Duration.default('5s'),
    /** Deliveries kept while the receiver is down; the oldest are dropped (and counted) beyond this. */
    max_queue: z.number().int().positive().default(10_000),
    max_backoff: Duration.default('60s'),
  })
  .strict();
export type WebhookConfig = z.infer<typeof WebhookConfig>;

export const AlertsConfig = z
  .object({
    rules: AlertRulesConfig.default(AlertRulesConfig.parse({})),
    webhook: WebhookConfig.optional(),
    /** How often periodic rules (lag, silence) are evaluated and heartbeats sent. */
    check_interval: Duration.default('15s'),
    /** A repeat of the same alert (same code, source and key) is not delivered again within this period. */
    repeat_after: Duration.default('10m'),
  })
  .strict();
export type AlertsConfig = z.infer<typeof AlertsConfig>;

export const AnchorsConfig = z
  .object({
    /** Append-only file of signed chain heads; keep it on another disk or host than the store. */
    file: z.string().min(1).optional(),
    /** Also send each anchor to alerts.webhook. */
    webhook: z.boolean().default(true),
    interval: Duration.default('5m'),
  })
  .strict();
export type AnchorsConfig = z.infer<typeof AnchorsConfig>;

/** A retention period: a duration or years (`6y`; a year counts 366 days so leap years never shorten it). */
const Period = z.union([Duration, z.string().regex(/^\d+y$/, 'a period like 6y or 2192d')]);

export const RetentionConfig = z
  .object({
    /** Minimum age before a sealed segment may be deleted (HIPAA: six years). */
    keep: Period.default('6y'),
    /** Sealed segments older than this are due to move to `archive_dir`. */
    archive_after: Period.default('90d'),
    archive_dir: z.string().min(1).optional(),
    /** Source ids under legal hold: their segments are never deleted, whatever their age. */
    legal_hold: z.array(z.string().regex(SOURCE_ID)).default([]),
  })
  .strict();
export type RetentionConfig = z.infer<typeof RetentionConfig>;

/** Milliseconds of a retention period (`6y` counts 366-day years). */
export function periodMs(value: number | string): number {
  if (typeof value === 'string' && value.endsWith('y')) return Number(value.slice(0, -1)) * 366 * 86_400_000;
  return durationMs(value);
}

/** Shared fields of a source entry; the adapter validates the rest. */
export const SourceEntry = z
  .object({
    id: z.string().regex(SOURCE_ID, 'lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters'),
    url: z.string().min(1),
  })
  .passthrough();
export type SourceEntry = z.infer<typeof SourceEntry>;

export const ConfigFile = z
  .object({
    log_level: z.enum(LOG_LEVELS).optional(),
    store: StoreConfig.optional(),
    sources: z.array(SourceEntry).default([]),
    /** Patient mapping per table (see docs/reports.md). */
    subjects: z.unknown().optional(),
    /** Redaction policy (see docs/reports.md). */
    redaction: z.unknown().optional(),
    /** Reporting settings (working hours, time zone). */
    reports: z.unknown().optional(),
    /** Health and metrics endpoint (off unless set). */
    http: HttpConfig.optional(),
    /** Real-time alert rules and their outputs. */
    alerts: AlertsConfig.optional(),
    /** Chain heads published outside the store. */
    anchors: AnchorsConfig.optional(),
    /** Retention of sealed segments. */
    retention: RetentionConfig.optional(),
    /**
     * Edge mode: publish events to NATS JetStream instead of a local store
     * (`kind: jetstream`; validated by JetStreamOutputConfig, docs/jetstream.md).
     */
    output: z.unknown().optional(),
    /** Central mode: `dbwitness archive` settings (validated by ArchiveConfig, docs/jetstream.md). */
    archive: z.unknown().optional(),
  })
  .strict();
export type ConfigFile = z.infer<typeof ConfigFile>;

/** Milliseconds of a config duration. */
export function durationMs(value: number | string): number {
  if (typeof value === 'number') return value * 1000;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(value)!;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return n * unit;
}
