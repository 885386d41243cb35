import type { Command } from 'commander';

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description('(not yet implemented)')
    .action(() => {
      process.stderr.write('dbwitness keygen: not yet implemented\n');
      process.exitCode = 2;
    });
}
