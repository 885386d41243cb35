/**
 * The audit action of a statement, from its command tag (what PostgreSQL
 * logs as `ps`/command_tag and pgaudit as COMMAND) or its first keywords.
 */
import type { RowChange } from '../../src/core/ports.js';

type Act = RowChange['action'];

const PRIVILEGE = /^(GRANT|REVOKE|(CREATE|ALTER|DROP) (ROLE|USER|GROUP)|ALTER DEFAULT( PRIVILEGES)?|SET ROLE|REASSIGN OWNED)\b/;
const DDL = /^(CREATE|ALTER|DROP|COMMENT|SECURITY LABEL|REINDEX|CLUSTER|REFRESH)\b/;

export function actionForCommand(command: string, statement: string | null): Act | null {
  const c = command.trim().toUpperCase();
  switch (c) {
    case 'SELECT':
    case 'SELECT INTO':
    case 'FETCH':
      return 'read';
    case 'INSERT':
      return 'insert';
    case 'UPDATE':
    case 'MERGE':
      return 'update';
    case 'DELETE':
      return 'delete';
    case 'TRUNCATE':
    case 'TRUNCATE TABLE':
      return 'truncate';
    case 'COPY':
      return copyDirection(statement);
  }
  if (PRIVILEGE.test(c)) return 'privilege';
  if (DDL.test(c)) return 'ddl';
  return null;
}

/** `COPY t FROM ...` writes rows; `COPY t TO ...` and `COPY (query) TO ...` read them. */
function copyDirection(statement: string | null): Act {
  if (statement === null) return 'read';
  const m = /^\s*copy\s+(?:"(?:[^"]|"")*"|[\w$]+)(?:\s*\.\s*(?:"(?:[^"]|"")*"|[\w$]+))?\s*(?:\([^)]*\))?\s+(from|to)\b/i.exec(statement);
  return m !== null && m[1]!.toLowerCase() === 'from' ? 'insert' : 'read';
}
