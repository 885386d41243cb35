/**
 * Configuration of the MariaDB server_audit log source.
 *
 * `url` names the live audit file: `mariadb-audit:///var/lib/mysql/server_audit.log`;
 * its rotated predecessors `server_audit.log.1` ... are read too. Query
 * parameters `server` and `time_zone` are accepted like the fields below.
 */
import { z } from 'zod';
import { BaseSourceConfig } from '../../src/core/source-config.js';
import { usageError } from '../../src/core/errors.js';
import { DEFAULT_STATEMENT_MAX_CHARS, parseOffset } from '../../src/log-tail/index.js';

export const MariadbAuditSourceConfig = BaseSourceConfig.extend({
  /** `source.server` of the events (default: the URL's `server`, else the file path). */
  server: z.string().min(1).optional(),
  /** UTC offset of the server's local time, which server_audit writes (e.g. +00:00, -05:00). */
  time_zone: z.string().optional(),
  /** mysql://user@host:3306/ used by doctor (plugin settings) and `setup --apply`. */
  database_url: z.string().min(1).optional(),
  statement_max_chars: z.number().int().min(64).max(1_048_576).default(DEFAULT_STATEMENT_MAX_CHARS),
  /** Also report reads of mysql.*, information_schema, performance_schema and sys. */
  include_system_tables: z.boolean().default(false),
  poll_ms: z.number().int().min(10).max(60_000).default(250),
  max_record_bytes: z.number().int().min(4096).default(16 * 1024 * 1024),
});
export type MariadbAuditSourceConfig = z.infer<typeof MariadbAuditSourceConfig>;

export interface ResolvedMariadbAudit {
  readonly path: string;
  readonly server: string;
  readonly offsetMinutes: number;
}

export function resolveMariadbAudit(config: MariadbAuditSourceConfig): ResolvedMariadbAudit {
  const example = 'write it as mariadb-audit:///var/lib/mysql/server_audit.log (three slashes, absolute path of server_audit_file_path)';
  let u: URL;
  try {
    u = new URL(config.url);
  } catch {
    throw usageError('E_MARIADB_AUDIT_URL', 'the mariadb-audit source URL is not a valid URL', example);
  }
  const path = decodeURIComponent(u.pathname);
  if (u.protocol !== 'mariadb-audit:' || u.hostname !== '' || !path.startsWith('/') || path.endsWith('/')) {
    throw usageError('E_MARIADB_AUDIT_URL', 'the mariadb-audit source URL must name the absolute path of the audit log file', example);
  }
  const zone = config.time_zone ?? u.searchParams.get('time_zone') ?? '+00:00';
  const offsetMinutes = parseOffset(zone);
  if (offsetMinutes === null) {
    throw usageError('E_MARIADB_AUDIT_TZ', `time_zone "${zone}" is not a UTC offset`, 'give the server\'s UTC offset as +HH:MM, e.g. +00:00 (see SELECT TIMEDIFF(NOW(), UTC_TIMESTAMP()))');
  }
  return { path, server: config.server ?? u.searchParams.get('server') ?? path, offsetMinutes };
}
