import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { canonicalJson } from '../../src/core/canonical.js';
import { openIndexDb } from '../../src/index/schema.js';
import { IndexReader, IndexWriter, indexStatus, rebuildIndex, startIndexUpdater, updateIndex } from '../../src/index/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { readEvents } from '../../src/store/index.js';
import { indexedAnswer } from '../../src/query/indexed.js';
import { clinicScenario, tempStoreDir, writeStore } from './report-fixtures.js';

function dump(path: string): unknown[] {
  const db = openIndexDb(path, { readonly: true });
  try {
    const rows = db.prepare('SELECT e.*, f.path AS file_path FROM events e LEFT JOIN files f ON f.id = e.file ORDER BY source, seq').all() as Record<string, unknown>[];
    return rows.map(({ file: _f, ...r }) => r);
  } finally {
    db.close();
  }
}

describe('index build', () => {
  it('incremental catch-up yields exactly the rows of a full rebuild, across segment rotation', async () => {
    await using tmp = await tempStoreDir();
    const all = clinicScenario();
    const half = Math.floor(all.length / 2);
    // Small segments: the catch-up has to cross rotated (sealed) segments.
    await writeStore(tmp.dir, all.slice(0, half), { segmentMaxBytes: 4096 });
    const first = await updateIndex(tmp.dir);
    expect(first.rebuilt).toBe(true);
    expect(first.added).toBe(half);
    expect(statSync(join(tmp.dir, 'index.sqlite')).mode & 0o777).toBe(0o600);
    expect((await indexStatus(tmp.dir)).current).toBe(true);

    await writeStore(tmp.dir, all.slice(half), { segmentMaxBytes: 4096 });
    expect((await indexStatus(tmp.dir)).current).toBe(false);
    const second = await updateIndex(tmp.dir);
    expect(second).toMatchObject({ rebuilt: false, added: all.length - half });
    expect((await indexStatus(tmp.dir)).current).toBe(true);
    const again = await updateIndex(tmp.dir);
    expect(again.added).toBe(0);

    const fullPath = join(tmp.dir, 'full.sqlite');
    const full = await rebuildIndex(tmp.dir, { indexPath: fullPath });
    expect(full.added).toBe(all.length);
    const inc = dump(join(tmp.dir, 'index.sqlite'));
    expect(inc).toHaveLength(all.length);
    expect(inc).toEqual(dump(fullPath));
  });

  it('rows added by the pipeline (no file/offset) are completed by a later catch-up without duplicates', async () => {
    await using tmp = await tempStoreDir();
    const all = clinicScenario();
    await writeStore(tmp.dir, all);
    const stored = [];
    for await (const ref of readEvents(tmp.dir)) stored.push(ref.event);
    const path = join(tmp.dir, 'index.sqlite');
    const db = openIndexDb(path);
    const writer = new IndexWriter(db);
    // Only the first 5 events of pg1 arrive through add(); one is repeated, one out of order is held back.
    const pg = stored.filter((e) => e.source.id === 'pg1');
    expect(writer.add([pg[0]!, pg[1]!, pg[1]!, pg[3]!, pg[2]!].map((event) => ({ event, file: null, offset: null })))).toBe(2);
    db.close();
    const res = await updateIndex(tmp.dir);
    expect(res.rebuilt).toBe(false);
    expect(res.added).toBe(all.length - 2);
    const rows = dump(path) as { source: string; seq: number }[];
    const bySourceSeq = (a: { source: string; seq: number }, b: { source: string; seq: number }) => (a.source === b.source ? a.seq - b.seq : a.source < b.source ? -1 : 1);
    const expected = stored.map((e) => ({ source: e.source.id, seq: e.seq })).sort(bySourceSeq);
    expect(rows.map((r) => ({ source: r.source, seq: r.seq }))).toEqual(expected);
    // The catch-up also gave the pipeline's rows their store location: the index can serve queries.
    expect((rows as unknown as { file_path: string | null }[]).filter((r) => r.file_path === null)).toEqual([]);
    const viaIndex = await indexedAnswer(tmp.dir, {}, undefined, []);
    expect(viaIndex?.missing).toEqual([]);
    let n = 0;
    for await (const _ of viaIndex!.events) n++;
    expect(n).toBe(all.length);
  });

  it('two catch-ups running at once (run and a report) index every event exactly once', async () => {
    await using tmp = await tempStoreDir();
    const all = clinicScenario();
    await writeStore(tmp.dir, all.slice(0, 5), { segmentMaxBytes: 4096 });
    await updateIndex(tmp.dir);
    await writeStore(tmp.dir, all.slice(5), { segmentMaxBytes: 4096 });
    const [a, b] = await Promise.all([updateIndex(tmp.dir), updateIndex(tmp.dir)]);
    expect(a.rebuilt || b.rebuilt).toBe(false);
    expect(a.added + b.added).toBe(all.length - 5);
    const rows = dump(join(tmp.dir, 'index.sqlite')) as { source: string; seq: number }[];
    expect(new Set(rows.map((r) => `${r.source}:${r.seq}`)).size).toBe(all.length);
    expect(rows).toHaveLength(all.length);
  });

  it('rebuilds by itself when the store under the index was replaced', async () => {
    await using tmp = await tempStoreDir();
    await using other = await tempStoreDir();
    const all = clinicScenario();
    await writeStore(tmp.dir, all.slice(0, 10));
    await updateIndex(tmp.dir);
    await writeStore(other.dir, all.slice(5, 20));
    const res = await updateIndex(other.dir, { indexPath: join(tmp.dir, 'index.sqlite') });
    expect(res.rebuilt).toBe(true);
    expect(res.added).toBe(15);
  });

  it('reads full events back from the store by file and offset', async () => {
    await using tmp = await tempStoreDir();
    await writeStore(tmp.dir, clinicScenario(), { segmentMaxBytes: 4096 });
    await updateIndex(tmp.dir);
    const scanned = new Map<string, string>();
    for await (const ref of readEvents(tmp.dir)) scanned.set(ref.event.id, canonicalJson(ref.event));
    const reader = IndexReader.open(join(tmp.dir, 'index.sqlite'), tmp.dir);
    try {
      let n = 0;
      for (const row of reader.events('1 = 1', [])) {
        const ev = await reader.readEvent(row);
        expect(canonicalJson(ev)).toBe(scanned.get(row.id));
        n++;
      }
      expect(n).toBe(scanned.size);
      expect(statSync(join(tmp.dir, 'index.sqlite')).size).toBeGreaterThan(0);
      // The policy fallback finds a parent row's patient from the index.
      const fallback = reader.subjectFallback();
      expect(fallback('clinic.encounters', '100', 'patient_id')).toBe('1');
      expect(fallback('clinic.encounters', '999', 'patient_id')).toBeUndefined();
    } finally {
      reader.close();
    }
  });
});

