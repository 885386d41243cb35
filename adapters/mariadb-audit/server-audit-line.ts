/**
 * One line of MariaDB's server_audit file log:
 * `timestamp,serverhost,username,host,connectionid,queryid,operation,database,object,retcode`
 * (MariaDB KB "MariaDB Audit Plugin - Log Format"). For QUERY the object is
 * the statement in single quotes with backslash escapes (`\'`, `\\`, `\n`);
 * for TABLE events (READ, WRITE, CREATE, ALTER, DROP, RENAME) it is the
 * table name and retcode is empty.
 */
export interface ServerAuditLine {
  readonly timestamp: string;
  readonly serverHost: string;
  readonly user: string;
  readonly host: string;
  readonly connectionId: string;
  readonly queryId: string;
  readonly operation: string;
  readonly database: string;
  /** Unescaped statement (QUERY) or table name (TABLE events), '' when absent. */
  readonly object: string;
  readonly quoted: boolean;
  /** null when the field is empty (TABLE events). */
  readonly retcode: number | null;
}

export type ParsedLine = { readonly ok: true; readonly line: ServerAuditLine } | { readonly ok: false; readonly reason: string };

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '0': '\0' };

export function parseServerAuditLine(raw: string): ParsedLine {
  const text = raw.endsWith('\n') ? raw.slice(0, raw.endsWith('\r\n') ? -2 : -1) : raw;
  const head: string[] = [];
  let i = 0;
  for (let k = 0; k < 8; k++) {
    const c = text.indexOf(',', i);
    if (c < 0) return { ok: false, reason: 'too_few_fields' };
    head.push(text.slice(i, c));
    i = c + 1;
  }
  const [timestamp, serverHost, user, host, connectionId, queryId, operation, database] = head as [string, string, string, string, string, string, string, string];
  if (!/^\d+$/.test(connectionId) || !/^\d+$/.test(queryId)) return { ok: false, reason: 'bad_ids' };
  if (!/^[A-Z_]+$/.test(operation)) return { ok: false, reason: 'bad_operation' };
  let object: string;
  let rest: string;
  let quoted = false;
  if (text[i] === "'") {
    quoted = true;
    let out = '';
    let j = i + 1;
    for (;;) {
      if (j >= text.length) return { ok: false, reason: 'unterminated_quote' };
      const ch = text[j]!;
      if (ch === '\\') {
        const next = text[j + 1];
        if (next === undefined) return { ok: false, reason: 'unterminated_quote' };
        out += ESCAPES[next] ?? next;
        j += 2;
        continue;
      }
      if (ch === "'") break;
      out += ch;
      j++;
    }
    object = out;
    rest = text.slice(j + 1);
    if (!rest.startsWith(',')) return { ok: false, reason: 'text_after_quote' };
    rest = rest.slice(1);
  } else {
    const c = text.lastIndexOf(',');
    if (c < i - 1) return { ok: false, reason: 'too_few_fields' };
    object = text.slice(i, c);
    rest = text.slice(c + 1);
  }
  if (rest !== '' && !/^-?\d+$/.test(rest)) return { ok: false, reason: 'bad_retcode' };
  return {
    ok: true,
    line: { timestamp, serverHost, user, host, connectionId, queryId, operation, database, object, quoted, retcode: rest === '' ? null : Number(rest) },
  };
}
