/**
 * `dbwitness query` once retention moved old segments to an archive:
 * complete when the archive can be read (through the index or the full
 * scan), and otherwise the answer states what it lacks before its rows and
 * exits 3, never silently shorter. Stores are written with the store API
 * and archived by the retention code; the CLI runs from source.
 */
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rebuildIndex, updateIndex } from '../../src/index/index.js';
import { indexedAnswer } from '../../src/query/indexed.js';
import { archiveSegment } from '../../src/retention/retention-actions.js';
import { MIN_KEEP_MS, planRetention, type RetentionPolicy } from '../../src/retention/retention-plan.js';
import { draft, fourSealed, SOURCE, tempStore, type TempStore, cliFromSource as cli } from './store-helpers.js';

const DAY = 86_400_000;
const archiveOf = (t: TempStore): string => join(t.root, 'archive');
const policy = (t: TempStore): RetentionPolicy => ({ keepMs: MIN_KEEP_MS, archiveAfterMs: 90 * DAY, archiveDir: archiveOf(t), legalHold: [] });



/** What `dbwitness retention --archive` does: sealed segments 1..4 move, the open one stays. */
async function archiveRun(t: TempStore): Promise<void> {
  for (const s of (await planRetention(t.dir, policy(t), Date.now() + 100 * DAY)).filter((x) => x.status === 'archive_due')) await archiveSegment(s, t.dir, archiveOf(t));
}

const seqs = (jsonl: string): number[] =>
  jsonl
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { seq?: number })
    .filter((e) => e.seq !== undefined)
    .map((e) => e.seq!);
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
/** Drafts with an odd number are bob's: two or three per sealed segment, and draft 1001 (seq 22). */
const bobSeqs = [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22];

interface Header {
  complete: boolean;
  missing: { events: number; fix: string; segments: { file: string; first_seq: number; last_seq: number; events: number; matching: number | null; after: string | null; sealed_at: string | null; reason: string }[] };
}

