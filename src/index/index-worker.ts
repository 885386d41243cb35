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
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { runIndexJob, type IndexJob } from './index-job.js';

/** How much lower than capture the index runs (nice increment, Linux). */
export const INDEX_NICE_INCREMENT = 10;

/**
 * Capture before indexing. The index is derived data that reports catch up
 * themselves, while capture is what the audit trail and the source's
 * retained WAL or binlog wait for; indexing costs more CPU per event than
 * storing it (bench/reports). So this thread lowers its own CPU priority:
 * on Linux setpriority with a thread id (named by /proc/thread-self)
 * applies to that one thread. On a busy machine the index then falls
 * behind instead of slowing capture, and catches up when load drops.
 * Raising one's own nice value needs no privilege; where it fails the index
 * merely competes for CPU as before.
 */
function lowerOwnPriority(): void {
  if (process.platform !== 'linux') return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isSafeInteger(tid) && tid > 0) setPriority(tid, Math.min(19, getPriority(tid) + INDEX_NICE_INCREMENT));
  } catch {
    // No /proc, or not permitted: nothing to do.
  }
}

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
  lowerOwnPriority();
  port.on('message', (job: IndexJob) => {
    runIndexJob(job).then(
      (r) => port.postMessage({ ok: true, added: r.added, rebuilt: r.rebuilt, heap: heap() } satisfies IndexJobResult),
      (e: unknown) => port.postMessage({ ok: false, code: (e as { code?: string }).code ?? 'error', message: e instanceof Error ? e.message : String(e), heap: heap() } satisfies IndexJobResult),
    );
  });
}
