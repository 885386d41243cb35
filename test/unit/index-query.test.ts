import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson } from '../../src/core/canonical.js';
import type { AuditEvent } from '../../src/core/event.js';
import { updateIndex } from '../../src/index/index.js';
import { indexedAnswer } from '../../src/query/indexed.js';
import { parseFilterFlags, type FilterFlags } from '../../src/query/filter.js';
import { scanMatching } from '../../src/query/full-scan.js';
import { clinicScenario, makeDraft, writeStore } from './report-fixtures.js';

let dir: string;

async function collect(it: AsyncIterable<AuditEvent>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of it) out.push(canonicalJson(e));
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dbw-index-query-'));
  await writeStore(dir, clinicScenario(), { segmentMaxBytes: 4096 });
  await updateIndex(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const FILTERS: [string, FilterFlags][] = [
  ['everything', {}],
  ['a time range', { from: '2026-11-26T09:05:00Z', to: '2026-11-26T13:00:00.000001Z' }],
  ['a user and an action', { user: ['bob'], action: ['update'] }],
  ['schema.table and a bare table', { table: ['clinic.encounters', 'prescriptions'] }],
  ['a source with a limit', { source: ['pg1'], limit: '7' }],
  ['application and client', { app: ['ehr-web'], client: ['10.0.0.5'], limit: '3' }],
  ['nothing matches', { user: ['nobody'] }],
];

describe('query through the index', () => {
  for (const [name, flags] of FILTERS) {
    it(`returns exactly what the full scan returns: ${name}`, async () => {
      const filter = parseFilterFlags(flags);
      const viaIndex = await indexedAnswer(dir, filter, undefined, []);
      expect(viaIndex?.missing).toEqual([]);
      const a = await collect(viaIndex!.events);
      const b = await collect(scanMatching(dir, filter, undefined));
      expect(a).toEqual(b);
      if (name !== 'nothing matches') expect(a.length).toBeGreaterThan(0);
    });
  }

  it('declines (so the caller scans) when the store has events the index does not', async () => {
    const late = await mkdtemp(join(tmpdir(), 'dbw-index-query-late-'));
    try {
      await writeStore(late, clinicScenario().slice(0, 5));
      await updateIndex(late);
      const answer = await indexedAnswer(late, {}, undefined, []);
      expect(answer).not.toBeNull();
      await answer!.events.return(undefined); // closes the index
      await writeStore(late, [makeDraft({ time: '2026-11-27T00:00:00.000001Z', table: 'clinic.patients', key: '9', patient: '9' })]);
      expect(await indexedAnswer(late, {}, undefined, [])).toBeNull();
      expect(await indexedAnswer(join(late, 'nope'), {}, undefined, [])).toBeNull();
    } finally {
      await rm(late, { recursive: true, force: true });
    }
  });
});
