/**
 * The transaction buffer's spill: a transaction past the memory limit goes
 * to disk and comes back in arrival order, and in small chunks. Every
 * change of a chunk is alive until the pipeline has stored the chunk, so
 * the chunk size is what bounds memory on the way out (4 MiB reads took a
 * 1,000,000-row transaction to 88 MiB over idle: bench/postgres, (d)).
 */
import { describe, expect, it } from 'vitest';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowChange } from '../../src/core/ports.js';
import { TxBuffer } from '../../src/pipeline/tx-buffer.js';

function change(i: number, note = `patient ${i}`): RowChange {
  return { action: 'insert', schema: 'clinic', table: 'patients', key: { id: String(i) }, before: null, after: { id: String(i), name: note }, columns: ['id', 'name'], statement: null, detail: null };
}

describe('TxBuffer spill', () => {
  it('reads a spilled transaction back in order, in chunks of a few hundred kilobytes at most', async () => {
    const spillDir = await mkdtemp(join(tmpdir(), 'dbw-txbuf-'));
    const tx = new TxBuffer('7', { memoryLimit: 100, spillDir });
    const n = 30_000; // about 4 MB of spill lines: one 4 MiB read would hold nearly all of them
    for (let i = 0; i < n; i++) await tx.add(change(i));
    expect(tx.inMemory()).toBeNull();
    const sizes: number[] = [];
    let next = 0;
    for await (const chunk of tx.chunks()) {
      sizes.push(chunk.length);
      for (const entry of chunk) expect(entry.change.key).toEqual({ id: String(next++) });
    }
    expect(next).toBe(n);
    // 128 KiB reads of ~130-byte lines: about a thousand changes each.
    expect(Math.max(...sizes.slice(1))).toBeLessThan(2_000);
    await tx.dispose();
    expect(await readdir(spillDir)).toEqual([]);
  });

  it('spills wide rows by their weight, long before the count limit', async () => {
    const spillDir = await mkdtemp(join(tmpdir(), 'dbw-txbuf-'));
    const tx = new TxBuffer('8', { memoryLimit: 5000, memoryWeight: 1024 * 1024, spillDir });
    const note = 'n'.repeat(100_000); // a 100 KB clinical note: 5,000 of them would be 500 MB
    await tx.add(change(0, note));
    expect(tx.inMemory()).not.toBeNull();
    for (let i = 1; i < 50; i++) await tx.add(change(i, note));
    expect(tx.inMemory()).toBeNull(); // spilled after about 1 MiB, not after 5,000 rows
    let inMemory = 0;
    let next = 0;
    for await (const chunk of tx.chunks()) {
      if (next === 0) inMemory = chunk.length;
      for (const entry of chunk) {
        expect(entry.change.key).toEqual({ id: String(next++) });
        expect(entry.weight).toBeGreaterThan(100_000);
      }
    }
    expect(next).toBe(50);
    expect(inMemory).toBeLessThanOrEqual(11);
    await tx.dispose();
  });
});
