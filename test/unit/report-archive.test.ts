/**
 * Reports and the query index once retention moved old segments to an
 * archive: complete when the archive can be read, explicitly incomplete
 * (counts, segments, fix) when it cannot, never silently shorter.
 */
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IndexReader, rebuildIndex, updateIndex } from '../../src/index/index.js';
import { parseRange, patientReport, renderReport, ReportsConfig, userReport, ZoneClock, missingEvents, withMissingEvents, type Report, type ReportContext } from '../../src/report/index.js';
import { archiveSegment, deleteExpired } from '../../src/retention/retention-actions.js';
import { MIN_KEEP_MS, planRetention, type RetentionPolicy } from '../../src/retention/retention-plan.js';
import { fourSealed, SOURCE, tempStore, type TempStore } from './store-helpers.js';

const DAY = 86_400_000;
const archiveOf = (t: TempStore): string => join(t.root, 'archive');
const policy = (t: TempStore): RetentionPolicy => ({ keepMs: MIN_KEEP_MS, archiveAfterMs: 90 * DAY, archiveDir: archiveOf(t), legalHold: [] });


/** What `dbwitness retention --archive` does: sealed segments 1..4 move, the open one stays. */
async function archiveRun(t: TempStore): Promise<void> {
  for (const s of (await planRetention(t.dir, policy(t), Date.now() + 100 * DAY)).filter((x) => x.status === 'archive_due')) await archiveSegment(s, t.dir, archiveOf(t));
}

async function report(t: TempStore, build: (ctx: ReportContext) => Report, archiveDirs: string[] = []): Promise<Report> {
  const reader = IndexReader.open(join(t.dir, 'index.sqlite'), t.dir, undefined, archiveDirs);
  try {
    const clock = new ZoneClock('UTC');
    const r = build({ reader, range: parseRange(undefined, undefined, clock), clock, config: ReportsConfig.parse({}), storeDir: t.dir });
    return withMissingEvents(r, missingEvents(reader, t.dir));
  } finally {
    reader.close();
  }
}

/** Draft i has seq i + 1 and patient i % 50: patient 3 is seq 4 (segment 1, archived). */
const patient3 = (ctx: ReportContext): Report => patientReport(ctx, '3');
const bob = (ctx: ReportContext): Report => userReport(ctx, 'bob');

