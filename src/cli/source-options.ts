/**
 * Source selection for setup, doctor and run: flags describe one source, or
 * the config file lists several (pick one with --source-id). Flags override
 * the matching config entry field by field.
 */
import type { Command } from 'commander';
import type { ConfigFile } from '../config/config-schema.js';
import { usageError } from '../core/errors.js';
import { defaultSourceId, splitList } from './source-resolution.js';

export interface SourceFlags {
  url?: string;
  source?: string;
  sourceId?: string;
  id?: string;
  tables?: string;
  schema?: string;
  database?: string;
  slot?: string;
  publication?: string;
  passwordEnv?: string;
  identityEmitter?: string;
}

export function addSourceOptions(cmd: Command, urlFlag: '--url' | '--source'): Command {
  return cmd
    .option(`${urlFlag} <url>`, 'database URL, e.g. postgres://user@host:5432/db or mysql://user@host:3306/db (password: use --password-env)')
    .option('--password-env <name>', 'environment variable holding the password')
    .option('--tables <list>', 'audited tables, comma-separated: schema.table (PostgreSQL) or database.table (MySQL)')
    .option('--schema <list>', 'audit every table of these schemas (PostgreSQL), comma-separated')
    .option('--database <list>', 'audit every table of these databases (MySQL/MariaDB), comma-separated')
    .option('--slot <name>', 'PostgreSQL logical replication slot (default dbwitness)')
    .option('--publication <name>', 'PostgreSQL publication (default dbwitness)')
    .option('--identity-emitter <kind>', 'PostgreSQL: what writes the identity message, plpgsql (default) or native (the C emitter, built and installed on the server first; docs/postgres.md)')
    .option('--id <id>', 'source id: names the chain in the store (default derived from the URL)')
    .option('--source-id <id>', 'with --config: which configured source to use');
}

/** One source entry (before adapter validation) from flags and the config file. */
export function sourceEntryFrom(flags: SourceFlags, config: ConfigFile): Record<string, unknown> {
  const url = flags.url ?? flags.source;
  let base: Record<string, unknown> = {};
  if (config.sources.length > 0) {
    const wanted = flags.sourceId ?? flags.id;
    const found = wanted === undefined ? (config.sources.length === 1 ? config.sources[0] : undefined) : config.sources.find((s) => s.id === wanted);
    if (found === undefined && url === undefined) {
      const ids = config.sources.map((s) => s.id).join(', ');
      throw usageError('E_SOURCE_CHOICE', wanted === undefined ? `the config file lists several sources (${ids})` : `no source with id "${wanted}" in the config file (it has: ${ids})`, 'name one with --source-id');
    }
    if (found !== undefined) base = { ...found };
  }
  const entry: Record<string, unknown> = { ...base };
  if (url !== undefined) entry.url = url;
  if (entry.url === undefined) {
    throw usageError('E_SOURCE_URL', 'no database URL given', 'pass --url (setup, doctor) or --source (run), or list the source in the config file under `sources`');
  }
  if (flags.id !== undefined) entry.id = flags.id;
  if (entry.id === undefined) entry.id = defaultSourceId(String(entry.url));
  if (flags.passwordEnv !== undefined) entry.password_env = flags.passwordEnv;
  if (flags.tables !== undefined) entry.tables = splitList(flags.tables);
  const schemas = [...splitList(flags.schema), ...splitList(flags.database)];
  if (schemas.length > 0) entry.schemas = schemas;
  if (flags.slot !== undefined) entry.slot = flags.slot;
  if (flags.publication !== undefined) entry.publication = flags.publication;
  if (flags.identityEmitter !== undefined) entry.identity_emitter = flags.identityEmitter;
  return entry;
}
