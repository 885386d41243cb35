import type { Command } from 'commander';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('(not yet implemented)')
    .action(() => {
      process.stderr.write('dbwitness report: not yet implemented\n');
      process.exitCode = 2;
    });
}
