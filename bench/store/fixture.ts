/** Realistic audit events for the store benchmark (a PHI-style update with before/after rows). */
import type { DraftEvent, Source } from '../../src/core/event.js';
import { eventId } from '../../src/core/ids.js';

export const BENCH_SOURCE: Source = Object.freeze({ id: 'bench-pg', engine: 'postgres', server: 'db1.internal:5432', database: 'clinic' });

export function benchDraft(i: number): DraftEvent {
  const position = `16/${(0xb000000 + i * 120).toString(16).toUpperCase()}`;
  // Keys in canonical order, as the adapters build rows.
  const row = { balance: `${i % 997}.25`, dob: '1970-01-01', id: String(100000 + i), mrn: `MRN${String(i).padStart(8, '0')}`, name: `Patient ${i}` };
  return {
    v: 1,
    id: eventId(BENCH_SOURCE.id, position, String(700000 + Math.floor(i / 4)), i % 4),
    time: '2026-11-26T10:00:00.123456Z',
    source: BENCH_SOURCE,
    position,
    tx: { id: String(700000 + Math.floor(i / 4)), index: i % 4, count: 4 },
    actor: { db_user: 'app_rw', role: 'clinician', app_user: `dr.${i % 40}`, client_addr: '10.0.3.17', client_port: 51000 + (i % 1000), application: 'ehr-web', session_id: '6745a1b2.1f2c', identity: 'verified' },
    action: 'update',
    outcome: 'success',
    object: { schema: 'clinic', table: 'patients', key: { id: row.id } },
    subject: { patient_id: row.id },
    changes: { columns: ['balance'], before: { ...row, balance: '0.00' }, after: row },
    statement: null,
    detail: null,
  };
}
