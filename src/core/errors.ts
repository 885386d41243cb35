/**
 * Errors that reach an operator carry a stable code, what is wrong, and how
 * to fix it. The CLI prints `message` and `fix` and maps `exitCode`:
 * 1 for a finding (tamper, failed check), 2 for usage or environment errors.
 *
 * Messages must never contain row values, passwords or connection strings;
 * use `redactUrl` when a location has to be named.
 */
export type ExitCode = 0 | 1 | 2;

export class DbwitnessError extends Error {
  readonly code: string;
  readonly fix: string;
  readonly exitCode: ExitCode;

  constructor(code: string, message: string, fix: string, options: { exitCode?: ExitCode; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DbwitnessError';
    this.code = code;
    this.fix = fix;
    this.exitCode = options.exitCode ?? 2;
  }
}

/** Usage error: bad flag, bad config value. */
export function usageError(code: string, message: string, fix: string): DbwitnessError {
  return new DbwitnessError(code, message, fix, { exitCode: 2 });
}

/** Finding: the audited thing is wrong (tamper detected, check failed). */
export function findingError(code: string, message: string, fix: string): DbwitnessError {
  return new DbwitnessError(code, message, fix, { exitCode: 1 });
}

/**
 * A connection URL safe to print: scheme, host, port and database only.
 * User names and passwords are removed.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const port = u.port ? `:${u.port}` : '';
    return `${u.protocol}//${u.hostname}${port}${u.pathname}`;
  } catch {
    return '<unparseable url>';
  }
}

export function isDbwitnessError(e: unknown): e is DbwitnessError {
  return e instanceof DbwitnessError;
}

/**
 * Error code a source's optional `heartbeat()` throws when it cannot write
 * heartbeats at all (e.g. a PostgreSQL installation set up before heartbeats
 * existed): the daemon then treats the source as one without heartbeats,
 * instead of calling its idle silence a stuck pipeline.
 */
export const HEARTBEAT_UNAVAILABLE = 'E_HEARTBEAT_UNAVAILABLE';
