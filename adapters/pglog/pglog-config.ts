/**
 * Configuration of the PostgreSQL log source.
 *
 * `url` names the server's log directory: `pglog:///var/lib/postgresql/15/main/log`
 * with optional query parameters `format` (jsonlog|csvlog), `server` and
 * `database`, which the explicit fields below override.
 */
import { z } from 'zod';
import { BaseSourceConfig } from '../../src/core/source-config.js';
import { usageError } from '../../src/core/errors.js';
import { DEFAULT_STATEMENT_MAX_CHARS } from '../../src/log-tail/index.js';

export const PglogSourceConfig = BaseSourceConfig.extend({
  /** jsonlog (PostgreSQL 15+, recommended) or csvlog. Default: the URL's `format`, else jsonlog. */
  format: z.enum(['jsonlog', 'csvlog']).optional(),
  /** `source.server` of the events, e.g. db1:5432 (default: the URL's `server`, else the log directory). */
  server: z.string().min(1).optional(),
  /** Keep only records of this database (default: the URL's `database`, else all). */
  database: z.string().min(1).optional(),
  /** PostgreSQL URL used by doctor (checks the server's settings) and `setup --apply` (CREATE EXTENSION). */
  database_url: z.string().min(1).optional(),
  /** Longer statements are cut, with a marker saying how much. */
  statement_max_chars: z.number().int().min(64).max(1_048_576).default(DEFAULT_STATEMENT_MAX_CHARS),
  /** Also report reads of pg_catalog / information_schema (noisy: every client tool reads them). */
  include_system_catalogs: z.boolean().default(false),
  /** Interval between checks for new log lines and files (ms). */
  poll_ms: z.number().int().min(10).max(60_000).default(250),
  /** Records longer than this are rejected (counted and alerted), never buffered whole. */
  max_record_bytes: z.number().int().min(4096).default(16 * 1024 * 1024),
});
export type PglogSourceConfig = z.infer<typeof PglogSourceConfig>;

export interface ResolvedPglog {
  readonly dir: string;
  readonly format: 'jsonlog' | 'csvlog';
  readonly server: string;
  readonly database: string | null;
}

const FORMAT_ALIASES: Record<string, 'jsonlog' | 'csvlog'> = { jsonlog: 'jsonlog', jsonl: 'jsonlog', json: 'jsonlog', csvlog: 'csvlog', csv: 'csvlog' };

export function resolvePglog(config: PglogSourceConfig): ResolvedPglog {
  let u: URL;
  try {
    u = new URL(config.url);
  } catch {
    throw usageError('E_PGLOG_URL', 'the pglog source URL is not a valid URL', 'write it as pglog:///path/to/log_directory?format=jsonlog');
  }
  if (u.protocol !== 'pglog:') throw usageError('E_PGLOG_URL', `the pglog source URL has scheme ${u.protocol}`, 'write it as pglog:///path/to/log_directory?format=jsonlog');
  const dir = decodeURIComponent(u.pathname);
  if (u.hostname !== '' || !dir.startsWith('/') || dir === '/') {
    throw usageError('E_PGLOG_URL', 'the pglog source URL must name an absolute local log directory', 'write it as pglog:///var/lib/postgresql/15/main/log (three slashes, absolute path)');
  }
  const fmtParam = u.searchParams.get('format');
  const fromUrl = fmtParam === null ? undefined : FORMAT_ALIASES[fmtParam.toLowerCase()];
  if (fmtParam !== null && fromUrl === undefined) throw usageError('E_PGLOG_FORMAT', `unknown log format "${fmtParam}"`, 'use format=jsonlog (PostgreSQL 15+) or format=csvlog');
  return {
    dir: dir.replace(/\/+$/, ''),
    format: config.format ?? fromUrl ?? 'jsonlog',
    server: config.server ?? u.searchParams.get('server') ?? dir,
    database: config.database ?? u.searchParams.get('database') ?? null,
  };
}
