/** The audited tables' columns, for doctor's checks of the policy (catalog reads only, as the daemon role). */
import type { PostgresSourceConfig } from './postgres-config.js';
import type { PgClient } from './postgres-connection.js';
import { resolveScope } from './postgres-scope.js';
import { tableKey } from './sql-quote.js';

export async function auditedColumnsWith(client: PgClient, config: PostgresSourceConfig): Promise<Map<string, string[]>> {
  const scope = await resolveScope(client, config);
  const out = new Map<string, string[]>(scope.tables.map((t) => [tableKey(t), []]));
  if (scope.tables.length === 0) return out;
  // One query for every table; partitions share their parent's columns, which is what the policy names.
  const { rows } = await client.query<{ schema: string; table: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS table, a.attname AS name
     FROM pg_catalog.pg_attribute a
     JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     JOIN ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.text[])) AS w(schema, name) ON w.schema = n.nspname AND w.name = c.relname
     WHERE a.attnum > 0 AND NOT a.attisdropped
     ORDER BY n.nspname, c.relname, a.attnum`,
    [scope.tables.map((t) => t.schema), scope.tables.map((t) => t.name)],
  );
  for (const r of rows) out.get(`${r.schema}.${r.table}`)?.push(r.name);
  return out;
}
