/**
 * One writer per chain across processes. Two daemons appending to the same
 * segment would interleave lines and fork the chain, so `openChain` takes
 * `<chain>/LOCK` (O_EXCL, holding the pid). A lock whose process is gone
 * (kill -9, power loss) is stale and taken over. A lock held by this very
 * process is also taken over: in-process restarts (tests that simulate a
 * crash by abandoning a store) must not lock themselves out; within one
 * process the FileStore refuses a second open of the same chain.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { usageError } from '../core/errors.js';
import { FILE_MODE } from './layout.js';

export const LOCK_FILE = 'LOCK';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface ChainLock {
  release(): Promise<void>;
}

export async function lockChain(chainDir: string, sourceId: string): Promise<ChainLock> {
  const path = join(chainDir, LOCK_FILE);
  return takePidLock(
    path,
    (pid) => usageError('E_STORE_LOCKED', `the chain of source ${sourceId} is being written by process ${pid}`, `stop that process first (one dbwitness writer per store and source); if no such dbwitness runs, remove ${path}`),
    () => usageError('E_STORE_LOCKED', `could not take the lock ${path}`, 'make sure only one dbwitness writes this store'),
  );
}

/**
 * Creates `path` exclusively, holding this process's pid. A lock whose
 * process is gone is stale and taken over; one held by a live process gives
 * `busy(pid)`.
 */
export async function takePidLock(path: string, busy: (pid: number) => Error, stuck: () => Error): Promise<ChainLock> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', FILE_MODE);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return {
        release: async () => {
          await unlink(path).catch(() => undefined);
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw busy(pid);
    await unlink(path).catch(() => undefined); // stale: its holder is gone
  }
  throw stuck();
}