describe('query after retention archived segments: full scan (no index)', () => {
  it('reads archived segments from the recorded path or --archive DIR; out of reach, it states the missing events before the rows in jsonl, table and csv and exits 3', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await archiveRun(t);

    const recorded = cli(['query', t.dir]);
    expect([recorded.code, seqs(recorded.stdout), recorded.stderr]).toEqual([0, range(1, 22), '']);

    const moved = join(t.root, 'moved');
    await rename(archiveOf(t), moved);
    const out = cli(['query', t.dir]);
    expect(out.code).toBe(3);
    const lines = out.stdout.trim().split('\n');
    const head = JSON.parse(lines[0]!) as Header;
    expect([head.complete, head.missing.events]).toEqual([false, 20]);
    expect(head.missing.segments.map((s) => [s.file, s.first_seq, s.last_seq, s.events, s.matching])).toEqual(
      [1, 2, 3, 4].map((n) => [`${SOURCE.id}/seg-00000${n}.jsonl`, n * 5 - 4, n * 5, 5, null]),
    );
    expect(head.missing.segments[0]!.reason).toMatch(/not found \(tried .*seg-000001\.jsonl\)/);
    expect(head.missing.segments[3]!.sealed_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(head.missing.fix).toMatch(/--archive DIR/);
    expect(seqs(lines.slice(1).join('\n'))).toEqual([21, 22]);
    expect(out.stderr).toMatch(/warning: query incomplete: 20 archived event\(s\) could not be read \(4 segment\(s\)\)/);

    const table = cli(['query', t.dir, '--format', 'table', '--width', '200']);
    expect(table.code).toBe(3);
    expect(table.stdout).toMatch(/^INCOMPLETE: 20 event\(s\)/);
    expect(table.stdout).toMatch(/clinic-pg\/seg-000002\.jsonl: seq 6-10 \(5 events; start unknown, none after \d{4}-/);
    expect(table.stdout.indexOf('INCOMPLETE')).toBeLessThan(table.stdout.indexOf('seq  time'));
    const csv = cli(['query', t.dir, '--format', 'csv', '--user', 'bob']);
    expect(csv.code).toBe(3);
    expect(csv.stdout).toMatch(/^"?# INCOMPLETE: 20 event\(s\)[^\n]*any of them may match/);
    expect(csv.stdout.split('\r\n').filter((l) => /^\d+,/.test(l)).map((l) => Number(l.split(',')[0]))).toEqual([22]);

    const complete = cli(['query', t.dir, '--archive', join(t.root, 'elsewhere'), '--archive', moved, '--user', 'bob']);
    expect([complete.code, seqs(complete.stdout), complete.stderr]).toEqual([0, bobSeqs, '']);
  });

  it('one archived copy out of reach: only that segment is missing, bounded by the time of the event before it and its seal time', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await archiveRun(t);
    await mkdir(join(t.root, 'lost'));
    await rename(join(archiveOf(t), SOURCE.id, 'seg-000003.jsonl'), join(t.root, 'lost', 'seg-000003.jsonl'));
    const out = cli(['query', t.dir]);
    expect(out.code).toBe(3);
    const [first, ...rest] = out.stdout.trim().split('\n');
    const head = JSON.parse(first!) as Header;
    expect(head.missing.segments.map((s) => [s.first_seq, s.last_seq, s.after])).toEqual([[11, 15, draft(9).time]]);
    expect(seqs(rest.join('\n'))).toEqual([...range(1, 10), ...range(16, 22)]);
  });
});

describe('query after retention archived segments: through the index', () => {
  it('an index built before archiving reads archived events back; with the archive out of reach it counts exactly the matching events it cannot show', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await updateIndex(t.dir);
    await archiveRun(t);
    expect(await indexedAnswer(t.dir, {}, undefined, [])).not.toBeNull();

    const viaArchive = cli(['query', t.dir, '--user', 'bob']);
    expect([viaArchive.code, seqs(viaArchive.stdout), viaArchive.stderr]).toEqual([0, bobSeqs, '']);

    const moved = join(t.root, 'moved');
    await rename(archiveOf(t), moved);
    // The index path, not the scan: the scan could not know how many of them are bob's.
    const answer = await indexedAnswer(t.dir, { users: ['bob'] }, undefined, []);
    expect(answer?.missing.map((s) => [s.segment, s.matching])).toEqual([
      [1, 2],
      [2, 3],
      [3, 2],
      [4, 3],
    ]);
    await answer?.events.return(undefined);
    const out = cli(['query', t.dir, '--user', 'bob']);
    expect(out.code).toBe(3);
    const [first, ...rest] = out.stdout.trim().split('\n');
    const head = JSON.parse(first!) as Header & { missing: { segments: { matching_times: { first: string; last: string } }[] } };
    expect([head.complete, head.missing.events]).toEqual([false, 10]);
    expect(head.missing.segments[0]!.matching_times).toEqual({ first: draft(1).time, last: draft(3).time });
    expect(seqs(rest.join('\n'))).toEqual([22]);
    expect(out.stderr).toMatch(/query incomplete: 10 archived event/);
    const table = cli(['query', t.dir, '--user', 'bob', '--format', 'table']);
    expect(table.stdout).toMatch(/^INCOMPLETE: 10 event\(s\)[^\n]*all of them match the filter/);
    expect(table.stdout).toMatch(/seq 1-5 \(2 matching event\(s\); matching events from 2026-11-26T10:00:01\.123456Z to 2026-11-26T10:00:03\.123456Z\)/);

    // A filter none of the unreadable events matches gets a complete answer.
    const alice22 = cli(['query', t.dir, '--user', 'alice', '--from', draft(1000).time]);
    expect([alice22.code, seqs(alice22.stdout)]).toEqual([0, [21]]);

    const complete = cli(['query', t.dir, '--user', 'bob', '--archive', moved]);
    expect([complete.code, seqs(complete.stdout), complete.stderr]).toEqual([0, bobSeqs, '']);
  });

  it('an index built with the archive out of reach: its recorded gaps are stated; --archive DIR answers completely without a reindex', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await archiveRun(t);
    const moved = join(t.root, 'moved');
    await rename(archiveOf(t), moved);
    expect((await rebuildIndex(t.dir)).gaps).toHaveLength(4);

    const answer = await indexedAnswer(t.dir, {}, undefined, []);
    expect(answer?.missing.map((s) => [s.first_seq, s.last_seq, s.events, s.matching])).toEqual([1, 2, 3, 4].map((n) => [n * 5 - 4, n * 5, 5, null]));
    await answer?.events.return(undefined);
    const out = cli(['query', t.dir, '--user', 'bob']);
    expect(out.code).toBe(3);
    const [first, ...rest] = out.stdout.trim().split('\n');
    expect((JSON.parse(first!) as Header).missing.events).toBe(20);
    expect(seqs(rest.join('\n'))).toEqual([22]);

    // The gaps are reachable now: the index cannot answer, the scan does.
    expect(await indexedAnswer(t.dir, {}, undefined, [moved])).toBeNull();
    const complete = cli(['query', t.dir, '--user', 'bob', '--archive', moved]);
    expect([complete.code, seqs(complete.stdout), complete.stderr]).toEqual([0, bobSeqs, '']);
  });
});
