import { chownSync, mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ownedDirPrefix, register } from './registry.js';

export interface RunAs {
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
}

/**
 * Creates an empty temp dir (`/tmp/dbwitness-harness-<pid>-<prefix>XXXXXX`),
 * removed at process exit.
 */
export async function tempDir(prefix = 'tmp-'): Promise<string> {
  const dir = makeHarnessDir(prefix);
  register({ killSync: () => undefined, dirs: [dir] });
  return dir;
}

/** A harness temp dir not yet registered for removal (servers register it with their own cleanup). */
export function makeHarnessDir(prefix: string, owner?: RunAs): string {
  const dir = mkdtempSync(join(tmpdir(), `${ownedDirPrefix()}${prefix}`));
  if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
  return dir;
}

export function makeSubdir(parent: string, name: string, owner?: RunAs): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
  return dir;
}

/**
 * The unprivileged account to run a server as when the tests run as root
 * (PostgreSQL refuses to start as root; MariaDB wants --user). Returns
 * undefined when already unprivileged: the server then runs as ourselves.
 */
export function unprivilegedUser(candidates: readonly string[]): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of [...candidates, 'nobody']) {
    const ids = lookupUser(user);
    if (ids !== undefined) return ids;
  }
  throw new Error(`running as root but none of the users ${[...candidates, 'nobody'].join(', ')} exists; create one (useradd --system postgres) or run the tests as an unprivileged user`);
}

function lookupUser(user: string): RunAs | undefined {
  try {
    const uid = Number.parseInt(execFileSync('id', ['-u', user], { encoding: 'utf8' }), 10);
    const gid = Number.parseInt(execFileSync('id', ['-g', user], { encoding: 'utf8' }), 10);
    return Number.isFinite(uid) && Number.isFinite(gid) ? { user, uid, gid } : undefined;
  } catch {
    return undefined;
  }
}
