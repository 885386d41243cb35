import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/core/event.js';
import { openStore } from '../../src/store/index.js';
import { matchesEvent, parseFilterFlags } from '../../src/query/filter.js';
import { COLUMNS, csvCell, fitWidths, tableLine, terminalSafe } from '../../src/query/format.js';
import { scanMatching, writeEvents } from '../../src/query/full-scan.js';
import { SOURCE, draft, drafts, tempStore } from './store-helpers.js';

const OTHER = { ...SOURCE, id: 'billing-my', engine: 'mariadb' as const };

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function render(events: AuditEvent[], format: 'jsonl' | 'csv' | 'table', width = Infinity): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c) => (text += String(c)));
  async function* gen() {
    yield* events;
  }
  await writeEvents(gen(), { out, format, width });
  return text;
}

describe('query filters', () => {
  it('parses flags, repeated and comma-separated, and rejects bad values with a fix', () => {
    const f = parseFilterFlags({ action: ['insert,update', 'delete'], table: ['clinic.patients', 'notes'], from: '2026-11-26', to: '2026-11-26T10:00:30Z', limit: '5' });
    expect(f).toEqual({
      actions: ['insert', 'update', 'delete'],
      tables: [{ schema: 'clinic', table: 'patients' }, { schema: null, table: 'notes' }],
      from: '2026-11-26T00:00:00.000000Z',
      to: '2026-11-26T10:00:30.000000Z',
      limit: 5,
    });
    expect(() => parseFilterFlags({ action: ['select'] })).toThrow(/unknown action/);
    expect(() => parseFilterFlags({ from: 'yesterday' })).toThrow(/not a date/);
    expect(() => parseFilterFlags({ limit: '0' })).toThrow(/positive integer/);
    expect(() => parseFilterFlags({ from: '2026-11-27', to: '2026-11-26' })).toThrow(/not before/);
  });

  it('matches each field, with microsecond time bounds (from inclusive, to exclusive)', () => {
    const e = { ...draft(3), seq: 1, recorded_at: '2026-11-26T10:00:00.000000Z', prev: '0'.repeat(64), hash: '0'.repeat(64) } as AuditEvent;
    expect(e.time).toBe('2026-11-26T10:00:03.123456Z');
    const m = (flags: Parameters<typeof parseFilterFlags>[0]): boolean => matchesEvent(e, parseFilterFlags(flags));
    expect(m({})).toBe(true);
    expect(m({ from: '2026-11-26T10:00:03.123456Z' })).toBe(true);
    expect(m({ from: '2026-11-26T10:00:03.123457Z' })).toBe(false);
    expect(m({ to: '2026-11-26T10:00:03.123456Z' })).toBe(false);
    expect(m({ to: '2026-11-26T10:00:03.123457Z' })).toBe(true);
    expect(m({ table: ['clinic.encounters'] })).toBe(true);
    expect(m({ table: ['encounters'] })).toBe(true);
    expect(m({ table: ['other.encounters'] })).toBe(false);
    expect(m({ action: ['update'] })).toBe(false);
    expect(m({ action: ['insert'] })).toBe(true);
    expect(m({ user: ['bob'] })).toBe(true);
    expect(m({ user: ['alice'] })).toBe(false);
    expect(m({ app: ['psql'] })).toBe(true);
    expect(m({ client: ['10.0.0.1'] })).toBe(false);
    expect(m({ source: [SOURCE.id] })).toBe(true);
  });

  it('scans a store (plain and encrypted) applying filters and limit in chain order', async () => {
    for (const key of [undefined, randomBytes(32)]) {
      await using t = await tempStore();
      const store = await openStore(t.dir, { signingKeyFile: t.keyFile, segmentMaxBytes: 5000, ...(key === undefined ? {} : { encryptionKey: key }) });
      const a = await store.openChain(SOURCE);
      const b = await store.openChain(OTHER);
      await a.append(drafts(0, 30), 'cp');
      await b.append(drafts(0, 10, OTHER), 'cp');
      await store.close();
      const bobUpdates = await all(scanMatching(t.dir, parseFilterFlags({ user: ['bob'], action: ['update'], source: [SOURCE.id] }), key));
      expect(bobUpdates.map((e) => e.seq)).toEqual([2, 8, 14, 20, 26]);
      const limited = await all(scanMatching(t.dir, parseFilterFlags({ limit: '3', table: ['clinic.patients'] }), key));
      expect(limited.map((e) => [e.source.id, e.seq])).toEqual([['billing-my', 1], ['billing-my', 3], ['billing-my', 5]]);
      expect(await all(scanMatching(t.dir, parseFilterFlags({ source: ['nope'] }), key))).toEqual([]);
    }
  });
});

describe('query output', () => {
  const hostile = { ...draft(1), seq: 7, recorded_at: '2026-11-26T10:00:00.000000Z', prev: '0'.repeat(64), hash: '0'.repeat(64) } as AuditEvent;
  const evil = { ...hostile, actor: { ...hostile.actor, db_user: '=HYPERLINK("http://x")', application: 'app\u001b[2J\nFAKE LINE' } } as AuditEvent;

  it('writes jsonl as the canonical stored form', async () => {
    const text = await render([hostile], 'jsonl');
    expect(JSON.parse(text)).toEqual(hostile);
    expect(text.startsWith('{"action":')).toBe(true);
  });

  it('writes spreadsheet-safe RFC 4180 csv', async () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('-1+2')).toBe("'-1+2");
    const text = await render([evil], 'csv');
    const [header, row] = text.split('\r\n');
    expect(header).toBe(COLUMNS.join(','));
    expect(row).toContain(`"'=HYPERLINK(""http://x"")"`);
  });

  it('fits the table to the width and strips control characters', async () => {
    expect(terminalSafe('a\u001b[2Jb\nc')).toBe('a\uFFFD[2Jb\uFFFDc');
    const text = await render([evil, hostile], 'table', 120);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(120);
    expect(text).not.toContain('\u001b');
    expect(lines[1]).toContain('2026-11-26T10:00:01.123456Z'); // the time column is kept whole
    const w = fitWidths(['a', 'b'], [['x'.repeat(50), 'y'.repeat(50)]], 40);
    expect(w.reduce((s, x) => s + x, 0) + 2).toBeLessThanOrEqual(40);
    expect(tableLine(['abcdef'], [4])).toBe('abc…\n');
  });
});
