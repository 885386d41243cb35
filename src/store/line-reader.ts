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
  // Two buffers, used in turn: the next chunk is read into one while the
  // caller works on the other's lines, so hashing and disk reads overlap
  // instead of taking turns. A buffer is refilled only after the caller has
  // asked for the batch after its lines, which is when they stop being valid.
  // The partial line at a chunk's end is moved to the front of the other
  // buffer and the read lands after it, so no chunk is copied whole (a
  // Buffer.concat per chunk was a tenth of verify's time, with the garbage
  // of a new 4 MiB buffer each time).
  const bufs: Buffer[] = [Buffer.allocUnsafe(chunkBytes), Buffer.allocUnsafe(chunkBytes)];
  let turn = 0;
  let position = 0;
  const read = (into: Buffer, at: number) => {
    const p = fh.read(into, at, into.length - at, position);
    // A read-ahead that fails while the caller is busy must not surface as an
    // unhandled rejection: it is rethrown when that chunk is awaited.
    p.catch(() => undefined);
    return p;
  };
  let pending: ReturnType<typeof read> | null = read(bufs[0]!, 0);
  /** Bytes at the front of the buffer being read into, carried from the chunk before. */
  let carried = 0;
  /** File offset of the buffer's first byte. */
  let base = 0;
  try {
    for (;;) {
      const { bytesRead } = await pending;
      pending = null;
      const buf = bufs[turn % 2]!;
      if (bytesRead === 0) break;
      onBytes?.(buf.subarray(carried, carried + bytesRead));
      position += bytesRead;
      const end = carried + bytesRead;
      const cut = buf.lastIndexOf(0x0a, end - 1) + 1; // 0 when no line ends in this buffer
      const rest = end - cut;
      turn++;
      let next = bufs[turn % 2]!;
      // A line longer than the buffer: grow it (nothing refers to it, as no line of it was handed out).
      if (rest > next.length / 2) next = bufs[turn % 2] = Buffer.allocUnsafe(Math.max(next.length * 2, rest * 2));
      buf.copy(next, 0, cut, end);
      pending = read(next, rest);
      const batch: RawLine[] = [];
      let start = 0;
      while (start < cut) {
        const nl = buf.indexOf(0x0a, start);
        batch.push({ bytes: buf.subarray(start, nl), offset: base + start, complete: true });
        start = nl + 1;
      }
      base += cut;
      carried = rest;
      if (batch.length > 0) yield batch;
    }
    if (carried > 0) yield [{ bytes: Buffer.from(bufs[turn % 2]!.subarray(0, carried)), offset: base, complete: false }];
  } finally {
    // A caller that stops early leaves a read in flight: let it finish before the close.
    if (pending !== null) await pending.catch(() => undefined);
    await fh.close();
  }
}
