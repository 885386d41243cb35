import type { Command } from 'commander';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('(not yet implemented)')
    .action(() => {
      process.stderr.write('dbwitness demo: not yet implemented\n');
      process.exitCode = 2;
    });
}
