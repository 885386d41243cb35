/**
 * Read-only access to a store's events for other tools (query, index,
 * reports). Stable API: readEvents and listSources.
 *
 * The reader trusts the files; `dbwitness verify` is what checks them.
 * A torn last line of the newest segment (a crash mid-write that the writer
 * has not repaired yet) is skipped, as the writer would truncate it.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditEvent } from '../core/event.js';
import { DbwitnessError, usageError } from '../core/errors.js';
import { SOURCE_ID } from '../core/source-config.js';
import { listSegments, segmentFileName } from './layout.js';
import { readLineBatches } from './line-reader.js';
import { parsePlainLine, plainLine } from './records.js';
import { assertEncryptionKey } from './encryption.js';

export interface ReadEventsOptions {
  /** 32-byte AES-256-GCM key, required when the store is encrypted. */
  readonly encryptionKey?: Buffer;
  /** Only these source ids (default: every source, in listSources order). */
  readonly sources?: readonly string[];
}

export interface StoredEventRef {
  readonly event: AuditEvent;
  readonly sourceId: string;
  /** Absolute path of the segment file. */
  readonly file: string;
  /** Byte offset of the event's line in the file. */
  readonly offset: number;
}

/** Source ids (chain directories) of the store at `dir`, sorted. */
export async function listSources(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw usageError('E_STORE_MISSING', `cannot read the store directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, 'pass the directory given to `dbwitness run --store`');
  }
  const out: string[] = [];
  for (const name of names) {
    if (!SOURCE_ID.test(name)) continue;
    const st = await stat(join(dir, name)).catch(() => null);
    if (st?.isDirectory()) out.push(name);
  }
  return out.sort();
}

/** Every event of the store, in chain order per source, one source after another. */
export async function* readEvents(dir: string, opts: ReadEventsOptions = {}): AsyncIterable<StoredEventRef> {
  if (opts.encryptionKey !== undefined) assertEncryptionKey(opts.encryptionKey);
  const all = await listSources(dir);
  const wanted = opts.sources === undefined ? all : all.filter((s) => opts.sources?.includes(s));
  for (const sourceId of wanted) {
    const chainDir = join(dir, sourceId);
    const { segments } = await listSegments(chainDir);
    for (const n of segments) yield* readSegmentEvents(join(chainDir, segmentFileName(n)), sourceId, opts.encryptionKey);
  }
}

/**
 * The events of one segment file of chain `sourceId`, wherever it lies (the
 * store, or an archive copy retention moved it to), in file order.
 */
export async function* readSegmentEvents(file: string, sourceId: string, encryptionKey: Buffer | undefined): AsyncIterable<StoredEventRef> {
  for await (const batch of readLineBatches(file)) {
    for (const line of batch) {
      if (!line.complete) continue; // torn tail, see module comment
      if (line.bytes.length === 0) continue;
      const where = `${file} at byte ${line.offset}`;
      const plain = plainLine(line.bytes.toString('utf8'), encryptionKey, where);
      let parsed;
      try {
        parsed = parsePlainLine(plain);
      } catch {
        throw new DbwitnessError('E_STORE_CORRUPT', `${where} is not valid JSON`, 'run `dbwitness verify` on the store to locate and explain the damage', { exitCode: 1 });
      }
      if (parsed.kind === 'event') yield { event: parsed.event, sourceId, file, offset: line.offset };
    }
  }
}
