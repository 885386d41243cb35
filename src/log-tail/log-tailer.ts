/**
 * Follows a log across rotation and truncation, yielding complete records
 * with the cursor just after each one.
 *
 * Guarantees (the reason this file exists):
 * - A record is yielded once per cursor lineage: resuming from a record's
 *   cursor continues with the next record, whatever happened to the files
 *   meanwhile (rename rotation, new files, copytruncate).
 * - Nothing is skipped silently: when bytes are unrecoverable (a file
 *   deleted before it was read, a truncation whose copy cannot be found) a
 *   `gap` item says so.
 * - Memory is bounded by `chunkBytes + maxRecordBytes`.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { headOf, listLogFiles, listSiblings, readHead, type LogFile, type LogFileSpec } from './log-file-set.js';
import { HEAD_BYTES, type LogCursor } from './log-cursor.js';
import { frameRecords, type Framing } from './record-framing.js';
import { sleep } from '../core/sleep.js';

export interface TailOptions {
  readonly spec: LogFileSpec;
  readonly framing: Framing;
  /** How often to look for new bytes and new files at the end of the log (ms). */
  readonly pollMs?: number;
  readonly chunkBytes?: number;
  /** Longer records are dropped (reported as `oversized`), never buffered whole. */
  readonly maxRecordBytes?: number;
}

export type TailItem =
  | { readonly kind: 'record'; readonly bytes: Buffer; readonly fileName: string; readonly fileId: string; readonly offset: number; readonly cursor: LogCursor }
  | { readonly kind: 'oversized' | 'partial'; readonly fileName: string; readonly fileId: string; readonly offset: number; readonly cursor: LogCursor }
  | { readonly kind: 'caught-up'; readonly cursor: LogCursor | null }
  | { readonly kind: 'gap'; readonly code: string; readonly message: string; readonly fileName: string; readonly offset: number };

interface Open {
  fh: FileHandle;
  path: string;
  name: string;
  dev: number;
  ino: number;
  head: string;
  gen: number;
  /** Offset just after the last consumed record. */
  pos: number;
  /** Bytes read after `pos` that do not yet form a complete record. */
  buf: Buffer;
  /** Discarding an oversized record up to its newline. */
  skipping: boolean;
  readonly framing: Framing;
}

export async function* tailLog(o: TailOptions, from: LogCursor | null, signal: AbortSignal): AsyncGenerator<TailItem> {
  const pollMs = o.pollMs ?? 250;
  const scratch = Buffer.alloc(o.chunkBytes ?? 256 * 1024);
  const maxRecord = o.maxRecordBytes ?? 16 * 1024 * 1024;
  /** Where this run left files it finished, so a touched old file is not re-read. */
  const finished = new Map<string, Finished>();
  let cur: Open | null = null;
  let caughtUpSent = false;
  try {
    const start = await locate(o.spec, o.framing, from);
    for (const item of start.items) yield item;
    if (start.file !== null) {
      cur = await openOrNull(start.file, o.framing, start.name, start.head, start.gen, start.offset);
      if (cur === null) yield vanished(start.file.name, start.offset);
    }
    while (!signal.aborted) {
      if (cur === null) {
        const files = await listLogFiles(o.spec);
        const first = files[0];
        if (first !== undefined) {
          cur = await openOrNull(first, o.framing, first.name, '', 0, 0);
          if (cur === null) yield vanished(first.name, 0);
          continue;
        }
        if (!caughtUpSent) yield { kind: 'caught-up', cursor: null };
        caughtUpSent = true;
        await sleep(pollMs, signal);
        continue;
      }
      const items = await readChunk(cur, scratch, maxRecord);
      if (items !== null) {
        caughtUpSent = false;
        for (const item of items) {
          yield item;
          // Stop promptly once the consumer aborts: the rest is read again on the next start.
          if (signal.aborted) return;
        }
        continue;
      }
      // End of the current file: truncated under us, rotated away, or just idle.
      if (await truncated(cur)) {
        for await (const item of recoverTruncated(o.spec, cur)) yield item;
        cur.pos = 0;
        cur.buf = Buffer.alloc(0);
        cur.skipping = false;
        cur.gen++;
        cur.head = '';
        continue;
      }
      const next = await successor(o.spec, cur, finished);
      if (next !== null) {
        // The writer may have finished the last line just before rotating: read once more.
        yield* drain(cur, scratch, maxRecord);
        if (cur.buf.length > 0 || cur.skipping) {
          const at = cur.pos;
          cur.pos += cur.buf.length;
          cur.buf = Buffer.alloc(0);
          cur.skipping = false;
          yield { kind: 'partial', fileName: cur.name, fileId: fileId(cur), offset: at, cursor: cursorOf(cur) };
        }
        const opened = await openOrNull(next.file, o.framing, next.file.name, '', 0, next.offset);
        if (opened === null) {
          // Rotation deleted it before we got to it (too few rotated files kept): its records are
          // lost. Stay on the current file; the next listing no longer shows the vanished one.
          yield vanished(next.file.name, next.offset);
          continue;
        }
        finished.set(keyOf(cur), { offset: cur.pos, head: cur.head });
        await cur.fh.close();
        cur = opened;
        continue;
      }
      if (!caughtUpSent) yield { kind: 'caught-up', cursor: cur.head === '' && cur.pos === 0 ? null : cursorOf(cur) };
      caughtUpSent = true;
      await sleep(pollMs, signal);
    }
  } finally {
    await cur?.fh.close().catch(() => undefined);
  }
}

