import { describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { auditEventJsonSchema } from '../../src/core/event-json-schema.js';
import { AuditEvent, GENESIS_HASH } from '../../src/core/event.js';
import { canonicalJson, eventHash } from '../../src/core/canonical.js';
import { eventId, microsToIso, nowMicros, PG_EPOCH_MICROS } from '../../src/core/ids.js';

const committed = JSON.parse(readFileSync(new URL('../../schema/audit-event.v1.json', import.meta.url), 'utf8'));

export const SAMPLE = {
  v: 1,
  id: eventId('clinic-pg', '0/16B3748', '742', 0),
  seq: 1,
  time: '2026-11-26T10:00:00.123456Z',
  recorded_at: '2026-11-26T10:00:00.200001Z',
  source: { id: 'clinic-pg', engine: 'postgres', server: 'db:5432', database: 'clinic' },
  position: '0/16B3748',
  tx: { id: '742', index: 0, count: 1 },
  actor: { db_user: 'alice', role: 'clinician', app_user: 'dr-42', client_addr: '10.0.0.7', client_port: 51234, application: 'ehr', session_id: '6745a1b2.3f1', identity: 'verified' },
  action: 'update',
  outcome: 'success',
  object: { schema: 'clinic', table: 'patients', key: { id: '9007199254740993' } },
  subject: { patient_id: '9007199254740993' },
  changes: { columns: ['balance'], before: { balance: '10.10' }, after: { balance: '12345678901234567890.01' } },
  statement: null,
  detail: null,
  prev: GENESIS_HASH,
  hash: GENESIS_HASH,
} as const;

describe('audit event v1', () => {
  it('committed JSON Schema matches the zod schema (run `npm run schema` after changing the event)', () => {
    expect(committed).toEqual(JSON.parse(JSON.stringify(auditEventJsonSchema())));
  });

  it('accepts a full event and rejects unknown fields and lossy times', () => {
    expect(AuditEvent.safeParse(SAMPLE).success).toBe(true);
    expect(AuditEvent.safeParse({ ...SAMPLE, extra: 1 }).success).toBe(false);
    expect(AuditEvent.safeParse({ ...SAMPLE, time: '2026-11-26T10:00:00.123Z' }).success).toBe(false);
    expect(AuditEvent.safeParse({ ...SAMPLE, changes: { ...SAMPLE.changes, after: { balance: 12.5 } } }).success).toBe(false);
  });
});

describe('canonical serialization', () => {
  it('is independent of key order and has no whitespace', () => {
    const a = canonicalJson({ b: 1, a: { d: 'x', c: [2, { z: null, y: true }] } });
    const b = canonicalJson({ a: { c: [2, { y: true, z: null }], d: 'x' }, b: 1 });
    expect(a).toBe(b);
    expect(a).toBe('{"a":{"c":[2,{"y":true,"z":null}],"d":"x"},"b":1}');
  });

  it('refuses floats and unsafe integers instead of rounding them', () => {
    expect(() => canonicalJson({ x: 0.1 })).toThrow(/safe integers/);
    expect(() => canonicalJson({ x: 2 ** 53 + 2 })).toThrow(/safe integers/);
  });

  it('keeps exact strings, including unicode and control characters', () => {
    const s = 'Ünïcødé \u0000 "quoted" \n 😀';
    expect(JSON.parse(canonicalJson({ s }))).toEqual({ s });
  });

  it('hashes the same event identically whatever its field order, and differently when any field changes', () => {
    const reordered = Object.fromEntries(Object.entries(SAMPLE).reverse());
    expect(eventHash(reordered as never)).toBe(eventHash(SAMPLE as never));
    expect(eventHash({ ...SAMPLE, seq: 2 } as never)).not.toBe(eventHash(SAMPLE as never));
    expect(eventHash({ ...SAMPLE, hash: 'f'.repeat(64) } as never)).toBe(eventHash(SAMPLE as never));
  });
});

describe('ids and times', () => {
  it('derives ids only from the source position', () => {
    expect(eventId('s', '0/1', '5', 0)).toBe(eventId('s', '0/1', '5', 0));
    expect(eventId('s', '0/1', '5', 0)).not.toBe(eventId('s', '0/1', '5', 1));
    expect(eventId('s', '0/1', '5', 0)).not.toBe(eventId('t', '0/1', '5', 0));
  });

  it('converts PostgreSQL commit timestamps to ISO without losing microseconds', () => {
    // 2026-11-26T10:00:00.123456Z in microseconds since 2000-01-01
    const unixMicros = BigInt(Date.UTC(2026, 10, 26, 10, 0, 0)) * 1000n + 123_456n;
    expect(microsToIso(unixMicros - PG_EPOCH_MICROS + PG_EPOCH_MICROS)).toBe('2026-11-26T10:00:00.123456Z');
    expect(microsToIso(-1n)).toBe('1969-12-31T23:59:59.999999Z');
  });

  it('reads the current time with microseconds, never before or after the wall clock around it', () => {
    // An anchor truncated to the millisecond made recorded_at up to 1 ms
    // early: before the source's own commit time of the same instant.
    const micros = (iso: string): number => Date.parse(iso.slice(0, 23) + 'Z') * 1000 + Number(iso.slice(23, 26));
    let early = 0;
    let late = 0;
    for (let i = 0; i < 2000; i++) {
      const before = Date.now() * 1000; // truncated: the true time is at or after this
      const now = micros(nowMicros());
      const after = Date.now() * 1000 + 1000; // and before this
      // 250 µs of slack: the anchor's resolution, and a preemption while it
      // was taken (corrected within a second). Truncated, three samples in
      // four were early by more than that.
      if (now < before - 250) early++;
      if (now > after + 250) late++;
    }
    expect(early).toBeLessThan(100);
    expect(late).toBeLessThan(100);
  });

  it('does not hang on a wall clock that stands still (fake timers)', async () => {
    const frozen = Date.now() + 7_200_000;
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => frozen);
    try {
      await new Promise((r) => setTimeout(r, 1100)); // due for a comparison with the wall clock
      const started = process.hrtime.bigint();
      nowMicros();
      expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(100);
    } finally {
      spy.mockRestore();
    }
  });

  it('follows a wall clock that was stepped, within a second', async () => {
    const micros = (iso: string): number => Date.parse(iso.slice(0, 23) + 'Z') * 1000 + Number(iso.slice(23, 26));
    const real = Date.now.bind(Date);
    const hour = 3_600_000;
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => real() + hour);
    try {
      await new Promise((r) => setTimeout(r, 1100));
      const now = micros(nowMicros());
      expect(Math.abs(now - (real() + hour) * 1000)).toBeLessThan(5000);
    } finally {
      spy.mockRestore();
    }
    await new Promise((r) => setTimeout(r, 1100));
    expect(Math.abs(micros(nowMicros()) - real() * 1000)).toBeLessThan(5000);
    expect(nowMicros()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });
});
