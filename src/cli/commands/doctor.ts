import type { Command } from 'commander';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('(not yet implemented)')
    .action(() => {
      process.stderr.write('dbwitness doctor: not yet implemented\n');
      process.exitCode = 2;
    });
}
