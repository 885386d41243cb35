/**
 * Process-level registry of everything the harness starts (servers, CLI
 * daemons) and every temp dir it creates, so nothing outlives the test process
 * even when a test fails, times out or the worker is interrupted.
 *
 * Cleanup must be synchronous: the 'exit' event allows no async work, so each
 * entry provides a `killSync` (signal + spawnSync where a server needs it) and
 * the dirs are removed with rmSync.
 *
 * Every harness temp dir carries its owner's pid in its name
 * (`dbwitness-harness-<pid>-...`), so dirs handed to tests stay empty. A
 * worker killed with SIGKILL cannot run its handlers, so on load the registry
 * reaps dirs whose owner is gone (see reapOrphans).
 */
import { readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HARNESS_DIR_PREFIX = 'dbwitness-harness-';
const PIDS_FILE = 'server.pids';

/** Name prefix of this process's harness temp dirs. */
export function ownedDirPrefix(): string {
  return `${HARNESS_DIR_PREFIX}${process.pid}-`;
}

export interface CleanupEntry {
  /** Stops the process(es) immediately. Must not throw, must not be async. */
  killSync(): void;
  /** Directories removed after killSync. */
  readonly dirs: readonly string[];
}

const entries = new Set<CleanupEntry>();
let installed = false;

export function register(entry: CleanupEntry): () => void {
  install();
  entries.add(entry);
  return () => {
    entries.delete(entry);
  };
}

/** Runs every registered cleanup now (idempotent). */
export function cleanupAllSync(): void {
  for (const entry of [...entries]) {
    entries.delete(entry);
    try {
      entry.killSync();
    } catch {
      // Best effort: the process may already be gone.
    }
    for (const dir of entry.dirs) rmDirSync(dir);
  }
}

export function rmDirSync(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // A server that has not quite exited may still be writing; nothing more to do at exit.
  }
}

/** Records pids of server processes living in a harness dir, for the orphan reaper. */
export function recordServerPid(dir: string, pid: number): void {
  writeFileSync(join(dir, PIDS_FILE), `${pid}\n`, { flag: 'a' });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function killQuietly(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined || pid <= 0) return;
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: already gone.
  }
}

/**
 * Removes harness dirs left by test processes that died without cleaning up
 * (e.g. a worker killed with SIGKILL), killing the servers recorded in them.
 */
export function reapOrphans(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const match = /^dbwitness-harness-(\d+)-/.exec(name);
    if (match?.[1] === undefined) continue;
    const owner = Number.parseInt(match[1], 10);
    if (owner === process.pid || isAlive(owner)) continue;
    const dir = join(tmpdir(), name);
    const pidsFile = join(dir, PIDS_FILE);
    if (existsSync(pidsFile)) {
      for (const line of readFileSync(pidsFile, 'utf8').split('\n')) {
        const pid = Number.parseInt(line, 10);
        if (Number.isFinite(pid)) killQuietly(pid, 'SIGKILL');
      }
    }
    rmDirSync(dir);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  reapOrphans();
  process.on('exit', cleanupAllSync);
  // The monitor variant observes a crash without changing Node's default
  // behaviour (print and exit 1); 'exit' follows, cleanup is idempotent.
  process.on('uncaughtExceptionMonitor', cleanupAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      cleanupAllSync();
      process.removeListener(signal, onSignal);
      // Alone, re-raise with the default disposition so the exit status still
      // says "killed by signal" to whoever sent it (a shell, CI). When the
      // test runner listens too, its own handler decides how to exit.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
