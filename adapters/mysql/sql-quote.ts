/**
 * Quoting for SQL that setup prints and runs. Every identifier and literal
 * built from configuration goes through these: table names are user input
 * and may hold backticks, quotes or spaces.
 */

/** `name` with embedded backticks doubled (MySQL/MariaDB identifier quoting). */
export function quoteIdent(name: string): string {
  if (name.includes('\u0000')) throw new Error('identifier contains NUL');
  return '`' + name.replace(/`/g, '``') + '`';
}

export function quoteQualified(database: string, table: string): string {
  return `${quoteIdent(database)}.${quoteIdent(table)}`;
}

/**
 * A string literal safe under both sql_mode with and without
 * NO_BACKSLASH_ESCAPES: backslashes and quotes are escaped, and the
 * result is wrapped in single quotes.
 */
export function quoteString(value: string): string {
  if (value.includes('\u0000')) throw new Error('string literal contains NUL');
  if (value.includes('\\')) {
    // Under NO_BACKSLASH_ESCAPES a backslash is literal; under the default
    // mode it escapes. Hex literals mean the same bytes in both modes.
    return `_utf8mb4 X'${Buffer.from(value, 'utf8').toString('hex')}'`;
  }
  return `'${value.replace(/'/g, "''")}'`;
}

/** 'user'@'host' for GRANT / CREATE USER / DEFINER. */
export function quoteAccount(user: string, host: string): string {
  return `${quoteString(user)}@${quoteString(host)}`;
}
