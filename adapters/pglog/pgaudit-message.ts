/**
 * pgaudit's message: `AUDIT: <type>,<statement id>,<substatement id>,<class>,
 * <command>,<object type>,<object name>,<statement>,<parameter>[,<rows>]`
 * (pgaudit README, "Format"; the rows column exists when pgaudit.log_rows is
 * on, pgaudit 1.6+/PG14+). Fields are CSV-quoted when needed.
 */
import { splitCsv } from '../../src/log-tail/index.js';

export const AUDIT_PREFIX = 'AUDIT: ';

export interface PgauditEntry {
  readonly auditType: string;
  readonly statementId: string;
  readonly substatementId: string;
  readonly auditClass: string;
  readonly command: string;
  readonly objectType: string;
  readonly objectName: string;
  /** null for `<not logged>` / `<previously logged>`. */
  readonly statement: string | null;
  readonly rows: string | null;
}

export function parsePgaudit(message: string): PgauditEntry | null {
  if (!message.startsWith(AUDIT_PREFIX)) return null;
  const f = splitCsv(message.slice(AUDIT_PREFIX.length));
  if (f === null || f.length < 9 || f.length > 10) return null;
  const [auditType, statementId, substatementId, auditClass, command, objectType, objectName, statement, , rows] = f as [string, string, string, string, string, string, string, string, string, string | undefined];
  if (auditType !== 'SESSION' && auditType !== 'OBJECT') return null;
  if (!/^\d+$/.test(statementId) || !/^\d+$/.test(substatementId)) return null;
  if (rows !== undefined && !/^\d+$/.test(rows)) return null;
  return {
    auditType,
    statementId,
    substatementId,
    auditClass,
    command,
    objectType,
    objectName,
    statement: statement === '<not logged>' || statement === '<previously logged>' ? null : statement,
    rows: rows ?? null,
  };
}

/** `schema.table` with optional double-quoted parts (quote_identifier output) -> [schema, table]. */
export function splitQualifiedName(name: string): [string | null, string] | null {
  const parts: string[] = [];
  let i = 0;
  while (i < name.length) {
    if (name[i] === '"') {
      let part = '';
      i++;
      for (;;) {
        const q = name.indexOf('"', i);
        if (q < 0) return null;
        part += name.slice(i, q);
        if (name[q + 1] === '"') {
          part += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      parts.push(part);
    } else {
      const dot = name.indexOf('.', i);
      const end = dot < 0 ? name.length : dot;
      parts.push(name.slice(i, end));
      i = end;
    }
    if (i < name.length) {
      if (name[i] !== '.') return null;
      i++;
    }
  }
  if (parts.length === 1) return [null, parts[0]!];
  if (parts.length === 2) return [parts[0]!, parts[1]!];
  return null;
}
