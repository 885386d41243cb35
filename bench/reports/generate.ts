/**
 * Writes a synthetic store through the real store (openStore, hash chain,
 * fsync per append) in large batches: N events over P patients, spread over
 * one year, from 200 staff accounts on two sources. Values are shaped like
 * policy output (HMAC'd columns), so event sizes match a real store.
 */
import { createHash } from 'node:crypto';
import type { DraftEvent, Source } from '../../src/core/event.js';
import { eventId } from '../../src/core/ids.js';
import { openStore } from '../../src/store/index.js';

const SOURCES: Source[] = [
  { id: 'pg-main', engine: 'postgres', server: 'db1.clinic.internal', database: 'clinic' },
  { id: 'maria-lab', engine: 'mariadb', server: 'db2.clinic.internal', database: 'lab' },
];
const TABLES = ['patients', 'encounters', 'prescriptions', 'observations'] as const;
const ACTIONS = ['insert', 'update', 'update', 'update', 'delete'] as const;
const START_MS = Date.UTC(2026, 0, 1);
const YEAR_MS = 365 * 86_400_000;

/** Deterministic patient of event i (so the bench knows the ground truth). */
export function patientOf(i: number, patients: number): string {
  return String((i * 7919) % patients);
}

function hex(i: number, salt: string): string {
  return createHash('sha256').update(`${salt}${i}`).digest('hex');
}

function draft(i: number, total: number, patients: number): DraftEvent {
  const source = SOURCES[i % 10 === 0 ? 1 : 0]!;
  const table = TABLES[i % TABLES.length]!;
  const action = ACTIONS[i % ACTIONS.length]!;
  const patient = patientOf(i, patients);
  // Monotonic time across the year, microsecond text.
  const ms = START_MS + Math.floor((i / total) * YEAR_MS);
  const time = `${new Date(ms).toISOString().slice(0, 23)}${String(i % 1000).padStart(3, '0')}Z`;
  const user = `staff${String(i % 200).padStart(3, '0')}`;
  const position = `0/${(i + 1).toString(16).toUpperCase()}`;
  const row = { id: String(i), patient_id: patient, note: { hmac: hex(i, 'n') }, code: { hmac: hex(i, 'c') }, value: { hmac: hex(i, 'v') } };
  return {
    v: 1,
    id: eventId(source.id, position, String(i >> 2), i & 3),
    time,
    source,
    position,
    tx: { id: String(i >> 2), index: i & 3, count: 4 },
    actor: {
      db_user: user,
      role: 'clinician',
      app_user: `dr.${user}`,
      client_addr: `10.0.${(i >> 8) & 255}.${i & 255}`,
      client_port: 40000 + (i % 20000),
      application: 'ehr-web',
      session_id: `65a1b2c3.${(i >> 6).toString(16)}`,
      identity: 'verified',
    },
    action,
    outcome: 'success',
    object: { schema: 'clinic', table, key: { id: String(i) } },
    subject: { patient_id: patient },
    changes: { columns: ['note', 'code', 'value'], before: action === 'insert' ? null : row, after: action === 'delete' ? null : row },
    statement: null,
    detail: null,
  };
}

export async function generateStore(dir: string, total: number, patients: number, onProgress?: (done: number) => void): Promise<void> {
  const store = await openStore(dir, { unsigned: true });
  try {
    const chains = await Promise.all(SOURCES.map((s) => store.openChain(s)));
    const BATCH = 20_000;
    for (let start = 0; start < total; start += BATCH) {
      const per: DraftEvent[][] = SOURCES.map(() => []);
      for (let i = start; i < Math.min(total, start + BATCH); i++) {
        const d = draft(i, total, patients);
        per[d.source.id === SOURCES[0]!.id ? 0 : 1]!.push(d);
      }
      await Promise.all(chains.map((c, k) => (per[k]!.length ? c.append(per[k]!, `bench-${start}`) : Promise.resolve([]))));
      onProgress?.(Math.min(total, start + BATCH));
    }
  } finally {
    await store.close();
  }
}
