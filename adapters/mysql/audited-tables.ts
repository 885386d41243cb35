/** Resolving the configured tables and databases to the base tables that exist. */
import { usageError } from '../../src/core/errors.js';
import { auditScope, type MysqlSourceConfig } from './mysql-config.js';
import { rows, type MysqlConnection } from './mysql-connect.js';

export async function resolveTables(conn: MysqlConnection, config: MysqlSourceConfig): Promise<Array<[string, string]>> {
  const scope = auditScope(config);
  if (scope.tables.length === 0 && scope.databases.length === 0) {
    throw usageError('E_MYSQL_NO_TABLES', 'no audited tables or databases were given', 'pass --tables db.table,... or --database NAME (or tables/schemas in the config file)');
  }
  const out = new Map<string, [string, string]>();
  for (const [db, t] of scope.tables) {
    const r = await rows(conn, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND TABLE_TYPE = 'BASE TABLE'", [db, t]);
    if (r.length === 0) throw usageError('E_MYSQL_TABLE_MISSING', `table ${db}.${t} does not exist (or is not a base table)`, 'check the name, or create the table before running setup');
    out.set(`${db}\u0000${t}`, [db, t]);
  }
  for (const db of scope.databases) {
    const r = await rows<{ t: string }>(conn, "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", [db]);
    for (const x of r) {
      if (db === config.marker_database && x.t === config.marker_table) continue;
      out.set(`${db}\u0000${x.t}`, [db, x.t]);
    }
  }
  return [...out.values()];
}
