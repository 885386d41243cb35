/**
 * Literal redaction for SQL text. MariaDB's Annotate_rows event carries the
 * statement exactly as the client sent it, so `INSERT ... VALUES ('Jane
 * Doe', '1970-01-01')` would put PHI into the audit trail however carefully
 * the row values were redacted.
 *
 * The scanner errs towards removing too much: a backslash always escapes
 * the next character (MySQL's default; under PostgreSQL's
 * standard_conforming_strings `'a\'` then swallows more text than it
 * should, which hides, never leaks). Comments are removed entirely because
 * clients put identifiers and values in them.
 */
export type Dialect = 'postgres' | 'mysql';

const PLACEHOLDER = '?';

export function redactSqlLiterals(sql: string, dialect: Dialect): string {
  let out = '';
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    // -- comment (MySQL also '#').
    if ((c === '-' && next === '-') || (c === '#' && dialect === 'mysql')) {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? n : end;
      out += ' ';
      continue;
    }
    if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
      out += ' ';
      continue;
    }
    // Quoted strings: '...'; in MySQL (without ANSI_QUOTES) "..." is a string too.
    if (c === "'" || (c === '"' && dialect === 'mysql')) {
      i = skipQuoted(sql, i, c);
      out += PLACEHOLDER;
      continue;
    }
    // Identifiers are kept: "..." in PostgreSQL, `...` in MySQL.
    if (c === '"' || c === '`') {
      const end = closeIdentifier(sql, i, c);
      out += sql.slice(i, end);
      i = end;
      continue;
    }
    // PostgreSQL dollar quoting: $tag$ ... $tag$ (but $1 is a parameter).
    if (c === '$' && dialect === 'postgres') {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 66));
      if (m) {
        const tag = m[0];
        const end = sql.indexOf(tag, i + tag.length);
        i = end === -1 ? n : end + tag.length;
        out += PLACEHOLDER;
        continue;
      }
    }
    // Numbers (and 0x.., 1e5, 1.5): only where no identifier character precedes.
    if (isDigit(c) || (c === '.' && next !== undefined && isDigit(next))) {
      const prev = out.length > 0 ? out[out.length - 1]! : ' ';
      if (!isIdentChar(prev)) {
        let j = i + 1;
        while (j < n && (isIdentChar(sql[j]!) || sql[j] === '.' || ((sql[j] === '+' || sql[j] === '-') && /[eE]/.test(sql[j - 1]!)))) j++;
        out += PLACEHOLDER;
        i = j;
        continue;
      }
    }
    // Prefixed strings (E'..', X'..', B'..', N'..', _utf8'..', U&'..') fall through to the quote branch next turn.
    out += c;
    i++;
  }
  return out.trimEnd();
}

function skipQuoted(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (sql[i + 1] === quote) {
        i += 2; // doubled quote inside the literal
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return sql.length; // unterminated: everything after the quote is treated as literal
}

function closeIdentifier(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return sql.length;
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function isIdentChar(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) || c === '_' || c === '$' || c > '\u007f';
}
