/**
 * One index catch-up as `run` asks for it, the same in the worker thread and
 * in-process: the message it travels in and how it is carried out.
 */
import { updateIndex } from './update.js';

export interface IndexJob {
  readonly dir: string;
  readonly indexPath: string | undefined;
  /** Structured clone turns a Buffer into a Uint8Array on its way to the worker. */
  readonly encryptionKey: Uint8Array | undefined;
  readonly cacheKiB: number | undefined;
}

export function runIndexJob(job: IndexJob): Promise<{ added: number; rebuilt: boolean }> {
  return updateIndex(job.dir, { indexPath: job.indexPath, cacheKiB: job.cacheKiB, encryptionKey: job.encryptionKey === undefined ? undefined : Buffer.from(job.encryptionKey) });
}
