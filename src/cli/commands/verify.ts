import type { Command } from 'commander';

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('(not yet implemented)')
    .action(() => {
      process.stderr.write('dbwitness verify: not yet implemented\n');
      process.exitCode = 2;
    });
}
