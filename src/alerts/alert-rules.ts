/**
 * Rules evaluated over the drafts of every store append, before they are
 * written: the alerts they raise are stored in the same append (one fsync)
 * as the events that triggered them, so an acknowledged source position
 * never covers a change whose alert was lost, and a replay rebuilds the same
 * alert ids (alert-draft.ts) that the store then drops as duplicates.
 *
 * Each rule raises at most one alert per transaction and user (or per user
 * and time window for bulk access), so a 10,000-row statement is one alert.
 */
import type { DraftEvent } from '../core/event.js';
import type { AlertRulesConfig } from '../config/config-schema.js';
import { durationMs } from '../config/config-schema.js';
import { ALERT_CODES } from './alert-codes.js';
import { alertFromTrigger } from './alert-draft.js';
import { WorkingHoursClock } from './working-hours.js';

/**
 * dbwitness's own objects (identity triggers and functions, the
 * publication, session-marker tables) all carry "dbwitness" in their name;
 * the other patterns are the documented ways to silence triggers without
 * touching those objects (DESIGN.md: DISABLE TRIGGER, session_replication_role).
 */
const TAMPER_PATTERNS: readonly RegExp[] = [/dbwitness/i, /\b(disable|enable)\s+(always\s+|replica\s+)?trigger\b/i, /\bsession_replication_role\b/i, /\b(alter|drop)\s+publication\b/i, /\bdrop\s+trigger\b/i, /\bsql_log_bin\b/i];

const DATA_ACTIONS: ReadonlySet<string> = new Set(['insert', 'update', 'delete', 'truncate', 'read', 'ddl', 'privilege']);
const ROW_ACTIONS: ReadonlySet<string> = new Set(['insert', 'update', 'delete', 'read']);

interface WindowState {
  bucket: number;
  rows: number;
  patients: Set<string>;
  alerted: boolean;
}

export class AlertRules {
  readonly #r: AlertRulesConfig;
  readonly #clock: WorkingHoursClock | null;
  readonly #allow: ReadonlySet<string>;
  readonly #windowMs: number;
  /** Per source: transaction -> user -> rows; only the current transactions are kept. */
  readonly #txRows = new Map<string, Map<string, number>>();
  /** Per source and user: the current bulk window. */
  readonly #windows = new Map<string, WindowState>();
  /** Per source: (rule, tx, user) already alerted for the open transactions. */
  readonly #txAlerted = new Map<string, Set<string>>();
  #lastTime = '';
  #bucketTime = '';
  #bucket = 0;
  #lastWorking = true;

  constructor(rules: AlertRulesConfig) {
    this.#r = rules;
    this.#clock = rules.after_hours.enabled ? new WorkingHoursClock(rules.after_hours) : null;
    this.#allow = new Set(rules.account_allowlist.accounts);
    this.#windowMs = durationMs(rules.bulk_access.window);
  }

  /** Alerts raised by these drafts (in order), given as drafts to store with them. */
  evaluate(drafts: readonly DraftEvent[]): DraftEvent[] {
    const out: DraftEvent[] = [];
    for (const d of drafts) {
      if (!DATA_ACTIONS.has(d.action)) continue;
      this.#structural(d, out);
      this.#perTx(d, out);
      if (ROW_ACTIONS.has(d.action)) this.#bulk(d, out);
    }
    return out;
  }

