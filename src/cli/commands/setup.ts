import type { Command } from 'commander';

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('(not yet implemented)')
    .action(() => {
      process.stderr.write('dbwitness setup: not yet implemented\n');
      process.exitCode = 2;
    });
}
