import type { Command } from 'commander';

export function registerReindex(program: Command): void {
  program
    .command('reindex')
    .description('(not yet implemented)')
    .action(() => {
      process.stderr.write('dbwitness reindex: not yet implemented\n');
      process.exitCode = 2;
    });
}
