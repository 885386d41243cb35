/**
 * The index worker runs below capture's CPU priority (Linux): a thread of
 * this process gains the nice increment once the worker starts.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { INDEX_NICE_INCREMENT } from '../../src/index/index-worker.js';
import { waitFor } from '../harness/index.js';

const WORKER = new URL('../../dist/src/index/index-worker.js', import.meta.url);

/** Nice value of each thread of this process (field 19 of /proc/self/task/TID/stat). */
async function threadNice(): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const tid of await readdir('/proc/self/task')) {
    try {
      const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the command name (in parentheses, which may hold spaces) start at field 3.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), Number(fields[19 - 3]));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

describe.skipIf(process.platform !== 'linux' || !existsSync(fileURLToPath(WORKER)))('index worker priority', () => {
  it('lowers its own thread by INDEX_NICE_INCREMENT and leaves the capture thread alone', async () => {
    const before = await threadNice();
    const ownNice = before.get(process.pid) ?? 0;
    const w = new Worker(WORKER);
    try {
      const lowered = await waitFor(
        async () => {
          for (const [tid, nice] of await threadNice()) if (!before.has(tid) && nice === Math.min(19, ownNice + INDEX_NICE_INCREMENT)) return tid;
          return null;
        },
        { what: `a worker thread at nice +${INDEX_NICE_INCREMENT}` },
      );
      expect(lowered).not.toBe(process.pid);
      expect((await threadNice()).get(process.pid)).toBe(ownNice);
    } finally {
      await w.terminate();
    }
  });
});
