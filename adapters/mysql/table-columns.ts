/** The audited tables' columns, for doctor's checks of the policy (information_schema only). */
import { resolveTables } from './audited-tables.js';
import type { MysqlSourceConfig } from './mysql-config.js';
import { connect, rows } from './mysql-connect.js';

export async function auditedColumns(config: MysqlSourceConfig): Promise<Map<string, string[]>> {
  const conn = await connect(config);
  try {
    const out = new Map<string, string[]>();
    for (const [db, table] of await resolveTables(conn, config)) {
      const r = await rows<{ c: string }>(conn, 'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', [db, table]);
      out.set(`${db}.${table}`, r.map((x) => x.c));
    }
    return out;
  } finally {
    await conn.end().catch(() => undefined);
  }
}
