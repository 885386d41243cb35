/**
 * Quoting for SQL the setup plan prints and runs. Every identifier in a
 * plan goes through `quoteIdent`, so hostile names ("x"; DROP ..., names with
 * spaces or quotes) stay names.
 */
import { usageError } from '../../src/core/errors.js';

/** A table as schema and name, both unquoted (exact catalog spelling). */
export interface TableName {
  readonly schema: string;
  readonly name: string;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A string literal; E'' form when a backslash is present, so the meaning does not depend on standard_conforming_strings. */
export function quoteLiteral(value: string): string {
  const body = value.replace(/'/g, "''");
  return value.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

export function qualified(t: TableName): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
}

export function tableKey(t: TableName): string {
  return `${t.schema}.${t.name}`;
}

/**
 * Parses `schema.table` as a DBA would write it: unquoted parts are
 * case-folded to lower case like PostgreSQL does, double-quoted parts are
 * taken literally ("My Schema"."Odd ""name"""). A bare name means `public`.
 */
export function parseTableName(text: string): TableName {
  const parts = splitQualified(text);
  if (parts.length === 1 && parts[0] !== undefined) return { schema: 'public', name: parts[0] };
  if (parts.length === 2 && parts[0] !== undefined && parts[1] !== undefined) return { schema: parts[0], name: parts[1] };
  throw usageError('E_PG_TABLE_NAME', `"${text}" is not a table name of the form schema.table`, 'write tables as schema.table; double-quote parts that contain dots, spaces or capitals, e.g. "My Schema"."Visits"');
}

/** Parses a schema name with the same quoting rules. */
export function parseSchemaName(text: string): string {
  const parts = splitQualified(text);
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  throw usageError('E_PG_SCHEMA_NAME', `"${text}" is not a schema name`, 'give a schema name such as clinic, or "My Schema" in double quotes');
}

function splitQualified(text: string): string[] {
  const parts: string[] = [];
  let i = 0;
  const s = text.trim();
  while (i <= s.length) {
    let part = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length) return [];
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += s[i];
        i++;
      }
    } else {
      const end = s.indexOf('.', i);
      const raw = end < 0 ? s.slice(i) : s.slice(i, end);
      if (raw.includes('"')) return [];
      part = raw.trim().toLowerCase();
      i = end < 0 ? s.length : end;
    }
    if (part === '') return [];
    parts.push(part);
    if (i >= s.length) break;
    if (s[i] !== '.') return [];
    i++;
    if (i >= s.length) return [];
  }
  return parts;
}
