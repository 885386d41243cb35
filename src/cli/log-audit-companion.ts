/**
 * `--log-audit PATH` on `setup` and `doctor` for a database source: the
 * server-log settings that record reads, logins and failures (pgaudit and
 * connection logs for PostgreSQL, server_audit for MariaDB), planned and
 * checked together with the WAL/binlog setup. The log sources are adapters
 * of their own; the CLI, as the composition root, joins the two plans.
 */
import { isAbsolute, resolve } from 'node:path';
import type { SourceAdapter } from '../core/ports.js';
import { adapterByName, parseSourceConfig } from './source-resolution.js';

export interface LogCompanion {
  readonly adapter: SourceAdapter<unknown>;
  readonly config: unknown;
}

const COMPANION: Record<string, { engine: string; scheme: string }> = {
  postgres: { engine: 'pglog', scheme: 'pglog' },
  mysql: { engine: 'mariadb-audit', scheme: 'mariadb-audit' },
};

/** The log source that goes with a database source, or null when the engine has none. */
export async function logCompanion(dbAdapterName: string, entry: Record<string, unknown>, logPath: string): Promise<LogCompanion | null> {
  const c = COMPANION[dbAdapterName];
  if (c === undefined) return null;
  const adapter = await adapterByName(c.engine);
  const path = isAbsolute(logPath) ? logPath : resolve(logPath);
  const companionEntry: Record<string, unknown> = {
    id: `${String(entry.id)}-log`.slice(0, 63),
    url: `${c.scheme}://${path}`,
    database_url: entry.url,
  };
  if (entry.password_env !== undefined) companionEntry.password_env = entry.password_env;
  if (entry.tables !== undefined) companionEntry.tables = entry.tables;
  if (entry.schemas !== undefined) companionEntry.schemas = entry.schemas;
  return { adapter, config: parseSourceConfig(adapter, companionEntry, `--log-audit ${c.engine} source`) };
}

export const LOG_AUDIT_HELP = 'also plan/check the server-log settings that record reads, logins and failures (PostgreSQL: pgaudit + connection logs; MariaDB: server_audit); PATH is the server log directory or the server_audit log file';
