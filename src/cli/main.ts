/**
 * The `dbwitness` command line: one file per command under ./commands.
 * Exit codes: 0 ok, 1 finding (tamper, failed check), 2 usage or environment error.
 */
import { Command, CommanderError } from 'commander';
import { isDbwitnessError } from '../core/errors.js';
import { registerCommands } from './commands/index.js';

export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command();
  program
    .name('dbwitness')
    .description('Tamper-evident, session-attributed audit trails from PostgreSQL WAL and MySQL/MariaDB binlogs.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    .exitOverride();
  registerCommands(program);
  for (const cmd of program.commands) cmd.exitOverride().showHelpAfterError('(run with --help for usage)');
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    return reportError(e);
  }
}

export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // --help and --version end through here with exit code 0.
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    return 2;
  }
  if (isDbwitnessError(e)) {
    process.stderr.write(`dbwitness: ${e.message}\n  fix: ${e.fix}\n  code: ${e.code}\n`);
    return e.exitCode;
  }
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`dbwitness: unexpected error: ${msg}\n`);
  return 2;
}

const VERSION = '0.1.0';

const code = await main(process.argv.slice(2));
process.exitCode = code;
