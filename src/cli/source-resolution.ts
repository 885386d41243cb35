/**
 * The composition root's view of the engines: which adapter serves a URL,
 * and how CLI flags plus the config file become one adapter config.
 * Adapters are loaded lazily so that `verify` or `query` never load drivers.
 */
import { z } from 'zod';
import type { SourceAdapter } from '../core/ports.js';
import { redactUrl, usageError } from '../core/errors.js';
import { validate } from '../config/load-config.js';

type AnyAdapter = SourceAdapter<unknown>;

const LOADERS: Record<string, () => Promise<AnyAdapter>> = {
  postgres: async () => (await import('../../adapters/postgres/index.js')).postgresAdapter as AnyAdapter,
  mysql: async () => (await import('../../adapters/mysql/index.js')).mysqlAdapter as AnyAdapter,
  pglog: async () => (await import('../../adapters/pglog/index.js')).pglogAdapter as AnyAdapter,
  'mariadb-audit': async () => (await import('../../adapters/mariadb-audit/index.js')).mariadbAuditAdapter as AnyAdapter,
};

/** Names accepted by `dbwitness setup <engine>`; mariadb is served by the mysql adapter. */
export const ENGINE_ALIASES: Record<string, string> = {
  postgres: 'postgres',
  postgresql: 'postgres',
  pg: 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
  pglog: 'pglog',
  'mariadb-audit': 'mariadb-audit',
  server_audit: 'mariadb-audit',
};

const SCHEME_ENGINE: Record<string, string> = {
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'mysql:': 'mysql',
  'mariadb:': 'mysql',
  'pglog:': 'pglog',
  'mariadb-audit:': 'mariadb-audit',
};

export async function adapterByName(name: string): Promise<AnyAdapter> {
  const engine = ENGINE_ALIASES[name.toLowerCase()];
  if (engine === undefined) {
    throw usageError('E_ENGINE_UNKNOWN', `unknown engine "${name}"`, `use one of: ${Object.keys(ENGINE_ALIASES).join(', ')}`);
  }
  return LOADERS[engine]!();
}

export async function adapterForUrl(url: string): Promise<AnyAdapter> {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw usageError('E_URL_INVALID', 'the source URL is not a valid URL', 'write it as postgres://user@host:5432/db or mysql://user@host:3306/db (put the password in an environment variable named by password_env)');
  }
  const engine = SCHEME_ENGINE[protocol];
  if (engine === undefined) {
    throw usageError('E_URL_SCHEME', `no adapter for URL scheme "${protocol}" (${redactUrl(url)})`, `use one of: ${Object.keys(SCHEME_ENGINE).join(' ')}`);
  }
  return LOADERS[engine]!();
}

/** Default source id from a URL: engine-host-port-database, made id-safe. */
export function defaultSourceId(url: string): string {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '') || 'default';
  const raw = `${u.protocol.replace(':', '')}-${u.hostname}-${u.port || 'default'}-${db}`;
  return raw.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').slice(0, 63);
}

/**
 * Parses a source entry with its adapter's schema; errors name the entry.
 * Strict: a key the engine does not know (a misspelt `slott:`, or a
 * PostgreSQL-only `slot` or `--identity-emitter` on a MySQL source) is an
 * error, not silently dropped while the default it was meant to replace
 * takes effect.
 */
export function parseSourceConfig(adapter: AnyAdapter, entry: Record<string, unknown>, where: string): unknown {
  const schema = adapter.configSchema instanceof z.ZodObject ? adapter.configSchema.strict() : adapter.configSchema;
  return validate(schema, entry, where);
}

/** `a,b , c` -> ['a','b','c'] */
export function splitList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
