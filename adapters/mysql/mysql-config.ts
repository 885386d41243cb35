/**
 * Source configuration of the MySQL/MariaDB adapter, parsed from the config
 * file or from CLI flags (`--source mysql://...`).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { usageError } from '../../src/core/errors.js';
import { BaseSourceConfig } from '../../src/core/source-config.js';

/** MySQL identifiers: at most 64 characters, no NUL (quoting handles the rest). */
const Identifier = z
  .string()
  .min(1)
  .max(64)
  .refine((s) => !s.includes('\u0000'), 'must not contain NUL');

export const MysqlSourceConfig = BaseSourceConfig.extend({
  /**
   * server_id this reader announces on its binlog connection. It must be
   * unique among the server's replicas (the server drops an older dump
   * connection with the same id). Default: derived from the source id, in
   * 1_000_000_000..1_999_999_999, above the ids people give real replicas.
   */
  server_id: z.number().int().min(1).max(4_294_967_295).optional(),
  /** Database holding the session-marker table (created by `setup`). */
  marker_database: Identifier.default('dbwitness'),
  marker_table: Identifier.default('session_marker'),
  /** MySQL 8: connection registry (thread id -> session) in marker_database, fed by init_connect. */
  registry_table: Identifier.default('connections'),
  /** Locked account the identity triggers run as (their DEFINER). */
  marker_definer: z.string().regex(/^[^'@]+@[^'@]+$/, "user@host, e.g. dbwitness_marker@localhost").default('dbwitness_marker@localhost'),
  /** Replication account created by `setup`; its password comes from `replication_password_env`. */
  replication_user: z.string().regex(/^[^'@]+@[^'@]+$/, 'user@host').default('dbwitness@%'),
  replication_password_env: z.string().default('DBWITNESS_MYSQL_PASSWORD'),
  /** Longest outage dbwitness must survive without losing binlog: binlog retention must exceed it. */
  outage_budget_hours: z.number().positive().default(72),
  /** Seconds between server heartbeats on an idle binlog connection. */
  heartbeat_seconds: z.number().positive().max(4_294_967).default(5),
  /** Messages buffered ahead of the consumer before the binlog connection is paused. */
  high_water_mark: z.number().int().min(16).default(4096),
  /** Longest reconnect backoff after the server goes away. */
  max_backoff_ms: z.number().int().min(100).default(10_000),
  /** Give up (error) after this long without a connection; 0 retries forever. */
  reconnect_timeout_ms: z.number().int().min(0).default(0),
});
export type MysqlSourceConfig = z.infer<typeof MysqlSourceConfig>;

/** The server_id used on the binlog connection (configured or derived from the source id). */
export function effectiveServerId(config: Pick<MysqlSourceConfig, 'id' | 'server_id'>): number {
  if (config.server_id !== undefined) return config.server_id;
  const h = createHash('sha256').update(config.id).digest().readUInt32BE(0);
  return 1_000_000_000 + (h % 1_000_000_000);
}

/** Audited tables as [database, table] pairs; databases audited whole. */
export interface AuditScope {
  readonly tables: ReadonlyArray<readonly [string, string]>;
  readonly databases: readonly string[];
}

export function auditScope(config: Pick<MysqlSourceConfig, 'tables' | 'schemas'>): AuditScope {
  const tables = config.tables.map((t) => splitQualified(t));
  return { tables, databases: [...config.schemas] };
}

/** 'db.table' -> ['db', 'table']; a name containing dots may be written `db`.`ta.ble`. */
export function splitQualified(name: string): [string, string] {
  const quoted = /^`((?:[^`]|``)+)`\.`((?:[^`]|``)+)`$/.exec(name);
  if (quoted) return [quoted[1]!.replace(/``/g, '`'), quoted[2]!.replace(/``/g, '`')];
  const dot = name.indexOf('.');
  if (dot <= 0 || dot === name.length - 1) {
    throw usageError('E_MYSQL_TABLE_NAME', `table "${name}" is not database.table`, 'write audited tables as database.table (quote names holding dots as `db`.`tbl`)');
  }
  return [name.slice(0, dot), name.slice(dot + 1)];
}

export function splitAccount(account: string): { user: string; host: string } {
  const at = account.lastIndexOf('@');
  return { user: account.slice(0, at), host: account.slice(at + 1) };
}
