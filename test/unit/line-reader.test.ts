import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLineBatches } from '../../src/store/line-reader.js';

async function withFile(content: Buffer, body: (file: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dbw-lines-'));
  try {
    const file = join(dir, 'seg.jsonl');
    await writeFile(file, content);
    await body(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The lines as the reader hands them over, copied before the next batch is asked for (the reader reuses its buffers). */
async function collect(file: string, chunkBytes: number, onBytes?: (b: Buffer) => void): Promise<Array<{ text: string; offset: number; complete: boolean }>> {
  const out: Array<{ text: string; offset: number; complete: boolean }> = [];
  for await (const batch of readLineBatches(file, onBytes, chunkBytes)) for (const l of batch) out.push({ text: l.bytes.toString('latin1'), offset: l.offset, complete: l.complete });
  return out;
}

describe('readLineBatches', () => {
  it('returns every line with its offset across chunk boundaries, lines longer than a chunk, and a torn tail', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 300; i++) lines.push(`${i}:` + 'x'.repeat((i * 37) % 211));
    const content = Buffer.from(lines.join('\n') + '\npartial-without-newline', 'latin1');
    await withFile(content, async (file) => {
      for (const chunk of [16, 64, 100, 4096, 1 << 20]) {
        const seen: Buffer[] = [];
        const got = await collect(file, chunk, (b) => seen.push(Buffer.from(b)));
        expect(got.slice(0, -1).map((l) => l.text), `chunk ${chunk}`).toEqual(lines);
        let offset = 0;
        for (const [i, l] of got.slice(0, -1).entries()) {
          expect(l.offset, `line ${i}, chunk ${chunk}`).toBe(offset);
          offset += Buffer.byteLength(lines[i]!, 'latin1') + 1;
        }
        expect(got.at(-1)).toEqual({ text: 'partial-without-newline', offset, complete: false });
        // onBytes sees the file's bytes exactly once, in order (the seal digest relies on it).
        expect(Buffer.concat(seen).equals(content), `chunk ${chunk}`).toBe(true);
      }
    });
  });

  it('closes the file cleanly when the caller stops early with a read still in flight', async () => {
    const content = Buffer.from(Array.from({ length: 2000 }, (_, i) => `line ${i}`).join('\n') + '\n');
    await withFile(content, async (file) => {
      let batches = 0;
      for await (const batch of readLineBatches(file, undefined, 256)) {
        expect(batch.length).toBeGreaterThan(0);
        if (++batches === 3) break;
      }
      // Reading again works: no handle or read was left behind.
      expect((await collect(file, 256)).length).toBe(2000);
    });
  });
});