describe('startIndexUpdater', () => {
  it('catches the index up on demand and stops cleanly', async () => {
    await using tmp = await tempStoreDir();
    const all = clinicScenario();
    await writeStore(tmp.dir, all.slice(0, 10));
    const updater = startIndexUpdater(tmp.dir, { logger: silentLogger(), intervalMs: 60_000 });
    await updater.flush();
    expect((await indexStatus(tmp.dir)).current).toBe(true);
    await writeStore(tmp.dir, all.slice(10));
    expect((await indexStatus(tmp.dir)).current).toBe(false);
    await updater.flush();
    expect((await indexStatus(tmp.dir)).sources.reduce((n, s) => n + s.indexedSeq, 0)).toBe(all.length);
    await updater.stop();
  });

  // The built CLI runs catch-ups in a worker thread (dist/, built by `npm test` before the tests run).
  const distWorker = new URL('../../dist/src/index/index-worker.js', import.meta.url);
  it('runs catch-ups in a worker thread with the compiled worker, with the same result', async () => {
    expect(existsSync(fileURLToPath(distWorker)), 'build dist/ first: npx tsc -p tsconfig.build.json').toBe(true);
    await using tmp = await tempStoreDir();
    const all = clinicScenario();
    await writeStore(tmp.dir, all.slice(0, 10));
    const updater = startIndexUpdater(tmp.dir, { logger: silentLogger(), intervalMs: 60_000, workerUrl: distWorker });
    expect(updater.threaded).toBe(true);
    await updater.flush();
    expect((await indexStatus(tmp.dir)).current).toBe(true);
    await writeStore(tmp.dir, all.slice(10));
    await updater.flush();
    expect((await indexStatus(tmp.dir)).sources.reduce((n, s) => n + s.indexedSeq, 0)).toBe(all.length);
    await updater.stop();
    // A failing catch-up (the store vanished) is logged and retried, never thrown at the daemon.
    const broken = startIndexUpdater(join(tmp.dir, 'missing'), { logger: silentLogger(), intervalMs: 60_000, workerUrl: distWorker });
    await expect(broken.flush()).resolves.toBeUndefined();
    await broken.stop();
  });
});
