/**
 * Runs the built CLI (`node bin/dbwitness.js`, i.e. dist/) the way users run
 * it. test/run-all.sh builds dist first; when running a single test file by
 * hand, build with `npx tsc -p tsconfig.build.json`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import { killQuietly, register } from './registry.js';

export { tempDir } from './temp.js';

export { repoRoot } from './paths.js';
export const cliEntry: string = join(repoRoot, 'bin', 'dbwitness.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  /** Merged over process.env. */
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed (stdin is always closed). */
  input?: string;
  /** Default 60 s; the CLI is killed and the call rejects when it runs longer. */
  timeoutMs?: number;
  /** Working directory; defaults to the repository root. */
  cwd?: string;
}

/**
 * Runs `dbwitness <args>` to completion. Resolves with the exit code (a
 * process killed by a signal reports 128 + signal number, as a shell would).
 *
 * @example
 *   const { code, stdout } = await runCli(['verify', '--store', dir]);
 */
export function runCli(args: string[], opts: RunCliOptions = {}): Promise<CliResult> {
  assertBuilt();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliEntry, ...args], {
      cwd: opts.cwd ?? repoRoot,
      env: cliEnv(opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const unregister = registerChild(child);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    // EPIPE when the CLI exits without reading its input is not a test failure.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.input ?? '');
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      unregister();
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      unregister();
      const out = Buffer.concat(stdout).toString('utf8');
      const err = Buffer.concat(stderr).toString('utf8');
      if (timedOut) {
        reject(new Error(`dbwitness ${args.join(' ')} did not finish within ${timeoutMs} ms\n--- stdout ---\n${tail(out)}\n--- stderr ---\n${tail(err)}`));
        return;
      }
      resolve({ code: code ?? 128 + signalNumber(signal), stdout: out, stderr: err });
    });
  });
}

/**
 * Starts `dbwitness <args>` in the background (daemons, kill -9 tests).
 * stdio is piped; the child is killed at process exit if still running.
 */
export function spawnCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ChildProcess {
  assertBuilt();
  const child = spawn(process.execPath, [cliEntry, ...args], {
    cwd: opts.cwd ?? repoRoot,
    env: cliEnv(opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const unregister = registerChild(child);
  child.once('exit', unregister);
  return child;
}

function cliEnv(extra: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  // NO_COLOR keeps output assertions independent of the terminal.
  return { ...process.env, NO_COLOR: '1', ...extra };
}

function registerChild(child: ChildProcess): () => void {
  return register({ killSync: () => killQuietly(child.pid, 'SIGKILL'), dirs: [] });
}

function assertBuilt(): void {
  if (!existsSync(join(repoRoot, 'dist', 'src', 'cli', 'main.js'))) {
    throw new Error('the CLI is not built (dist/src/cli/main.js is missing): run `npx tsc -p tsconfig.build.json` (test/run-all.sh does this first)');
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : constants.signals[signal];
}

function tail(text: string, max = 4000): string {
  return text.length <= max ? text : `…${text.slice(-max)}`;
}
