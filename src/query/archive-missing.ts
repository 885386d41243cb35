/**
 * What a `query` answer cannot contain because retention took it out of
 * reach: events of archived segments whose copy cannot be read (the archive
 * is not mounted, or the segment was deleted under the retention policy).
 * Any of them may match the filter, so the answer states them before its
 * rows and the command exits 3, as reports do (src/report/archive-gaps.ts).
 */
import { open } from 'node:fs/promises';
import { isDeletedReason, type ChainFile } from '../index/archived-chain.js';
import type { IndexGap } from '../index/reader.js';
import { gapAsMissing, type MissingSegment } from '../report/archive-gaps.js';
import { parsePlainLine, plainLine } from '../store/records.js';

/** A report's missing segment (src/report/archive-gaps.ts), plus what the query's filter can tell about it. */
export interface QueryMissingSegment extends MissingSegment {
  /** Of the missing events, how many match the query (known when the index holds them); null: unknown, any may match. */
  readonly matching: number | null;
  /** Commit times of the matching events, when the index holds them. */
  readonly matching_times: { readonly first: string; readonly last: string } | null;
}

export interface QueryMissing {
  /** Events that could not be read. */
  readonly events: number;
  readonly segments: readonly QueryMissingSegment[];
  readonly fix: string;
}


export function queryMissing(storeDir: string, segments: readonly QueryMissingSegment[]): QueryMissing | null {
  if (segments.length === 0) return null;
  const fixable = segments.some((s) => !s.deleted);
  const fix = fixable
    ? `mount or copy the archive and pass it: \`dbwitness query ${storeDir} --archive DIR ...\` (DIR/<source>/seg-N.jsonl; repeat --archive for several), or rebuild the index with it: \`dbwitness reindex ${storeDir} --archive DIR\``
    : 'these segments were deleted under the retention policy; no copy exists to read them from';
  return { events: segments.reduce((n, s) => n + s.events, 0), segments, fix };
}

/**
 * The archived segments of one chain (from `chainFiles`, in chain order)
 * that a full scan cannot read. The time bound before each is the last event
 * of the readable segment before it.
 */
export async function unreadableSegments(sourceId: string, files: readonly ChainFile[], encryptionKey: Buffer | undefined): Promise<QueryMissingSegment[]> {
  const out: QueryMissingSegment[] = [];
  let after: string | null = null;
  let afterFrom: string | null = null; // the path `after` was read from, so a run of gaps reads it once
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    const line = f.archived;
    if (f.path !== null || line === null || line.first_seq === null || line.last_seq === null) continue;
    const prev = [...files.slice(0, i)].reverse().find((p) => p.path !== null);
    if (prev?.path != null && prev.path !== afterFrom) {
      after = await lastEventTime(prev.path, encryptionKey);
      afterFrom = prev.path;
    } else if (prev === undefined) after = null;
    const reason = f.unreadable ?? 'not readable';
    out.push({
      source: sourceId,
      segment: f.segment,
      file: f.rel,
      first_seq: line.first_seq,
      last_seq: line.last_seq,
      events: line.last_seq - line.first_seq + 1,
      matching: null,
      after,
      sealed_at: line.signed_seal?.sealed_at ?? null,
      matching_times: null,
      reason,
      deleted: isDeletedReason(reason),
    });
  }
  return out;
}

/** One segment the index lacks (its gaps table), as query states it: any of its events may match. */
export function gapSegment(g: IndexGap): QueryMissingSegment {
  return { ...gapAsMissing(g), matching: null, matching_times: null };
}

/**
 * Time of the last event in a segment file, read from its end (a scan of a
 * large segment just for this would double the cost of the query).
 */
async function lastEventTime(path: string, encryptionKey: Buffer | undefined): Promise<string | null> {
  const fh = await open(path, 'r').catch(() => null);
  if (fh === null) return null;
  try {
    const size = (await fh.stat()).size;
    for (let chunk = 64 * 1024; ; chunk *= 4) {
      const start = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - start);
      await fh.read(buf, 0, buf.length, start);
      const lines = buf.toString('utf8').split('\n');
      // The last piece is empty or a torn tail; the first is cut mid-line unless the read began at the start.
      const whole = lines.slice(start === 0 ? 0 : 1, -1);
      for (let i = whole.length - 1; i >= 0; i--) {
        const raw = whole[i]!;
        if (raw === '') continue;
        try {
          const parsed = parsePlainLine(plainLine(raw, encryptionKey, path));
          if (parsed.kind === 'event') return parsed.event.time;
        } catch {
          return null; // a bound is a courtesy; verify is what explains damage
        }
      }
      if (start === 0) return null;
    }
  } finally {
    await fh.close();
  }
}
