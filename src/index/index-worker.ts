/**
 * Worker thread for `run`'s index catch-up. Indexing parses every new event
 * and writes SQLite synchronously (better-sqlite3): on the daemon's main
 * thread a catch-up of ten seconds of events stalled capture for about a
 * second each time (bench/postgres latency, per-slice p99). Here it runs on
 * another core and the capture path never waits for it.
 *
 * Protocol: the parent posts an IndexJob (index-job.ts); the worker
 * answers { ok: true, added, rebuilt } or { ok: false, code, message },
 * both with the worker's own V8 heap figures: the worker is a second heap
 * in the daemon's process, invisible to the main thread's heap metrics.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { runIndexJob, type IndexJob } from './index-job.js';

/** This worker's V8 heap, in bytes (v8.getHeapStatistics is per isolate). */
export interface WorkerHeap {
  readonly used: number;
  readonly total: number;
  readonly external: number;
}

export type IndexJobResult = ({ readonly ok: true; readonly added: number; readonly rebuilt: boolean } | { readonly ok: false; readonly code: string; readonly message: string }) & { readonly heap: WorkerHeap };

function heap(): WorkerHeap {
  const h = getHeapStatistics();
  return { used: h.used_heap_size, total: h.total_heap_size, external: h.external_memory };
}

const port = parentPort;
if (port !== null) {
  port.on('message', (job: IndexJob) => {
    runIndexJob(job).then(
      (r) => port.postMessage({ ok: true, added: r.added, rebuilt: r.rebuilt, heap: heap() } satisfies IndexJobResult),
      (e: unknown) => port.postMessage({ ok: false, code: (e as { code?: string }).code ?? 'error', message: e instanceof Error ? e.message : String(e), heap: heap() } satisfies IndexJobResult),
    );
  });
}
