/**
 * Keeps the query index caught up while `run` writes the store: every
 * `intervalMs`, one `updateIndex` (never two at once). The index only ever
 * follows durable events (it reads them back from the store files), so it
 * can lag but never runs ahead of what the store holds.
 *
 * @example
 * ```ts
 * const updater = startIndexUpdater(storeDir, { logger, encryptionKey });
 * // ... on shutdown:
 * await updater.stop();
 * ```
 */
import type { Logger } from '../core/logger.js';
import { updateIndex } from './update.js';

export interface IndexUpdater {
  /** Runs one catch-up now (waits for a running one first). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export function startIndexUpdater(dir: string, opts: { logger: Logger; intervalMs?: number; encryptionKey?: Buffer | undefined; indexPath?: string | undefined }): IndexUpdater {
  const log = opts.logger.child({ component: 'index' });
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const once = (): Promise<void> => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        const r = await updateIndex(dir, { indexPath: opts.indexPath, encryptionKey: opts.encryptionKey });
        if (r.added > 0 || r.rebuilt) log.debug({ added: r.added, rebuilt: r.rebuilt }, 'index caught up');
      } catch (e) {
        // The index is derived data: a failed catch-up is retried next time and never stops auditing.
        log.warn({ code: (e as { code?: string }).code ?? 'error', err: (e as Error).message }, 'index catch-up failed');
      }
    });
    return running;
  };
  const timer = setInterval(() => void once(), opts.intervalMs ?? 10_000);
  timer.unref();
  return {
    flush: once,
    stop: async () => {
      clearInterval(timer);
      await running;
      stopped = true;
    },
  };
}
