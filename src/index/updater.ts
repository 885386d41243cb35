/**
 * Keeps the query index caught up while `run` writes the store: every
 * `intervalMs`, one `updateIndex` (never two at once). The index only ever
 * follows durable events (it reads them back from the store files), so it
 * can lag but never runs ahead of what the store holds.
 *
 * The catch-up runs in a worker thread (index-worker.ts) whenever the
 * compiled worker module exists, i.e. in the built CLI: parsing events and
 * synchronous SQLite writes would otherwise block capture on the main
 * thread for as long as each catch-up takes. Run from TypeScript sources
 * (tests), it runs in-process.
 *
 * @example
 * ```ts
 * const updater = startIndexUpdater(storeDir, { logger, encryptionKey });
 * // ... on shutdown:
 * await updater.stop();
 * ```
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../core/logger.js';
import type { IndexJobResult, WorkerHeap } from './index-worker.js';
import { runIndexJob, type IndexJob } from './index-job.js';

export interface IndexUpdater {
  /** Runs one catch-up now (waits for a running one first). */
  flush(): Promise<void>;
  stop(): Promise<void>;
  /** Whether catch-ups run in a worker thread. */
  readonly threaded: boolean;
  /** The worker's V8 heap after its latest catch-up (null in-process or before the first). */
  workerHeap(): WorkerHeap | null;
}

export interface IndexUpdaterOptions {
  readonly logger: Logger;
  readonly intervalMs?: number;
  readonly encryptionKey?: Buffer | undefined;
  readonly indexPath?: string | undefined;
  /** The worker module; default: the compiled index-worker.js next to this file, if present. */
  readonly workerUrl?: URL | null;
}

/**
 * SQLite page cache of the daemon's index connection. better-sqlite3 builds
 * SQLite with 16 MiB per connection, which a catch-up of a large
 * transaction fills and the worker then keeps for the daemon's lifetime; at
 * 4 MiB the catch-up of one 1,000,000-row transaction was as fast, and with
 * the deployed malloc settings the daemon's peak RSS for it fell from 70 to
 * 57 MiB above idle (bench/postgres/RESULTS.md, (d)).
 */
const DAEMON_INDEX_CACHE_KIB = 4000;

type Runner = { run(job: IndexJob): Promise<{ added: number; rebuilt: boolean }>; close(): Promise<void>; heap(): WorkerHeap | null };

export function startIndexUpdater(dir: string, opts: IndexUpdaterOptions): IndexUpdater {
  const log = opts.logger.child({ component: 'index' });
  const workerUrl = opts.workerUrl === undefined ? defaultWorkerUrl() : opts.workerUrl;
  const runner: Runner = workerUrl === null ? inProcess() : threaded(workerUrl);
  const job: IndexJob = { dir, indexPath: opts.indexPath, encryptionKey: opts.encryptionKey, cacheKiB: DAEMON_INDEX_CACHE_KIB };
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const once = (): Promise<void> => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        const r = await runner.run(job);
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
    threaded: workerUrl !== null,
    workerHeap: () => runner.heap(),
    flush: once,
    stop: async () => {
      clearInterval(timer);
      await running;
      stopped = true;
      await runner.close();
    },
  };
}

function defaultWorkerUrl(): URL | null {
  const url = new URL('./index-worker.js', import.meta.url);
  return existsSync(fileURLToPath(url)) ? url : null;
}

function inProcess(): Runner {
  return {
    run: runIndexJob,
    close: async () => undefined,
    heap: () => null,
  };
}

/** One long-lived worker, one job at a time (the updater never overlaps jobs); restarted after a crash. */
function threaded(url: URL): Runner {
  let worker: Worker | null = null;
  let pending: { resolve: (r: { added: number; rebuilt: boolean }) => void; reject: (e: Error) => void } | null = null;
  let lastHeap: WorkerHeap | null = null;
  const fail = (e: Error): void => {
    worker = null;
    pending?.reject(e);
    pending = null;
  };
  const start = (): Worker => {
    const w = new Worker(url);
    // Never keeps the daemon alive on its own; shutdown terminates it.
    w.unref();
    w.on('message', (r: IndexJobResult) => {
      lastHeap = r.heap;
      const p = pending;
      pending = null;
      if (p === null) return;
      if (r.ok) p.resolve({ added: r.added, rebuilt: r.rebuilt });
      else p.reject(Object.assign(new Error(r.message), { code: r.code }));
    });
    w.on('error', (e) => fail(e));
    w.on('exit', (code) => {
      if (worker === w) fail(new Error(`index worker exited with code ${code}`));
    });
    return w;
  };
  return {
    run: (job) =>
      new Promise((resolve, reject) => {
        worker ??= start();
        pending = { resolve, reject };
        worker.postMessage(job);
      }),
    heap: () => lastHeap,
    close: async () => {
      const w = worker;
      worker = null;
      if (w !== null) await w.terminate();
    },
  };
}
