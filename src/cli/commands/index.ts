/** Every CLI command, in the order `--help` lists them. */
import type { Command } from 'commander';
import { registerSetup } from './setup.js';
import { registerDoctor } from './doctor.js';
import { registerRun } from './run.js';
import { registerVerify } from './verify.js';
import { registerQuery } from './query.js';
import { registerReport } from './report.js';
import { registerDemo } from './demo.js';
import { registerKeygen } from './keygen.js';
import { registerReindex } from './reindex.js';
import { registerRetention } from './retention.js';
import { registerArchive } from './archive.js';

export function registerCommands(program: Command): void {
  registerSetup(program);
  registerDoctor(program);
  registerRun(program);
  registerArchive(program);
  registerVerify(program);
  registerQuery(program);
  registerReport(program);
  registerDemo(program);
  registerReindex(program);
  registerRetention(program);
  registerKeygen(program);
}
