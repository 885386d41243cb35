/**
 * Alert rules over drafts: each rule fires on the event that triggers it,
 * once per transaction (or window), with an id derived from the trigger so
 * a replay rebuilds it; and through the observed chain the alerts are
 * stored in the same append as their trigger, and dropped on replay.
 */
import { describe, expect, it } from 'vitest';
import type { DraftEvent } from '../../src/core/event.js';
import { AlertRulesConfig } from '../../src/config/config-schema.js';
import { AlertRules } from '../../src/alerts/alert-rules.js';
import { eventId } from '../../src/core/ids.js';
import { alertIdFor } from '../../src/alerts/alert-draft.js';
import { WorkingHoursClock } from '../../src/alerts/working-hours.js';
import { openStore } from '../../src/store/index.js';
import { readEvents } from '../../src/store/reader.js';
import { ObservedChain } from '../../src/daemon/observed-store.js';
import { draft, tempStore, SOURCE } from './store-helpers.js';

function rules(over: Record<string, unknown> = {}): AlertRules {
  return new AlertRules(AlertRulesConfig.parse(over));
}

function codes(alerts: readonly DraftEvent[]): string[] {
  return alerts.map((a) => a.detail?.['code'] ?? '');
}

/** `n` row changes of one transaction by `user`. */
function txRows(tx: string, n: number, user = 'alice', time = '2026-11-26T10:00:00.000001Z'): DraftEvent[] {
  return Array.from({ length: n }, (_, i) =>
    draft(i, { id: eventId(SOURCE.id, `pos-${tx}`, tx, i), tx: { id: tx, index: i, count: n }, time, actor: { ...draft(0).actor, db_user: user }, action: 'insert', subject: { patient_id: `p${tx}-${i}` } }),
  );
}

