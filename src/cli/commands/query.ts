import type { Command } from 'commander';

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description('(not yet implemented)')
    .action(() => {
      process.stderr.write('dbwitness query: not yet implemented\n');
      process.exitCode = 2;
    });
}
