/**
 * One retention run at a time per store. Two runs archiving or deleting the
 * same segments would race on the archive copy, the manifest and the
 * removals; each step is crash-safe on its own, but not against a second
 * process doing the same steps at the same moment. `dbwitness run` does not
 * take this lock: retention only touches sealed segments, which the daemon
 * never writes again.
 */
import { join } from 'node:path';
import { usageError } from '../core/errors.js';
import { takePidLock, type ChainLock } from '../store/chain-lock.js';

export const RETENTION_LOCK_FILE = 'RETENTION.LOCK';

export async function lockRetention(storeDir: string): Promise<ChainLock> {
  const path = join(storeDir, RETENTION_LOCK_FILE);
  return takePidLock(
    path,
    (pid) => usageError('E_RETENTION_BUSY', `another retention run (process ${pid}) is archiving or deleting in ${storeDir}`, `wait for it to finish and run again; if no such process runs, remove ${path}`),
    () => usageError('E_RETENTION_BUSY', `could not take the retention lock ${path}`, 'make sure only one `dbwitness retention` with --archive or --delete runs at a time'),
  );
}