/** Reads from `pos` to the current end of the file, yielding complete records. */
async function* drain(cur: Open, scratch: Buffer, maxRecord: number): AsyncGenerator<TailItem> {
  for (;;) {
    const items = await readChunk(cur, scratch, maxRecord);
    if (items === null) return;
    yield* items;
  }
}

/**
 * One read: the complete records it finishes (null at the end of the file).
 * Returning a chunk's records as an array, not one generator step each,
 * keeps the per-record cost to the parsing itself.
 */
async function readChunk(cur: Open, scratch: Buffer, maxRecord: number): Promise<TailItem[] | null> {
  const { bytesRead } = await cur.fh.read(scratch, 0, scratch.length, cur.pos + cur.buf.length);
  if (bytesRead === 0) return null;
  let data = cur.buf.length === 0 ? Buffer.from(scratch.subarray(0, bytesRead)) : Buffer.concat([cur.buf, scratch.subarray(0, bytesRead)]);
  const items: TailItem[] = [];
  if (cur.skipping) {
    const nl = data.indexOf(0x0a);
    if (nl < 0) {
      cur.pos += data.length;
      cur.buf = Buffer.alloc(0);
      return items;
    }
    cur.pos += nl + 1;
    data = data.subarray(nl + 1);
    cur.skipping = false;
  }
  if (cur.head === '') cur.head = await headFromHandle(cur.fh);
  const framed = frameRecords(data, cur.framing);
  const id = fileId(cur);
  for (const [s, e] of framed.records) {
    const offset = cur.pos + s;
    const after: LogCursor = { dev: cur.dev, ino: cur.ino, name: cur.name, head: cur.head, gen: cur.gen, offset: cur.pos + e };
    // Same limit whether the record arrived in one read or several.
    if (e - s > maxRecord) items.push({ kind: 'oversized', fileName: cur.name, fileId: id, offset, cursor: after });
    else items.push({ kind: 'record', bytes: data.subarray(s, e), fileName: cur.name, fileId: id, offset, cursor: after });
  }
  cur.pos += framed.consumed;
  cur.buf = framed.consumed === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(framed.consumed));
  if (cur.buf.length > maxRecord) {
    const at = cur.pos;
    cur.pos += cur.buf.length;
    cur.buf = Buffer.alloc(0);
    cur.skipping = true;
    items.push({ kind: 'oversized', fileName: cur.name, fileId: id, offset: at, cursor: cursorOf(cur) });
  }
  return items;
}

export function cursorOf(cur: Pick<Open, 'dev' | 'ino' | 'name' | 'head' | 'gen' | 'pos'>): LogCursor {
  return { dev: cur.dev, ino: cur.ino, name: cur.name, head: cur.head, gen: cur.gen, offset: cur.pos };
}

function fileId(cur: Open): string {
  return `${cur.dev}:${cur.ino}:${cur.head}`;
}

function keyOf(f: { dev: number; ino: number }): string {
  return `${f.dev}:${f.ino}`;
}

async function openAt(file: LogFile, framing: Framing, name: string, head: string, gen: number, offset: number): Promise<Open> {
  const fh = await open(file.path, 'r');
  const st = await fh.stat();
  return { fh, path: file.path, name, dev: Number(st.dev), ino: Number(st.ino), head, gen, pos: offset, buf: Buffer.alloc(0), skipping: false, framing };
}

