import { describe, expect, it } from 'vitest';
import { canonicalJson, eventHash } from '../../src/core/canonical.js';
import { fastCanonicalJson } from '../../src/store/fast-canonical.js';
import { appendEventLine, buildEvent } from '../../src/store/event-line.js';
import { LineBatch } from '../../src/store/line-batch.js';
import { openStore } from '../../src/store/index.js';
import { SOURCE, draft, drafts, tempStore } from './store-helpers.js';

function randomValue(depth: number): unknown {
  const r = Math.random();
  if (depth > 3 || r < 0.3) {
    const pick = Math.floor(Math.random() * 6);
    if (pick === 0) return null;
    if (pick === 1) return Math.random() < 0.5;
    if (pick === 2) return Math.floor(Math.random() * 2 ** 40) * (Math.random() < 0.5 ? -1 : 1);
    const chars = ['a', 'Z', '"', '\\', '\n', '\u0000', 'ü', '\u2028', '😀', '\ud800', ' ', '/'];
    return Array.from({ length: Math.floor(Math.random() * 8) }, () => chars[Math.floor(Math.random() * chars.length)]).join('');
  }
  if (r < 0.5) return Array.from({ length: Math.floor(Math.random() * 4) }, () => randomValue(depth + 1));
  const o: Record<string, unknown> = {};
  const keys = ['b', 'a', 'hash', 'id', 'Ä', '_', 'aa', '10', '9', '~', 'z"q'];
  for (let i = 0; i < Math.floor(Math.random() * 6); i++) o[keys[Math.floor(Math.random() * keys.length)] as string] = Math.random() < 0.1 ? undefined : randomValue(depth + 1);
  return o;
}

describe('fast canonical serialization', () => {
  it('produces the same bytes as core canonicalJson for random values', () => {
    for (let i = 0; i < 3000; i++) {
      const v = randomValue(0);
      expect(fastCanonicalJson(v)).toBe(canonicalJson(v));
    }
  });

  it('takes the native path only where it gives the canonical bytes', () => {
    class WithToJson {
      a = 'x';
      toJSON(): string {
        return 'other';
      }
    }
    const sparse: unknown[] = ['a'];
    sparse[2] = 'c';
    const bare = Object.create(null) as Record<string, unknown>;
    bare['a'] = '1';
    bare['b'] = null;
    const cases: unknown[] = [
      { a: '1', b: null, c: true, d: -0, e: 2 ** 53 - 1, 'é': 'ü\ud800' },
      { 10: 'x', 9: 'y', a: 'z' },
      { b: '1', a: '2' },
      { a: '1', a1: undefined, b: '2' },
      new Date(0),
      new WithToJson(),
      bare,
      sparse,
      ['x', null, 1, false],
      { a: ['x'], b: { c: '1' } },
    ];
    for (const v of cases) expect(fastCanonicalJson(v)).toBe(canonicalJson(v));
    expect(() => fastCanonicalJson({ a: '1', b: 1.5 })).toThrow(/\$\.b/);
    expect(() => fastCanonicalJson(['x', 2 ** 60])).toThrow(/safe integers/);
  });

  it('keeps an own __proto__ field (a column named so) on both paths, in the line and its hash', () => {
    const row: Record<string, unknown> = {};
    Object.defineProperty(row, '__proto__', { value: 'kept', enumerable: true, writable: true, configurable: true });
    row['z'] = 'x';
    expect(fastCanonicalJson(row)).toBe('{"__proto__":"kept","z":"x"}');
    expect(fastCanonicalJson(row)).toBe(canonicalJson(row));
    const d = { ...draft(1), changes: { columns: ['__proto__', 'z'], before: null, after: row } } as unknown as Parameters<typeof buildEvent>[0];
    const b = buildEvent(d, 1, '2026-11-26T10:00:00.000001Z', 'a'.repeat(64));
    expect(b.line).toContain('"after":{"__proto__":"kept","z":"x"}');
    expect(b.event.hash).toBe(eventHash(b.event));
    expect((JSON.parse(b.line) as { changes: { after: Record<string, unknown> } }).changes.after).toEqual(row);
  });

  it('throws the core error for values the canonical form rejects', () => {
    expect(() => fastCanonicalJson({ a: [1, { b: 1.5 }] })).toThrow(/\$\.a\[1\]\.b/);
    expect(() => fastCanonicalJson({ a: 2 ** 60 })).toThrow(/safe integers/);
  });

  it('builds lines equal to canonicalJson(event) with hash equal to eventHash(event)', () => {
    for (let i = 0; i < 200; i++) {
      const d = { ...draft(i), detail: i % 2 ? { hash: 'x', z: 'y' } : null, statement: i % 3 ? 'SELECT "x"' : null };
      const b = buildEvent(d, i + 1, '2026-11-26T10:00:00.000001Z', 'a'.repeat(64));
      expect(b.line).toBe(canonicalJson(b.event));
      expect(b.event.hash).toBe(eventHash(b.event));
    }
  });

  it('writes the same bytes and hash straight into a batch as the string path (any text, any size)', () => {
    const batch = new LineBatch();
    const expected: string[] = [];
    let prev = 'a'.repeat(64);
    batch.reset();
    for (let i = 0; i < 300; i++) {
      const text = i % 7 === 0 ? 'x'.repeat(70_000 + i) : String(randomValue(0) ?? '') + 'ü\ud800😀"\\\n';
      const d = { ...draft(i), statement: text, detail: i % 2 ? { hash: text } : null };
      const s = buildEvent(d, i + 1, '2026-11-26T10:00:00.000001Z', prev);
      const e = appendEventLine(batch, d, i + 1, '2026-11-26T10:00:00.000001Z', prev);
      expect(e).toEqual(s.event);
      expected.push(s.line + '\n');
      prev = e.hash;
      if (i % 50 === 49) batch.appendLine('{"@":"checkpoint"}');
      if (i % 50 === 49) expected.push('{"@":"checkpoint"}\n');
    }
    expect(batch.bytes().equals(Buffer.from(expected.join(''), 'utf8'))).toBe(true);
    batch.reset();
    expect(batch.bytes().length).toBe(0);
  });

  it('serializes odd shapes of the fixed-shape fields exactly like canonicalJson', () => {
    const base = draft(1);
    const odd = [
      { ...base, actor: { ...base.actor, extra: 'x' } },
      { ...base, actor: { ...base.actor, client_port: null, db_user: 'ü"\\' } },
      { ...base, tx: null, object: null, changes: null, subject: null },
      { ...base, source: { ...base.source, id: 'a\u2028b' } },
      { ...base, changes: { columns: [], before: { b: { base64: 'AA==' }, a: null }, after: null } },
      { ...base, object: { schema: null, table: 't', key: null } },
      { ...base, extra_top: { z: 1, a: [true, false] } },
      // The standard fields with one left undefined: left out, as canonicalJson leaves it out.
      { ...base, detail: undefined },
      { ...base, subject: undefined, statement: undefined },
    ];
    for (const d of odd) {
      const b = buildEvent(d as typeof base, 3, '2026-11-26T10:00:00.000001Z', 'a'.repeat(64));
      expect(b.line).toBe(canonicalJson(b.event));
      expect(b.event.hash).toBe(eventHash(b.event));
    }
  });

  it('serializes a frozen source or actor once, and an unfrozen one every time it is used', () => {
    const base = draft(1);
    const source = Object.freeze({ ...base.source });
    const actor = Object.freeze({ ...base.actor, app_user: 'first' });
    for (let i = 0; i < 3; i++) {
      const b = buildEvent({ ...base, source, actor }, i + 1, '2026-11-26T10:00:00.000001Z', 'a'.repeat(64));
      expect(b.line).toBe(canonicalJson(b.event));
    }
    // A producer that mutates its (unfrozen) actor between events gets each event's own values.
    const mutable = { ...base.actor, app_user: 'before' };
    const first = buildEvent({ ...base, actor: mutable }, 1, '2026-11-26T10:00:00.000001Z', 'a'.repeat(64));
    mutable.app_user = 'after';
    const second = buildEvent({ ...base, actor: mutable }, 2, '2026-11-26T10:00:00.000001Z', 'a'.repeat(64));
    expect(first.line).toContain('"app_user":"before"');
    expect(second.line).toContain('"app_user":"after"');
    expect(second.line).toBe(canonicalJson(second.event));
  });

  it('rejects a draft the canonical form cannot hold, failing only its own append', async () => {
    await using t = await tempStore();
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    const chain = await store.openChain(SOURCE);
    const bad = { ...draft(1), actor: { ...draft(1).actor, client_port: 1.5 } };
    const [ok1, failed, ok2] = await Promise.allSettled([chain.append(drafts(0, 1), 'a'), chain.append([bad], 'b'), chain.append(drafts(2, 3), 'c')]);
    expect(ok1.status).toBe('fulfilled');
    expect(failed).toMatchObject({ status: 'rejected', reason: { code: 'E_CANONICAL_NUMBER' } });
    expect(ok2.status === 'fulfilled' && ok2.value[0]?.seq).toBe(2);
    expect(chain.checkpoint()?.checkpoint).toBe('c');
    await store.close();
  });
});