describe('reports and the index after retention archived segments', () => {
  it('an index built before archiving keeps every event: an incremental update neither rebuilds nor loses rows, and events read back from the archive', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await updateIndex(t.dir);
    await archiveRun(t);
    const after = await updateIndex(t.dir);
    expect([after.rebuilt, after.added, after.gaps]).toEqual([false, 0, []]);
    const r = await report(t, patient3);
    expect(r.sections[0]!.rows.map((x) => x['event_id'])).toHaveLength(1);
    expect(r.missing).toBeUndefined();
    // Even with the archive moved away, the indexed rows still answer (the index holds who/when/what).
    await rename(archiveOf(t), join(t.root, 'moved'));
    expect((await updateIndex(t.dir)).rebuilt).toBe(false);
    expect((await report(t, patient3)).sections[0]!.rows).toHaveLength(1);
  });

  it('reindex reads archived segments from the recorded archive path: nothing missing, and the index reads archived events back', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await archiveRun(t);
    const built = await rebuildIndex(t.dir);
    expect([built.added, built.gaps]).toEqual([22, []]);
    const reader = IndexReader.open(built.indexPath, t.dir);
    try {
      const row = [...reader.events('e.seq = ?', [4])][0]!;
      expect(row.file).toBe(`${SOURCE.id}/seg-000001.jsonl`);
      expect((await reader.readEvent(row))?.id).toBe(row.id);
    } finally {
      reader.close();
    }
    const r = await report(t, patient3);
    expect(r.sections[0]!.rows).toHaveLength(1);
    expect(JSON.parse(renderReport(r, 'json'))).toMatchObject({ complete: true });
  });

  it('reindex with the archive out of reach indexes what is present, records the gap, and every report says how many events are missing and the fix; --archive DIR completes it', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await archiveRun(t);
    const moved = join(t.root, 'moved');
    await rename(archiveOf(t), moved);
    const built = await rebuildIndex(t.dir);
    expect(built.added).toBe(2); // seq 21..22: the open segment
    expect(built.gaps.map((g) => [g.file, g.firstSeq, g.lastSeq])).toEqual([1, 2, 3, 4].map((n) => [`${SOURCE.id}/seg-00000${n}.jsonl`, n * 5 - 4, n * 5]));
    expect(built.gaps[0]!.reason).toMatch(/not found \(tried .*seg-000001\.jsonl\)/);

    const r = await report(t, patient3);
    expect(r.sections[0]!.rows).toHaveLength(0);
    expect(r.missing?.events).toBe(20);
    expect(r.missing?.segments.map((s) => [s.first_seq, s.last_seq, s.events, s.deleted])).toEqual([
      [1, 5, 5, false],
      [6, 10, 5, false],
      [11, 15, 5, false],
      [16, 20, 5, false],
    ]);
    expect(r.missing?.segments[0]?.sealed_at).toMatch(/^\d{4}-/);
    const text = renderReport(r, 'table');
    expect(text).toMatch(/INCOMPLETE: 20 event\(s\)/);
    expect(text).toMatch(/clinic-pg\/seg-000002\.jsonl: seq 6-10 \(5 events/);
    expect(text).toMatch(/reindex .* --archive DIR/);
    // The warning comes before the rows, not after them.
    expect(text.indexOf('INCOMPLETE')).toBeLessThan(text.indexOf('Accesses and changes'));
    const json = JSON.parse(renderReport(r, 'json')) as { complete: boolean; missing: { events: number; fix: string } };
    expect([json.complete, json.missing.events]).toEqual([false, 20]);
    expect(json.missing.fix).toMatch(/--archive DIR/);
    expect(renderReport(r, 'csv')).toMatch(/^# INCOMPLETE: 20 event/);
    expect(renderReport(r, 'html')).toMatch(/INCOMPLETE: 20 event/);
    // Per user too: the gap may hold any account's activity.
    expect((await report(t, bob)).missing?.events).toBe(20);
    // An incremental update keeps the gap recorded (it only reads new data).
    expect((await updateIndex(t.dir)).rebuilt).toBe(false);
    expect((await report(t, patient3)).missing?.events).toBe(20);

    const full = await rebuildIndex(t.dir, { archiveDirs: [moved] });
    expect([full.added, full.gaps]).toEqual([22, []]);
    const complete = await report(t, patient3, [moved]);
    expect([complete.sections[0]!.rows.length, complete.missing]).toEqual([1, undefined]);
  });

  it('segments deleted under the retention policy are reported as deleted, with no archive to fix it', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await archiveRun(t);
    const later = Date.now() + MIN_KEEP_MS + DAY;
    for (const s of (await planRetention(t.dir, policy(t), later)).filter((x) => x.status === 'expired' && x.segment === 1)) await deleteExpired(s, t.dir);
    const built = await rebuildIndex(t.dir);
    expect(built.gaps.map((g) => [g.segment, g.firstSeq, g.lastSeq])).toEqual([[1, 1, 5]]);
    expect(built.added).toBe(17); // seq 6..22 from the archive and the store
    const r = await report(t, patient3);
    expect(r.missing?.segments.map((s) => [s.segment, s.deleted])).toEqual([[1, true]]);
    expect(r.missing?.fix).toMatch(/deleted under the retention policy/);
  });

  it('the incremental updater after a segment it had partly indexed was archived: reads the rest from the archive, or records only the unread part as missing', async () => {
    for (const reachable of [true, false]) {
      await using t = await tempStore();
      // The index reads seq 1..3 of segment 1; seq 4..5 follow before it is sealed and archived.
      await fourSealed(t, async () => void (await updateIndex(t.dir)));
      await archiveRun(t);
      if (!reachable) await rename(archiveOf(t), join(t.root, 'moved'));
      const up = await updateIndex(t.dir);
      expect(up.rebuilt).toBe(false);
      if (reachable) {
        expect([up.added, up.gaps]).toEqual([19, []]);
        expect((await report(t, patient3)).missing).toBeUndefined();
        expect((await report(t, patient3)).sections[0]!.rows).toHaveLength(1);
      } else {
        expect(up.added).toBe(2);
        expect(up.gaps.map((g) => [g.segment, g.firstSeq, g.lastSeq])).toEqual([
          [1, 4, 5],
          [2, 6, 10],
          [3, 11, 15],
          [4, 16, 20],
        ]);
        const r = await report(t, patient3);
        expect(r.missing?.events).toBe(17);
        expect(r.missing?.segments.every((x) => x.sealed_at !== null && !x.deleted)).toBe(true);
      }
    }
  });
});
