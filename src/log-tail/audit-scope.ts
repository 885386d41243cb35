/**
 * Which objects a log source reports reads and refused statements for:
 * the configured tables/schemas, or every non-system object when none are
 * configured. Logins, logouts, privilege changes and DDL are always kept.
 */
export interface AuditScope {
  /** True when (schema, table) is audited; schema null when the log names only the table. */
  covers(schema: string | null, table: string): boolean;
}

export function auditScope(tables: readonly string[], schemas: readonly string[], systemSchemas: readonly string[], includeSystem: boolean): AuditScope {
  const tableSet = new Set(tables);
  const tableNames = new Set(tables.map((t) => t.slice(t.indexOf('.') + 1)));
  const schemaSet = new Set(schemas);
  const system = new Set(systemSchemas);
  const all = tableSet.size === 0 && schemaSet.size === 0;
  return {
    covers(schema, table) {
      if (schema !== null && !includeSystem && (system.has(schema) || /^pg_(toast_)?temp_\d+$/.test(schema))) return false;
      if (all) return true;
      if (schema === null) return schemaSet.size > 0 || tableNames.has(table);
      return schemaSet.has(schema) || tableSet.has(`${schema}.${table}`);
    },
  };
}
