import { spawn } from 'node:child_process';
import type { RunAs } from './temp.js';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a server tool to completion, as `runAs` when given (PostgreSQL and
 * MariaDB refuse or dislike running as root). PG* variables from the
 * caller's environment are dropped so they cannot redirect the tools.
 */
export function exec(
  command: string,
  args: readonly string[],
  opts: { runAs?: RunAs | undefined; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: serverEnv(opts.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.runAs !== undefined ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {}),
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${command}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal !== null ? 128 : 1),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}

export function serverEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PG') && !key.startsWith('MYSQL') && !key.startsWith('LD_')) env[key] = value;
  }
  return { ...env, LC_ALL: 'C', LANG: 'C', ...extra };
}

/** Blocks the thread (only for synchronous exit-time cleanup, where no event loop runs). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function tailText(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
