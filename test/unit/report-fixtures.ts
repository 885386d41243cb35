/**
 * A synthetic store with known content (the ground truth for index and
 * report tests), written through the real store (openStore).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Action, DraftEvent, Row, Source } from '../../src/core/event.js';
import { eventId } from '../../src/core/ids.js';
import { openStore } from '../../src/store/index.js';

export const PG: Source = { id: 'pg1', engine: 'postgres', server: 'db1', database: 'clinic' };
export const MARIA: Source = { id: 'maria1', engine: 'mariadb', server: 'db2', database: 'clinic' };

export interface Spec {
  source?: Source;
  time: string; // micro ISO
  user?: string | null;
  appUser?: string | null;
  role?: string | null;
  session?: string | null;
  action?: Action;
  table?: string | null;
  key?: string | null;
  patient?: string | null | undefined; // undefined: table not mapped
  tx?: string;
  txIndex?: number;
  txCount?: number;
  columns?: string[];
  statement?: string | null;
  detail?: Record<string, string> | null;
}

let counter = 0;

export function makeDraft(s: Spec): DraftEvent {
  const source = s.source ?? PG;
  const [schema, table] = s.table ? (s.table.split('.') as [string, string]) : [null, null];
  const position = `0/${(++counter).toString(16).toUpperCase()}`;
  const txId = s.tx ?? String(counter);
  const key: Row | null = s.key === undefined || s.key === null ? null : { id: s.key };
  const after: Row | null = key ? { id: s.key!, note: { redacted: true } } : null;
  const user = s.user === undefined ? 'alice' : s.user;
  return {
    v: 1,
    id: eventId(source.id, position, txId, s.txIndex ?? 0),
    time: s.time,
    source,
    position,
    tx: { id: txId, index: s.txIndex ?? 0, count: s.txCount ?? 1 },
    actor: {
      db_user: user,
      role: s.role ?? user,
      app_user: s.appUser ?? null,
      client_addr: user ? '10.0.0.5' : null,
      client_port: user ? 50432 : null,
      application: user ? 'ehr-web' : null,
      session_id: s.session ?? (user ? `sess-${user}` : null),
      identity: user ? 'verified' : 'unattributed',
    },
    action: s.action ?? 'update',
    outcome: 'success',
    object: schema ? { schema, table, key } : null,
    subject: s.patient === undefined ? null : { patient_id: s.patient },
    changes: key ? { columns: s.columns ?? ['note'], before: null, after } : null,
    statement: s.statement ?? null,
    detail: s.detail ?? null,
  };
}

export async function tempStoreDir(): Promise<{ dir: string; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'dbw-report-'));
  return { dir, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

/** Appends drafts (grouped per source, in order) through the real store. */
export async function writeStore(dir: string, drafts: readonly DraftEvent[], opts: { segmentMaxBytes?: number } = {}): Promise<void> {
  const store = await openStore(dir, { unsigned: true, ...(opts.segmentMaxBytes ? { segmentMaxBytes: opts.segmentMaxBytes } : {}) });
  try {
    const bySource = new Map<string, DraftEvent[]>();
    for (const d of drafts) {
      const list = bySource.get(d.source.id) ?? [];
      list.push(d);
      bySource.set(d.source.id, list);
    }
    for (const list of bySource.values()) {
      const chain = await store.openChain(list[0]!.source);
      for (let i = 0; i < list.length; i += 50) await chain.append(list.slice(i, i + 50), `cp-${i}`);
    }
  } finally {
    await store.close();
  }
}

const T = (h: number, m = 0, day = 26) => `2026-11-${String(day).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00.000001Z`;

/**
 * The clinic scenario (times UTC, working hours 07:00-19:00 Mon-Fri in UTC;
 * 2026-11-26 is a Thursday, 2026-11-28 a Saturday).
 */
export function clinicScenario(): DraftEvent[] {
  counter = 0;
  const d: DraftEvent[] = [];
  // alice: patient 1 and 2 records during the day.
  d.push(makeDraft({ time: T(9), user: 'alice', action: 'insert', table: 'clinic.patients', key: '1', patient: '1', columns: ['id', 'name'] }));
  d.push(makeDraft({ time: T(9, 5), user: 'alice', action: 'insert', table: 'clinic.encounters', key: '100', patient: '1' }));
  d.push(makeDraft({ time: T(10), user: 'alice', action: 'update', table: 'clinic.patients', key: '2', patient: '2' }));
  // bob at night on patient 1, through the app as dr.who.
  d.push(makeDraft({ time: T(23, 30), user: 'bob', appUser: 'dr.who', action: 'update', table: 'clinic.encounters', key: '100', patient: '1' }));
  // mariadb source: carol on a Saturday, patient 1 prescription, and an unresolved lookup.
  d.push(makeDraft({ source: MARIA, time: T(11, 0, 28), user: 'carol', action: 'insert', table: 'clinic.prescriptions', key: '7', patient: '1' }));
  d.push(makeDraft({ source: MARIA, time: T(11, 1, 28), user: 'carol', action: 'insert', table: 'clinic.prescriptions', key: '8', patient: null }));
  // A bulk transaction by bob: 30 patients in one transaction.
  for (let i = 0; i < 30; i++) {
    d.push(makeDraft({ time: T(12), user: 'bob', action: 'update', table: 'clinic.patients', key: String(1000 + i), patient: String(1000 + i), tx: 'bulk-tx', txIndex: i, txCount: 30 }));
  }
  // Unattributed change (trigger disabled) and an alert.
  d.push(makeDraft({ time: T(13), user: null, action: 'delete', table: 'clinic.patients', key: '2', patient: '2' }));
  d.push(makeDraft({ time: T(13, 0), user: null, action: 'alert', table: 'clinic.patients', patient: undefined, detail: { code: 'unattributed_change' } }));
  // DDL by admin with a hostile value in the statement text.
  d.push(makeDraft({ time: T(14), user: 'admin', action: 'ddl', table: 'clinic.patients', statement: 'ALTER TABLE clinic.patients ADD COLUMN "<script>alert(1)</script>" text' }));
  return d;
}
