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
