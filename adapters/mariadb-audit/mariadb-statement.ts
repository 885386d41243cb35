/**
 * What a MariaDB statement does, from its first keywords, and the table it
 * names when server_audit logged no TABLE event for it (a statement refused
 * before any table was opened: `INSERT command denied`, error 1142).
 */
import type { RowChange } from '../../src/core/ports.js';

type Act = RowChange['action'];

const PRIVILEGE = /^(GRANT|REVOKE|(CREATE|DROP|ALTER|RENAME) (USER|ROLE)|SET (PASSWORD|ROLE|DEFAULT))\b/;
const DDL = /^(CREATE|ALTER|DROP|RENAME)\b/;

export function mariadbAction(command: string): Act | null {
  const first = command.split(' ')[0] ?? '';
  if (PRIVILEGE.test(command)) return 'privilege';
  switch (first) {
    case 'SELECT':
    case 'WITH':
    case 'HANDLER':
      return 'read';
    case 'INSERT':
    case 'REPLACE':
    case 'LOAD':
      return 'insert';
    case 'UPDATE':
      return 'update';
    case 'DELETE':
      return 'delete';
    case 'TRUNCATE':
      return 'truncate';
  }
  if (DDL.test(command)) return 'ddl';
  return null;
}

const IDENT = '(?:`(?:[^`]|``)+`|[\\w$]+)';
const TABLE_AFTER = new RegExp(`\\b(?:from|into|update|join|table)\\s+(${IDENT})(?:\\s*\\.\\s*(${IDENT}))?`, 'i');

/** First table named by the statement, qualified with `defaultDb`; null when none is found. */
export function statementTable(statement: string, defaultDb: string): { schema: string | null; table: string } | null {
  const m = TABLE_AFTER.exec(statement);
  if (m === null) return null;
  const a = unquote(m[1]!);
  if (m[2] !== undefined) return { schema: a, table: unquote(m[2]) };
  return { schema: defaultDb === '' ? null : defaultDb, table: a };
}

function unquote(ident: string): string {
  return ident.startsWith('`') ? ident.slice(1, -1).replaceAll('``', '`') : ident;
}

/** MariaDB errors that mean "not allowed" (ER_DBACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR, ...). */
export const PERMISSION_ERRORS = new Set([1044, 1045, 1142, 1143, 1227, 1370, 1410, 1698, 4151]);