describe('alert rules', () => {
  it('quiet on ordinary attributed changes with the defaults', () => {
    expect(rules().evaluate(txRows('a1', 20))).toEqual([]);
  });

  it('DDL on an audited table, and tampering with the audit machinery, are told apart', () => {
    const r = rules();
    const ddl = draft(1, { action: 'ddl', changes: null, object: { schema: 'clinic', table: 'patients', key: null }, statement: 'ALTER TABLE clinic.patients ADD COLUMN ssn text' });
    const tamper = draft(2, { action: 'ddl', changes: null, object: { schema: 'clinic', table: 'patients', key: null }, statement: 'ALTER TABLE clinic.patients DISABLE TRIGGER ALL' });
    const dropFn = draft(3, { action: 'ddl', changes: null, object: { schema: 'dbwitness', table: null, key: null }, statement: 'DROP FUNCTION dbwitness.emit_identity() CASCADE' });
    const out = r.evaluate([ddl, tamper, dropFn]);
    expect(codes(out)).toEqual(['ddl_on_audited_table', 'audit_tampering', 'audit_tampering']);
    expect(out[0]!.detail?.['trigger_id']).toBe(ddl.id);
    expect(out[0]!.id).toBe(alertIdFor(ddl.id, 'ddl_on_audited_table'));
    // The alert carries who did it, but no row values or keys.
    expect(out[0]!.actor.db_user).toBe(ddl.actor.db_user);
    expect(out[0]!.object).toEqual({ schema: 'clinic', table: 'patients', key: null });
    expect(out[0]!.changes).toBeNull();
  });

  it('an account outside the allowlist alerts once per transaction', () => {
    const r = rules({ account_allowlist: { accounts: ['alice', 'app_rw'] } });
    expect(r.evaluate(txRows('t1', 5, 'alice'))).toEqual([]);
    const out = r.evaluate([...txRows('t2', 5, 'mallory'), ...txRows('t3', 2, 'mallory')]);
    expect(codes(out)).toEqual(['account_not_allowed', 'account_not_allowed']);
    expect(out.map((a) => a.detail?.['tx_id'])).toEqual(['t2', 't3']);
  });

  it('after-hours changes, in the configured time zone', () => {
    const clock = new WorkingHoursClock({ start: '07:00', end: '19:00', days: [1, 2, 3, 4, 5], time_zone: 'America/New_York' });
    expect(clock.isWorkingTime(new Date('2026-11-26T15:00:00Z'))).toBe(true); // Thu 10:00 EST
    expect(clock.isWorkingTime(new Date('2026-11-27T02:00:00Z'))).toBe(false); // Thu 21:00 EST
    expect(clock.isWorkingTime(new Date('2026-11-28T15:00:00Z'))).toBe(false); // Saturday
    const r = rules({ after_hours: { enabled: true, time_zone: 'America/New_York' } });
    expect(r.evaluate(txRows('d1', 3, 'alice', '2026-11-26T15:00:00.000001Z'))).toEqual([]);
    expect(codes(r.evaluate(txRows('n1', 3, 'alice', '2026-11-27T02:00:00.000001Z')))).toEqual(['after_hours_access']);
    expect(() => rules({ after_hours: { enabled: true, time_zone: 'Mars/Olympus' } })).toThrow(/not a known time zone/);
  });

  it('bulk access: rows per transaction, and patients per user and window', () => {
    const r = rules({ bulk_access: { max_rows_per_tx: 10, max_rows_per_window: 1000, max_patients_per_window: 25, window: '5m' } });
    const big = txRows('b1', 30);
    const out = r.evaluate(big);
    // One alert per transaction (on the 11th row) and one for the window (on the 26th patient).
    expect(codes(out)).toEqual(['bulk_access', 'bulk_access']);
    expect(out[0]!.detail?.['trigger_id']).toBe(big[10]!.id);
    expect(out[1]!.detail?.['trigger_id']).toBe(big[25]!.id);
    expect(out[1]!.detail?.['scope']).toBe('window');
    // Same window, more patients: no second window alert.
    expect(codes(r.evaluate(txRows('b2', 5)))).toEqual([]);
    // Another user has a window of their own.
    expect(codes(r.evaluate(txRows('b3', 8, 'bob')))).toEqual([]);
  });

  it('the same drafts give the same alert ids on a fresh rule set (replay)', () => {
    const ddl = draft(1, { action: 'ddl', changes: null, statement: 'ALTER TABLE clinic.patients ADD COLUMN x int' });
    expect(rules().evaluate([ddl]).map((a) => a.id)).toEqual(rules().evaluate([ddl]).map((a) => a.id));
  });
});

describe('rules inside the store append', () => {
  it('alerts are stored with their trigger, after it when the append carries a checkpoint, and dropped on replay', async () => {
    await using tmp = await tempStore();
    const store = await openStore(tmp.dir, { signingKeyFile: tmp.keyFile });
    const chain = new ObservedChain(await store.openChain(SOURCE), rules({ account_allowlist: { accounts: ['alice'] } }), null);
    const tx = txRows('x1', 3, 'mallory');
    const stored = await chain.append(tx, 'cp-1');
    expect(stored.map((e) => e.action)).toEqual(['insert', 'insert', 'insert', 'alert']);
    expect(stored[3]!.detail?.['trigger_id']).toBe(tx[0]!.id);
    expect(chain.checkpoint()?.seq).toBe(4);
    // Replay after a crash: a fresh rule set rebuilds the same drafts and alert; the store drops all of them.
    const replayChain = new ObservedChain(chain, rules({ account_allowlist: { accounts: ['alice'] } }), null);
    expect(await replayChain.append(tx, 'cp-1')).toEqual([]);
    // A partial append of a large transaction (no checkpoint) puts alerts first, so the tail names the last change.
    const part = txRows('x2', 2, 'mallory');
    const partStored = await chain.append(part);
    expect(partStored.map((e) => e.action)).toEqual(['alert', 'insert', 'insert']);
    expect(chain.tail()).toEqual({ position: part[1]!.position, txId: 'x2', txIndex: 1 });
    await store.close();
    const all: string[] = [];
    for await (const ref of readEvents(tmp.dir)) all.push(ref.event.action);
    expect(all).toEqual(['insert', 'insert', 'insert', 'alert', 'alert', 'insert', 'insert']);
  });
});
