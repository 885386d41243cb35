/**
 * Statement text from logs, made safe to store: secrets masked and length
 * capped. pgaudit redacts passwords only in the ROLE statement it audits,
 * not in the other sub-statements of the same query string, and clients may
 * send megabytes of SQL.
 */

/** `PASSWORD '...'` / `IDENTIFIED BY '...'` / `PASSWORD('...')` literals, with '' and \' escapes. */
const SECRET = /\b(password|identified\s+by|identified\s+with\s+\S+\s+(?:by|as))(\s*\(?\s*)(E?'(?:[^'\\]|''|\\.)*'|\$([A-Za-z_]*)\$[\s\S]*?\$\4\$)/gi;

export function maskSecrets(statement: string): string {
  return statement.replace(SECRET, (_m, kw: string, gap: string) => `${kw}${gap}<REDACTED>`);
}

export const DEFAULT_STATEMENT_MAX_CHARS = 8192;

/** Caps the statement at `max` UTF-16 code units, with a marker saying how much was cut. */
export function capStatement(statement: string, max: number): string {
  if (statement.length <= max) return statement;
  let cut = max;
  // Do not split a surrogate pair.
  const code = statement.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${statement.slice(0, cut)}...[truncated ${statement.length - cut} chars]`;
}

export function safeStatement(statement: string | null, max: number): string | null {
  if (statement === null) return null;
  return capStatement(maskSecrets(statement), max);
}

/** Commands whose second keyword says what they do (CREATE TABLE vs CREATE USER). */
const COMPOUND = new Set(['CREATE', 'ALTER', 'DROP', 'RENAME', 'SET', 'TRUNCATE', 'LOAD', 'INSERT', 'REPLACE', 'DELETE', 'GRANT', 'REVOKE', 'SHOW', 'COMMENT', 'SECURITY', 'REFRESH', 'REASSIGN']);

/** First keyword (two for compound commands), upper-cased, leading comments and parentheses skipped. */
export function leadingCommand(statement: string): string {
  const s = statement.replace(/^(?:\s+|--[^\n]*\n|\/\*[\s\S]*?\*\/|\()*/, '');
  const m = /^([A-Za-z]+)(?:\s+([A-Za-z]+))?/.exec(s);
  if (m === null) return '';
  const first = m[1]!.toUpperCase();
  return m[2] !== undefined && COMPOUND.has(first) ? `${first} ${m[2].toUpperCase()}` : first;
}
