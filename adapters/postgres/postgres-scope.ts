/**
 * Resolving what is audited: the configured tables plus every table of the
 * configured schemas, each with the partitions it has today. Partitions
 * created later are covered by the DDL event trigger.
 */
import { usageError } from '../../src/core/errors.js';
import type { PostgresSourceConfig } from './postgres-config.js';
import type { PgClient } from './postgres-connection.js';
import { parseSchemaName, parseTableName, tableKey, type TableName } from './sql-quote.js';

export interface AuditedTable extends TableName {
  /** Every partition below this table, at any depth (empty for plain tables). */
  readonly partitions: readonly TableName[];
}

export interface Scope {
  readonly tables: readonly AuditedTable[];
  readonly schemas: readonly string[];
}

export async function resolveScope(client: PgClient, config: PostgresSourceConfig): Promise<Scope> {
  const schemas = config.schemas.map(parseSchemaName);
  const wanted = new Map<string, TableName>();
  for (const text of config.tables) {
    const t = parseTableName(text);
    wanted.set(tableKey(t), t);
  }
  for (const schema of schemas) {
    const { rows } = await client.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname`,
      [schema],
    );
    const exists = await client.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) {
      throw usageError('E_PG_SCHEMA_MISSING', `schema "${schema}" does not exist in this database`, 'check --schema (unquoted names are lower-cased) and the database in --url');
    }
    for (const r of rows) wanted.set(`${r.schema}.${r.name}`, { schema: r.schema, name: r.name });
  }
  if (wanted.size === 0 && schemas.length === 0) {
    throw usageError('E_PG_NO_TABLES', 'no tables to audit were given', 'pass --tables schema.table,... or --schema NAME');
  }
  const tables: AuditedTable[] = [];
  for (const t of wanted.values()) {
    const { rows } = await client.query<{ oid: string; kind: string }>(
      `SELECT c.oid::pg_catalog.text AS oid, c.relkind AS kind
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relname = $2`,
      [t.schema, t.name],
    );
    const row = rows[0];
    if (row === undefined) {
      throw usageError('E_PG_TABLE_MISSING', `table ${tableKey(t)} does not exist in this database`, 'check --tables (unquoted names are lower-cased; quote mixed-case names) and the database in --url');
    }
    if (row.kind !== 'r' && row.kind !== 'p') {
      throw usageError('E_PG_NOT_A_TABLE', `${tableKey(t)} is not a table (relkind ${row.kind})`, 'audit the underlying tables instead of views or foreign tables');
    }
    // By oid, not by name: a name -> regclass lookup needs USAGE on the schema, which the daemon role lacks.
    const parts = await client.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_catalog.pg_partition_tree($1::pg_catalog.oid::pg_catalog.regclass) p
       JOIN pg_catalog.pg_class c ON c.oid = p.relid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE p.level > 0 ORDER BY p.level, c.relname`,
      [row.oid],
    );
    tables.push({ ...t, partitions: parts.rows });
  }
  return { tables, schemas };
}

/** Every table that must carry the trigger: audited tables and their partitions. */
export function triggerTargets(scope: Scope): TableName[] {
  const out: TableName[] = [];
  for (const t of scope.tables) {
    out.push({ schema: t.schema, name: t.name });
    for (const p of t.partitions) out.push(p);
  }
  return out;
}
