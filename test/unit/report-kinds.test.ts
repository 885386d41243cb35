import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { IndexReader, updateIndex } from '../../src/index/index.js';
import {
  afterHoursReport,
  bulkReport,
  ddlReport,
  patientReport,
  ReportsConfig,
  summaryReport,
  unattributedReport,
  userReport,
  ZoneClock,
  parseRange,
  type ReportContext,
} from '../../src/report/index.js';
import { clinicScenario, writeStore } from './report-fixtures.js';

let dir: string;
let reader: IndexReader;

function ctx(opts: { zone?: string; from?: string; to?: string; config?: unknown } = {}): ReportContext {
  const clock = new ZoneClock(opts.zone ?? 'UTC');
  return { reader, range: parseRange(opts.from, opts.to, clock), clock, config: ReportsConfig.parse(opts.config ?? {}), storeDir: dir };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dbw-reports-'));
  await writeStore(dir, clinicScenario());
  await updateIndex(dir);
  reader = IndexReader.open(join(dir, 'index.sqlite'), dir);
});
afterAll(async () => {
  reader?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('reports on a synthetic store', () => {
  it('patient: every event of the patient across tables and sources, in time order, with who/where', () => {
    const r = patientReport(ctx(), '1');
    const rows = r.sections[0]!.rows;
    expect(rows.map((x) => [x['time'], x['db_user'], x['table'], x['source']])).toEqual([
      ['2026-11-26T09:00:00.000001Z', 'alice', 'clinic.patients', 'pg1'],
      ['2026-11-26T09:05:00.000001Z', 'alice', 'clinic.encounters', 'pg1'],
      ['2026-11-26T23:30:00.000001Z', 'bob', 'clinic.encounters', 'pg1'],
      ['2026-11-28T11:00:00.000001Z', 'carol', 'clinic.prescriptions', 'maria1'],
    ]);
    expect(rows[0]).toMatchObject({ action: 'insert', columns: 'id, name', identity: 'verified', client: '10.0.0.5:50432', application: 'ehr-web', role: 'alice' });
    expect(rows[2]).toMatchObject({ app_user: 'dr.who' });
    // The unresolved prescription (key 8) is not attributed to anyone but is counted in a note.
    expect(r.notes.join(' ')).toMatch(/1 change\(s\).*no patient id/);
  });

  it('patient: --from/--to bound the period (date-only --to includes that whole day)', () => {
    expect(patientReport(ctx({ from: '2026-11-26T09:01Z', to: '2026-11-26' }), '1').sections[0]!.rows).toHaveLength(2);
    // In New York, 23:30Z on the 26th is still the 26th; 11:00Z on the 28th is the 28th.
    expect(patientReport(ctx({ zone: 'America/New_York', from: '2026-11-27', to: '2026-11-28' }), '1').sections[0]!.rows).toHaveLength(1);
  });

  it('user: counts per table and action, matching db_user or app_user', () => {
    const r = userReport(ctx(), 'bob');
    expect(r.sections[0]!.rows).toEqual([
      { table: 'clinic.encounters', action: 'update', events: 1, patients: 1, first: '2026-11-26T23:30:00.000001Z', last: '2026-11-26T23:30:00.000001Z' },
      { table: 'clinic.patients', action: 'update', events: 30, patients: 30, first: '2026-11-26T12:00:00.000001Z', last: '2026-11-26T12:00:00.000001Z' },
    ]);
    expect(r.sections[1]!.rows).toHaveLength(31);
    expect(userReport(ctx(), 'dr.who').sections[1]!.rows).toHaveLength(1);
  });

  it('after-hours: outside 07:00-19:00 Mon-Fri in the configured zone', () => {
    const utc = afterHoursReport(ctx());
    expect(utc.sections[1]!.rows.map((x) => [x['db_user'], x['local_time']])).toEqual([
      ['bob', '2026-11-26 23:30 thu'],
      ['carol', '2026-11-28 11:00 sat'],
      ['carol', '2026-11-28 11:01 sat'],
    ]);
    expect(utc.sections[0]!.rows).toEqual([
      { db_user: 'bob', events: 1, first: '2026-11-26T23:30:00.000001Z', last: '2026-11-26T23:30:00.000001Z' },
      { db_user: 'carol', events: 2, first: '2026-11-28T11:00:00.000001Z', last: '2026-11-28T11:01:00.000001Z' },
    ]);
    // Tokyo is UTC+9: 09:00Z is 18:00 (in hours), 10:00Z is 19:00 (out), 23:30Z is 08:30 Friday (in).
    const tokyo = afterHoursReport(ctx({ zone: 'Asia/Tokyo' }));
    const times = tokyo.sections[1]!.rows.map((x) => x['time']);
    expect(times).toContain('2026-11-26T10:00:00.000001Z');
    expect(times).not.toContain('2026-11-26T09:00:00.000001Z');
    expect(times).not.toContain('2026-11-26T23:30:00.000001Z');
  });

  it('bulk: the transaction and session that touched more than N patients', () => {
    const r = bulkReport(ctx(), { patients: 20, rows: 1000 });
    expect(r.sections[0]!.rows).toEqual([expect.objectContaining({ source: 'pg1', grp: 'bulk-tx', users: 'bob', patients: 30, rows: 30, tables: 'clinic.patients' })]);
    expect(r.sections[1]!.rows).toEqual([expect.objectContaining({ grp: 'sess-bob', patients: 31, rows: 31 })]);
    expect(bulkReport(ctx(), { patients: 40, rows: 1000 }).sections[0]!.rows).toHaveLength(0);
    expect(bulkReport(ctx(), { patients: 100, rows: 29 }).sections[0]!.rows).toHaveLength(1);
  });

  it('unattributed: changes without identity, alerts, unresolved patient mapping', () => {
    const r = unattributedReport(ctx());
    expect(r.sections[0]!.rows.map((x) => [x['action'], x['table'], x['identity']])).toEqual([['delete', 'clinic.patients', 'unattributed']]);
    expect(r.sections[1]!.rows.map((x) => x['code'])).toEqual(['unattributed_change']);
    expect(r.sections[2]!.rows.map((x) => [x['table'], x['key']])).toEqual([['clinic.prescriptions', '8']]);
  });

  it('ddl and summary', () => {
    const ddl = ddlReport(ctx());
    expect(ddl.sections[0]!.rows).toEqual([expect.objectContaining({ db_user: 'admin', statement: 'ALTER TABLE clinic.patients ADD COLUMN "<script>alert(1)</script>" text' })]);
    const s = summaryReport(ctx(), null);
    expect(s.sections[0]!.rows).toEqual([
      expect.objectContaining({ source: 'maria1', events: 2, first_seq: 1, last_seq: 2, unattributed: 0, alerts: 0 }),
      expect.objectContaining({ source: 'pg1', events: 37, first_seq: 1, last_seq: 37, unattributed: 1, alerts: 1 }),
    ]);
    const users = Object.fromEntries(s.sections[2]!.rows.map((x) => [x['db_user'] ?? '(none)', x['events']]));
    expect(users).toEqual({ bob: 31, alice: 3, carol: 2, admin: 1, '(none)': 1 });
    expect(s.notes.join(' ')).toMatch(/dbwitness verify/);
  });
});
