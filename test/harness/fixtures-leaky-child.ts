/**
 * Child process for the harness cleanup tests: starts a server and then
 * either exits without closing it ('exit') or waits to be killed ('hang').
 * Prints `{"dataDir": ..., "postmaster": pid}` once the server is up.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPostgres } from './postgres.js';

const mode = process.argv[2] ?? 'exit';
const pg = await startPostgres();
const postmaster = Number.parseInt(readFileSync(join(pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
// stdout is a pipe: writes are synchronous on Linux, so exit cannot drop the line.
process.stdout.write(`${JSON.stringify({ dataDir: pg.dataDir, postmaster })}\n`);
if (mode === 'hang') setInterval(() => undefined, 60_000);
else process.exit(0);
