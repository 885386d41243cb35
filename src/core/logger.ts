/**
 * Structured logs (pino, JSON to stderr so stdout stays for command output).
 *
 * Rule: row values, passwords and connection strings never reach a log
 * line. Components log positions, counts, table names and codes only; the
 * redact paths below are a second line of defence for careless fields.
 */
import { pino, type Logger, type Level } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const REDACT_PATHS = [
  'password',
  '*.password',
  'url',
  '*.url',
  'connectionString',
  '*.connectionString',
  'before',
  'after',
  '*.before',
  '*.after',
  'row',
  '*.row',
  'values',
  '*.values',
  'key',
  '*.key',
  'secret',
  '*.secret',
];

export function createLogger(level: LogLevel = 'info', destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      level: level as Level | 'silent',
      base: { name: 'dbwitness' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination as pino.DestinationStream,
  );
}

/** A logger that writes nothing (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
