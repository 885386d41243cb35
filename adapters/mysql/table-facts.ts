/**
 * What the source learns from the server before streaming: primary keys
 * and MariaDB logical types of the audited tables (information_schema), and
 * MySQL connection registrations older than the resume point.
 */
import type { Logger } from 'pino';
import { auditScope, type MysqlSourceConfig } from './mysql-config.js';
import { rows, type MysqlConnection } from './mysql-connect.js';
import type { ConnectionRegistry } from './connection-registry.js';
import type { LogicalType } from './row-values.js';
import { quoteQualified } from './sql-quote.js';
import { tableKey, type TableFacts } from './zongji-events.js';

export async function loadTableFacts(conn: MysqlConnection, cfg: MysqlSourceConfig, facts: TableFacts): Promise<void> {
  const keys = facts.keys;
  const scope = auditScope(cfg);
  const dbs = [...new Set([...scope.databases, ...scope.tables.map(([d]) => d)])];
  if (dbs.length === 0) return;
  const r = await rows<{ s: string; t: string; c: string }>(
    conn,
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.KEY_COLUMN_USAGE
     WHERE CONSTRAINT_NAME = 'PRIMARY' AND TABLE_SCHEMA IN (?) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
    [dbs],
  );
  const acc = new Map<string, string[]>();
  for (const x of r) {
    const k = tableKey(x.s, x.t);
    acc.set(k, [...(acc.get(k) ?? []), x.c]);
  }
  for (const [k, v] of acc) if (!keys.has(k)) keys.set(k, v);
  const lt = await rows<{ s: string; t: string; c: string; ty: string }>(
    conn,
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, COLUMN_NAME AS c, DATA_TYPE AS ty FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA IN (?) AND DATA_TYPE IN ('uuid', 'inet4', 'inet6')`,
    [dbs],
  );
  for (const x of lt) {
    const k = tableKey(x.s, x.t);
    const m = facts.logical.get(k) ?? new Map<string, LogicalType>();
    m.set(x.c, x.ty.toLowerCase() as LogicalType);
    facts.logical.set(k, m);
  }
}

export async function preloadRegistry(conn: MysqlConnection, cfg: MysqlSourceConfig, registry: ConnectionRegistry, logger: Logger): Promise<void> {
  try {
    const r = await rows<Record<string, unknown>>(conn, `SELECT CAST(conn_id AS CHAR) AS conn_id, login, client_host, app_user, application FROM ${quoteQualified(cfg.marker_database, cfg.registry_table)} ORDER BY registered_at`);
    for (const x of r) {
      const row = Object.fromEntries(Object.entries(x).map(([k, v]) => [k, v === null || v === undefined ? null : String(v)]));
      // Rows in the table were written through its trigger: trusted as is.
      registry.observe(row, Number(row['conn_id']));
    }
  } catch (e) {
    logger.warn({ code: (e as { code?: string }).code }, 'connection registry not readable; MySQL identity falls back to the triggers');
  }
}