  #structural(d: DraftEvent, out: DraftEvent[]): void {
    if (d.action !== 'ddl' && d.action !== 'privilege' && d.action !== 'truncate') return;
    const text = [d.statement ?? '', d.object?.schema ?? '', d.object?.table ?? '', ...Object.values(d.detail ?? {})].join(' ');
    if (this.#r.audit_tampering.enabled && TAMPER_PATTERNS.some((p) => p.test(text))) {
      out.push(alertFromTrigger(d, ALERT_CODES.tampering, 'a statement altered or bypassed the audit machinery (dbwitness triggers, functions, publication, marker tables, or trigger firing)', who(d)));
      return;
    }
    if (this.#r.ddl.enabled && d.action === 'ddl') {
      out.push(alertFromTrigger(d, ALERT_CODES.ddl, 'schema change on an audited table', who(d)));
    }
  }

  #perTx(d: DraftEvent, out: DraftEvent[]): void {
    const user = d.actor.db_user;
    if (user === null) return; // unattributed: the pipeline's own alert covers it
    if (this.#r.account_allowlist.enabled && this.#allow.size > 0 && !this.#allow.has(user) && !(d.actor.role !== null && this.#allow.has(d.actor.role))) {
      if (this.#once(d, 'account', user)) out.push(alertFromTrigger(d, ALERT_CODES.account, 'change by an account outside the allowlist', who(d)));
    }
    if (this.#clock !== null && !this.#isWorkingTime(d.time)) {
      if (this.#once(d, 'hours', user)) out.push(alertFromTrigger(d, ALERT_CODES.afterHours, 'change outside working hours', who(d)));
    }
  }

  /** Every change of a transaction shares its commit time: format it once (Intl is slow per row). */
  #isWorkingTime(time: string): boolean {
    if (this.#lastTime !== time) {
      this.#lastTime = time;
      this.#lastWorking = this.#clock!.isWorkingTime(new Date(Date.parse(time)));
    }
    return this.#lastWorking;
  }

  #bulk(d: DraftEvent, out: DraftEvent[]): void {
    const b = this.#r.bulk_access;
    const user = d.actor.db_user;
    if (!b.enabled || user === null) return;
    const src = d.source.id;
    if (d.tx !== null) {
      const perTx = this.#txMap(this.#txRows, src, d.tx.id, () => new Map<string, number>());
      const rows = (perTx.get(user) ?? 0) + 1;
      perTx.set(user, rows);
      if (rows === b.max_rows_per_tx + 1) {
        out.push(alertFromTrigger(d, ALERT_CODES.bulk, `more than ${b.max_rows_per_tx} rows in one transaction`, { ...who(d), limit: String(b.max_rows_per_tx), scope: 'transaction' }, 'tx'));
      }
    }
    // Tumbling windows on commit time: deterministic on replay, unlike wall clock.
    const bucket = this.#bucketOf(d.time);
    const key = `${src}\u0000${user}`;
    let w = this.#windows.get(key);
    if (w === undefined || w.bucket !== bucket) {
      w = { bucket, rows: 0, patients: new Set(), alerted: false };
      this.#windows.set(key, w);
    }
    // One alert per window: after it, nothing more to count (and the patient set stays bounded by the limit).
    if (w.alerted) return;
    w.rows++;
    const patient = d.subject?.['patient_id'];
    if (patient !== undefined && patient !== null) w.patients.add(patient);
    if (w.rows > b.max_rows_per_window || w.patients.size > b.max_patients_per_window) {
      w.alerted = true;
      const what = w.rows > b.max_rows_per_window ? `more than ${b.max_rows_per_window} rows` : `more than ${b.max_patients_per_window} patients`;
      out.push(alertFromTrigger(d, ALERT_CODES.bulk, `${what} within ${b.window}`, { ...who(d), rows: String(w.rows), patients: String(w.patients.size), window: String(b.window), scope: 'window' }, `window:${bucket}`));
      w.patients.clear();
    }
  }

  #bucketOf(time: string): number {
    if (this.#bucketTime !== time) {
      this.#bucketTime = time;
      this.#bucket = Math.floor(Date.parse(time) / this.#windowMs);
    }
    return this.#bucket;
  }

  /** True the first time (rule, tx, user) is seen among the source's open transactions. */
  #once(d: DraftEvent, rule: string, user: string): boolean {
    const txKey = d.tx?.id ?? d.position;
    const seen = this.#txMap(this.#txAlerted, d.source.id, txKey, () => new Set<string>());
    const k = `${rule}\u0000${user}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  }

  /**
   * Per-source state of the current transaction only: a new transaction id
   * replaces the previous one, so memory stays bounded.
   */
  #txMap<T>(store: Map<string, T>, src: string, txId: string, make: () => T): T {
    const key = `${src}\u0000${txId}`;
    let v = store.get(key);
    if (v === undefined) {
      for (const k of store.keys()) if (k.startsWith(`${src}\u0000`)) store.delete(k);
      v = make();
      store.set(key, v);
    }
    return v;
  }
}

function who(d: DraftEvent): Record<string, string> {
  const out: Record<string, string> = {};
  if (d.actor.db_user !== null) out['db_user'] = d.actor.db_user;
  if (d.actor.role !== null) out['role'] = d.actor.role;
  if (d.actor.client_addr !== null) out['client_addr'] = d.actor.client_addr;
  if (d.object?.schema) out['schema'] = d.object.schema;
  if (d.object?.table) out['table'] = d.object.table;
  if (d.tx !== null) out['tx_id'] = d.tx.id;
  return out;
}
