/**
 * Opening ordinary (non-replication) connections for setup and doctor.
 * Errors name the server by its redacted URL only.
 */
import pg from 'pg';
import { DbwitnessError, redactUrl } from '../../src/core/errors.js';
import { resolveSourceUrl } from '../../src/core/source-config.js';
import type { PostgresSourceConfig } from './postgres-config.js';

export type PgClient = pg.Client;

export async function connectAdmin(config: PostgresSourceConfig, extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: resolveSourceUrl(config), application_name: 'dbwitness', ...extra });
  // An idle client whose server goes away emits 'error'; without a listener Node would crash.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    throw connectionError(config.url, e);
  }
  return client;
}

export function connectionError(url: string, e: unknown): DbwitnessError {
  const reason = e instanceof Error ? e.message : String(e);
  return new DbwitnessError(
    'E_PG_CONNECT',
    `cannot connect to PostgreSQL at ${redactUrl(url)}: ${reason}`,
    'check host, port, database, user and password (use password_env), and that pg_hba.conf admits this client',
    { cause: e },
  );
}

/** `host:port` of a URL, for the `source.server` field of events. */
export function serverOf(url: string): { server: string; database: string } {
  try {
    const u = new URL(url);
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    return { server: `${host}:${u.port || '5432'}`, database: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres' };
  } catch {
    return { server: 'unknown', database: 'unknown' };
  }
}
