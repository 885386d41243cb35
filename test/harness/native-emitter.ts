/**
 * Builds the native identity emitter (native/postgres-emitter) for the
 * Debian PostgreSQL 15 the harness runs, into a temporary directory the
 * server's unprivileged account can read. A server started with
 * `nativeEmitterConfig(dir)` finds it by name (dynamic_library_path), as an
 * installed one is found in $libdir. Built once per test process.
 */
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import { register } from './registry.js';
import { makeHarnessDir } from './temp.js';

const PG_CONFIG = '/usr/lib/postgresql/15/bin/pg_config';
const SOURCE = join(repoRoot, 'native', 'postgres-emitter');

let built: Promise<string> | undefined;

export function buildNativeEmitter(): Promise<string> {
  built ??= build();
  return built;
}

/** Server settings that let PostgreSQL load the emitter built in `dir`. */
export function nativeEmitterConfig(dir: string): Record<string, string> {
  return { dynamic_library_path: `$libdir:${dir}` };
}

async function build(): Promise<string> {
  if (!existsSync(PG_CONFIG) || !existsSync('/usr/include/postgresql/15/server/postgres.h')) {
    throw new Error('the native emitter needs PostgreSQL 15 server headers: apt-get install postgresql-server-dev-15 (test/install-servers.sh installs it)');
  }
  const dir = makeHarnessDir('native-emitter-');
  register({ killSync: () => undefined, dirs: [dir] });
  for (const f of readdirSync(SOURCE)) if (f.endsWith('.c') || f === 'Makefile') copyFileSync(join(SOURCE, f), join(dir, f));
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn('make', [`PG_CONFIG=${PG_CONFIG}`, 'with_llvm=no'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, output: out }));
  });
  if (code !== 0) throw new Error(`building the native emitter failed (make exit ${code}):\n${output.slice(-2000)}`);
  // The server runs as an unprivileged account: it must be able to enter the directory and read the library.
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'dbwitness_emitter.so'), 0o755);
  return dir;
}
