import type { Command } from 'commander';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('(not yet implemented)')
    .action(() => {
      process.stderr.write('dbwitness run: not yet implemented\n');
      process.exitCode = 2;
    });
}
