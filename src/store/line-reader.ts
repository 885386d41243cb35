/**
 * Splits a segment file into lines without copying: each chunk read from the
 * file is cut at newlines and handed over as `Buffer` views with their byte
 * offsets, so verify can hash the stored bytes directly.
 */
import { open } from 'node:fs/promises';

export interface RawLine {
  /** The line's bytes without the newline (a view: copy it to keep it past the next batch). */
  readonly bytes: Buffer;
  /** Byte offset of the line's first byte in the file. */
  readonly offset: number;
  /** False for trailing bytes with no newline: a torn write. */
  readonly complete: boolean;
}

/** Default read size: large reads keep verify's per-call overhead negligible. */
const CHUNK = 4 * 1024 * 1024;

/**
 * Yields the file's lines in batches (one batch per chunk read). A batch's
 * buffers are only valid until the next batch is requested. `chunkBytes`
 * bounds how much one batch holds: a reader that keeps every parsed line of
 * a batch alive (the index) passes a smaller size.
 */
export async function* readLineBatches(file: string, onBytes?: (chunk: Buffer) => void, chunkBytes: number = CHUNK): AsyncGenerator<RawLine[]> {
  const fh = await open(file, 'r');
  // Two chunk buffers, used in turn: the next chunk is read into one while
  // the caller works on the other's lines, so hashing and disk reads overlap
  // instead of taking turns. A buffer is refilled only after the caller has
  // asked for the batch after its lines, which is when they stop being valid.
  const chunks = [Buffer.allocUnsafe(chunkBytes), Buffer.allocUnsafe(chunkBytes)] as const;
  let turn = 0;
  const read = (at: number) => {
    const p = fh.read(chunks[turn++ % 2]!, 0, chunkBytes, at);
    // A read-ahead that fails while the caller is busy must not surface as an
    // unhandled rejection: it is rethrown when that chunk is awaited.
    p.catch(() => undefined);
    return p;
  };
  let pending: ReturnType<typeof read> | null = read(0);
  try {
    let carry: Buffer = Buffer.alloc(0);
    let carryOffset = 0;
    let position = 0;
    for (;;) {
      const { bytesRead, buffer: chunk } = await pending;
      pending = null;
      if (bytesRead === 0) break;
      const data = chunk.subarray(0, bytesRead);
      onBytes?.(data);
      position += bytesRead;
      pending = read(position);
      const buf = carry.length === 0 ? data : Buffer.concat([carry, data]);
      const base = carry.length === 0 ? position - bytesRead : carryOffset;
      const batch: RawLine[] = [];
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, start);
        if (nl < 0) break;
        batch.push({ bytes: buf.subarray(start, nl), offset: base + start, complete: true });
        start = nl + 1;
      }
      // Copy the remainder: its chunk buffer is refilled two reads from now.
      carry = Buffer.from(buf.subarray(start));
      carryOffset = base + start;
      if (batch.length > 0) yield batch;
    }
    if (carry.length > 0) yield [{ bytes: carry, offset: carryOffset, complete: false }];
  } finally {
    // A caller that stops early leaves a read in flight: let it finish before the close.
    if (pending !== null) await pending.catch(() => undefined);
    await fh.close();
  }
}