describe('verify line scanner', () => {
  it('lets the fast path only confirm: a row mimicking the layout does not fool verify', async () => {
    const { fastScanEventLine } = await import('../../src/store/verify-event-scan.js');
    // A nested row that imitates the members after "hash" so the fast path picks it first.
    const fakeHash = 'f'.repeat(64);
    const d = { ...draft(1), changes: { columns: ['hash'], before: null, after: { a: 'x', hash: fakeHash, id: 'a'.repeat(32), object: 'x' } } };
    const b = buildEvent(d, 1, '2026-11-26T10:00:00.000001Z', 'a'.repeat(64));
    const line = Buffer.from(b.line);
    expect(fastScanEventLine(line)?.hash).toBe(fakeHash); // fooled ...
    await using t = await tempStore();
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    await (await store.openChain(SOURCE)).append([d], 'cp');
    await store.close();
    const { verifyStore } = await import('../../src/store/verify-store.js');
    const r = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect(r.sources[0]?.issues).toEqual([]); // ... but verify falls back to the full scan
    expect(r.ok).toBe(true);
  });

  it('finds the top-level hash member past nested "hash" keys and escaped quotes in long strings', async () => {
    const { scanEventLine, fastScanEventLine, hashWithoutHashMember } = await import('../../src/store/verify-event-scan.js');
    const long = 'x'.repeat(40) + '\\"hash\\":\\"' + '"\\\\'.repeat(20) + '"hash":"';
    for (let i = 0; i < 50; i++) {
      const d = { ...draft(i), statement: i % 2 ? long : null, detail: { hash: 'f'.repeat(64), note: long.slice(0, i) } };
      const b = buildEvent(d, i + 1, '2026-11-26T10:00:00.000001Z', 'a'.repeat(64));
      const line = Buffer.from(b.line);
      const s = scanEventLine(line);
      expect(s).toMatchObject({ hash: b.event.hash, prev: 'a'.repeat(64), seq: i + 1 });
      expect(s && hashWithoutHashMember(line, s)).toBe(b.event.hash);
      expect(fastScanEventLine(line)).toEqual(s);
    }
  });
});
