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
  try {
    let carry: Buffer = Buffer.alloc(0);
    let carryOffset = 0;
    let position = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(chunkBytes);
      const { bytesRead } = await fh.read(chunk, 0, chunkBytes, position);
      if (bytesRead === 0) break;
      const data = chunk.subarray(0, bytesRead);
      onBytes?.(data);
      position += bytesRead;
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
      // Copy the remainder: `chunk` is not reused, but a small copy keeps
      // the large chunk collectable once its lines are consumed.
      carry = Buffer.from(buf.subarray(start));
      carryOffset = base + start;
      if (batch.length > 0) yield batch;
    }
    if (carry.length > 0) yield [{ bytes: carry, offset: carryOffset, complete: false }];
  } finally {
    await fh.close();
  }
}