async function openOrNull(file: LogFile, framing: Framing, name: string, head: string, gen: number, offset: number): Promise<Open | null> {
  try {
    return await openAt(file, framing, name, head, gen, offset);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function vanished(name: string, offset: number): TailItem {
  return { kind: 'gap', code: 'log_file_missing', fileName: name, offset, message: `log file ${name} disappeared before it was read past offset ${offset}; keep more rotated files (server_audit_file_rotations, log retention)` };
}

/** The file comes back shorter than what we consumed, or starts with another first line. */
async function truncated(cur: Open): Promise<boolean> {
  const st = await cur.fh.stat();
  if (st.size < cur.pos) return true;
  if (cur.head === '' || cur.pos === 0) return false;
  return (await headFromHandle(cur.fh)) !== cur.head;
}

/**
 * copytruncate copies the file, then truncates it: records written between
 * our last read and the truncation survive only in the copy, which starts
 * with the same first line. Read them from there.
 */
async function* recoverTruncated(spec: LogFileSpec, cur: Open): AsyncGenerator<TailItem> {
  const lost = { kind: 'gap' as const, code: 'log_truncated', fileName: cur.name, offset: cur.pos };
  if (cur.head === '') return;
  for (const f of await listSiblings(spec)) {
    if (f.ino === cur.ino && f.dev === cur.dev) continue;
    if (f.size < cur.pos) continue;
    if ((await readHead(f.path)) !== cur.head) continue;
    if (f.size === cur.pos) return;
    const copy = await openAt(f, cur.framing, cur.name, cur.head, cur.gen, cur.pos);
    try {
      // Ids keep the original file's identity: these are its records.
      copy.dev = cur.dev;
      copy.ino = cur.ino;
      yield* drain(copy, Buffer.alloc(256 * 1024), Number.MAX_SAFE_INTEGER);
    } finally {
      await copy.fh.close();
    }
    return;
  }
  yield { ...lost, message: `log file ${cur.name} was truncated after offset ${cur.pos} was read and no copy with the unread records was found next to it` };
}

interface Finished {
  readonly offset: number;
  readonly head: string;
}

async function successor(spec: LogFileSpec, cur: Open, finished: Map<string, Finished>): Promise<{ file: LogFile; offset: number } | null> {
  const files = await listLogFiles(spec);
  const idx = files.findIndex((f) => f.dev === cur.dev && f.ino === cur.ino);
  let candidates: LogFile[];
  if (idx >= 0) candidates = files.slice(idx + 1);
  else {
    // Our file left the set (deleted or renamed out of it): continue with files newer than it.
    const mtime = (await cur.fh.stat({ bigint: true })).mtimeNs;
    candidates = files.filter((f) => f.mtimeNs > mtime);
  }
  for (const f of candidates) {
    const done = finished.get(keyOf(f));
    // log_truncate_on_rotation with recycled names (postgresql-Mon.log) rewrites a
    // finished file under the same inode: a new first line means new content from 0.
    if (done !== undefined && (await readHead(f.path)) !== done.head) {
      finished.delete(keyOf(f));
      return { file: f, offset: 0 };
    }
    if (done !== undefined && done.offset >= f.size) continue;
    return { file: f, offset: done?.offset ?? 0 };
  }
  return null;
}

interface Located {
  readonly items: TailItem[];
  readonly file: LogFile | null;
  readonly name: string;
  readonly head: string;
  readonly gen: number;
  readonly offset: number;
}

/** Where to resume from a checkpoint (see LogCursor for why inode + first line). */
async function locate(spec: LogFileSpec, framing: Framing, from: LogCursor | null): Promise<Located> {
  const files = await listLogFiles(spec);
  if (from === null) {
    const first = files[0];
    return { items: [], file: first ?? null, name: first?.name ?? '', head: '', gen: 0, offset: 0 };
  }
  const heads = new Map<string, string>();
  const headOfFile = async (f: LogFile): Promise<string> => {
    const k = f.path;
    if (!heads.has(k)) heads.set(k, await readHead(f.path));
    return heads.get(k)!;
  };
  const same = files.find((f) => f.dev === from.dev && f.ino === from.ino);
  if (same !== undefined && (await headOfFile(same)) === from.head && same.size >= from.offset) {
    return { items: [], file: same, name: from.name, head: from.head, gen: from.gen, offset: from.offset };
  }
  // Truncated (copytruncate) or replaced while we were stopped: finish from a copy if one exists.
  const items: TailItem[] = [];
  let copyFound = false;
  for (const f of await listSiblings(spec)) {
    if (f.size < from.offset || (f.dev === from.dev && f.ino === from.ino)) continue;
    if ((await readHead(f.path)) !== from.head) continue;
    copyFound = true;
    const copy = await openAt(f, framing, from.name, from.head, from.gen, from.offset);
    copy.dev = from.dev;
    copy.ino = from.ino;
    try {
      for await (const item of drain(copy, Buffer.alloc(256 * 1024), Number.MAX_SAFE_INTEGER)) items.push(item);
    } finally {
      await copy.fh.close();
    }
    break;
  }
  if (same !== undefined) {
    if (!copyFound) items.push({ kind: 'gap', code: 'log_truncated', fileName: from.name, offset: from.offset, message: `log file ${from.name} was truncated or rewritten while the source was stopped; records after offset ${from.offset} were not found in any copy` });
    return { items, file: same, name: same.name, head: '', gen: from.gen + 1, offset: 0 };
  }
  if (!copyFound) {
    items.push({ kind: 'gap', code: 'log_file_missing', fileName: from.name, offset: from.offset, message: `log file ${from.name} (checkpointed at offset ${from.offset}) no longer exists; reading resumes with the oldest log file present` });
  }
  const first = files[0];
  return { items, file: first ?? null, name: first?.name ?? '', head: '', gen: 0, offset: 0 };
}

async function headFromHandle(fh: FileHandle): Promise<string> {
  const buf = Buffer.alloc(HEAD_BYTES);
  const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
  return headOf(buf.subarray(0, bytesRead), bytesRead < HEAD_BYTES);
}

