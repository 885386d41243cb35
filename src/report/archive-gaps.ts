/**
 * What a report cannot show because retention took it out of reach: events
 * of archived segments the index could not read when it was built (the
 * archive was not mounted, or the segment was deleted under the retention
 * policy). Any of them may concern the patient or user asked about, so
 * every report over such an index says how many events are missing, from
 * which segments and times, and how to get a complete answer.
 */
import { isDeletedReason } from '../index/archived-chain.js';
import type { IndexGap, IndexReader } from '../index/reader.js';
import type { Report } from './model.js';

export interface MissingSegment {
  readonly source: string;
  readonly segment: number;
  readonly file: string;
  readonly first_seq: number;
  readonly last_seq: number;
  readonly events: number;
  /** The last indexed event before them (null: unknown); none of them is younger than sealed_at. */
  readonly after: string | null;
  readonly sealed_at: string | null;
  readonly reason: string;
  /** Deleted under the retention policy: no archive can bring them back. */
  readonly deleted: boolean;
}

export interface MissingEvents {
  readonly events: number;
  readonly segments: readonly MissingSegment[];
  readonly fix: string;
}

/** One range the index could not read (its gaps table), as reports and query state it. */
export function gapAsMissing(g: IndexGap): MissingSegment {
  return {
    source: g.source,
    segment: g.segment,
    file: g.file,
    first_seq: g.first_seq,
    last_seq: g.last_seq,
    events: g.last_seq - g.first_seq + 1,
    after: g.after_time,
    sealed_at: g.sealed_at,
    reason: g.reason,
    deleted: isDeletedReason(g.reason),
  };
}

export function missingEvents(reader: IndexReader, storeDir: string): MissingEvents | null {
  const gaps = reader.gaps();
  if (gaps.length === 0) return null;
  const segments = gaps.map(gapAsMissing);
  const fixable = segments.some((s) => !s.deleted);
  const fix = fixable
    ? `mount or copy the archive and rebuild the index with it: \`dbwitness reindex ${storeDir} --archive DIR\` (DIR/<source>/seg-N.jsonl), then run the report again`
    : 'these segments were deleted under the retention policy; no copy exists to read them from';
  return { events: segments.reduce((n, s) => n + s.events, 0), segments, fix };
}

/** One line per segment, for the text formats. */
export function missingLines(m: MissingEvents): string[] {
  const out = [`INCOMPLETE: ${m.events} event(s) of archived segments are not in the index and cannot be shown; any of them may belong to this report.`];
  for (const s of m.segments) {
    const when = `${s.after === null ? 'unknown start' : `after ${s.after}`}, ${s.sealed_at === null ? 'end unknown' : `none after ${s.sealed_at}`}`;
    out.push(`  ${s.file}: seq ${s.first_seq}-${s.last_seq} (${s.events} events; ${when}): ${s.reason}`);
  }
  out.push(`Fix: ${m.fix}`);
  return out;
}

/** The report with its incompleteness stated (a no-op when nothing is missing). */
export function withMissingEvents(report: Report, missing: MissingEvents | null): Report {
  if (missing === null) return report;
  return { ...report, missing, notes: [missingLines(missing).join('\n'), ...report.notes] };
}
