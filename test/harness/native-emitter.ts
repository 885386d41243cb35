/**
 * Builds the native identity emitter (native/postgres-emitter) for a
 * PostgreSQL major, into a temporary directory the server's unprivileged
 * account can read. A server started with `nativeEmitterConfig(dir)` finds
 * it by name (dynamic_library_path), as an installed one is found in
 * $libdir. Built once per major and test process.
 *
 * - 15 (Debian's server): with PGXS and the system's
 *   postgresql-server-dev-15, as a DBA would build it.
 * - Other majors (the npm packages' servers, which ship no headers): with
 *   the compiler directly, against the headers test/install-servers.sh
 *   extracts from Debian's postgresql-server-dev-N into
 *   node_modules/.cache/pg-server-headers/N. `nativeEmitterVersions()` says
 *   which majors can be built here.
 */
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import { register } from './registry.js';
import { makeHarnessDir } from './temp.js';

const PG_CONFIG = '/usr/lib/postgresql/15/bin/pg_config';
const SOURCE = join(repoRoot, 'native', 'postgres-emitter');
const HEADERS_ROOT = join(repoRoot, 'node_modules', '.cache', 'pg-server-headers');

const built = new Map<number, Promise<string>>();

export function buildNativeEmitter(version = 15): Promise<string> {
  let b = built.get(version);
  if (b === undefined) built.set(version, (b = version === 15 ? buildWithPgxs() : buildWithHeaders(version)));
  return b;
}

/** Server settings that let PostgreSQL load the emitter built in `dir`. */
export function nativeEmitterConfig(dir: string): Record<string, string> {
  return { dynamic_library_path: `$libdir:${dir}` };
}

/** The server include directory for a major other than 15, if its headers were fetched. */
function serverHeaders(version: number): string | null {
  const dir = join(HEADERS_ROOT, String(version), 'usr', 'include', 'postgresql', String(version), 'server');
  return existsSync(join(dir, 'postgres.h')) ? dir : null;
}

/** The majors the emitter can be built for here. */
export function nativeEmitterVersions(): number[] {
  const out: number[] = [];
  if (existsSync(PG_CONFIG) && existsSync('/usr/include/postgresql/15/server/postgres.h')) out.push(15);
  if (existsSync(HEADERS_ROOT)) {
    for (const name of readdirSync(HEADERS_ROOT)) {
      const v = Number.parseInt(name, 10);
      if (Number.isFinite(v) && v !== 15 && serverHeaders(v) !== null) out.push(v);
    }
  }
  return out.sort((a, b) => a - b);
}

function buildDir(): string {
  const dir = makeHarnessDir('native-emitter-');
  register({ killSync: () => undefined, dirs: [dir] });
  for (const f of readdirSync(SOURCE)) if (f.endsWith('.c') || f === 'Makefile') copyFileSync(join(SOURCE, f), join(dir, f));
  return dir;
}

async function runIn(dir: string, cmd: string, args: string[]): Promise<void> {
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, output: out }));
  });
  if (code !== 0) throw new Error(`building the native emitter failed (${cmd} exit ${code}):\n${output.slice(-2000)}`);
  // The server runs as an unprivileged account: it must be able to enter the directory and read the library.
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'dbwitness_emitter.so'), 0o755);
}

async function buildWithPgxs(): Promise<string> {
  if (!existsSync(PG_CONFIG) || !existsSync('/usr/include/postgresql/15/server/postgres.h')) {
    throw new Error('the native emitter needs PostgreSQL 15 server headers: apt-get install postgresql-server-dev-15 (test/install-servers.sh installs it)');
  }
  const dir = buildDir();
  await runIn(dir, 'make', [`PG_CONFIG=${PG_CONFIG}`, 'with_llvm=no']);
  return dir;
}

async function buildWithHeaders(version: number): Promise<string> {
  const include = serverHeaders(version);
  if (include === null) {
    throw new Error(`the native emitter needs PostgreSQL ${version} server headers in ${HEADERS_ROOT}/${version}: test/install-servers.sh fetches them from Debian`);
  }
  const dir = buildDir();
  // What PGXS would pass that matters here: position-independent, shared, warnings as errors so an API change shows.
  await runIn(dir, 'gcc', ['-O2', '-fPIC', '-shared', '-Wall', '-Werror', '-I', include, '-o', 'dbwitness_emitter.so', 'dbwitness_emitter.c']);
  return dir;
}
