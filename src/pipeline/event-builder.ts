/**
 * Turns source messages into draft audit events (everything but the fields
 * the store assigns). Pure functions: ids depend only on the source position,
 * so a replay after a crash rebuilds identical drafts.
 */
import type { Actor, Detail, DraftEvent, Source } from '../core/event.js';
import { UNATTRIBUTED_ACTOR } from '../core/event.js';
import { eventId } from '../core/ids.js';
import { alertEvent } from '../core/alert-event.js';
import type { RowChange, SessionIdentity } from '../core/ports.js';

export interface CommitInfo {
  readonly txId: string;
  readonly position: string;
  readonly commitTime: string;
  readonly count: number;
}

/** One actor object per identity message: every change of a transaction shares it (hot path). */
const ACTORS = new WeakMap<SessionIdentity, Actor>();

export function actorFrom(identity: SessionIdentity | null): Actor {
  if (identity === null) return UNATTRIBUTED_ACTOR;
  let actor = ACTORS.get(identity);
  if (actor === undefined) {
    // Frozen: the store then serializes it once per transaction, not per change.
    actor = Object.freeze({ ...identity, identity: 'verified' });
    ACTORS.set(identity, actor);
  }
  return actor;
}

const ROW_ACTIONS: ReadonlySet<RowChange['action']> = new Set(['insert', 'update', 'delete']);

export function changeDraft(source: Source, commit: CommitInfo, index: number, change: RowChange, identity: SessionIdentity | null): DraftEvent {
  const hasObject = change.schema !== null || change.table !== null;
  return {
    v: 1,
    id: eventId(source.id, commit.position, commit.txId, index),
    time: commit.commitTime,
    source,
    position: commit.position,
    tx: { id: commit.txId, index, count: commit.count },
    actor: actorFrom(identity),
    action: change.action,
    outcome: change.outcome ?? 'success',
    object: hasObject ? { schema: change.schema, table: change.table, key: change.key } : null,
    subject: null,
    // Drafts are never mutated downstream (the policy builds new objects), so the column list is shared.
    changes: ROW_ACTIONS.has(change.action) ? { columns: change.columns as string[], before: change.before, after: change.after } : null,
    statement: change.statement,
    detail: change.detail,
  };
}

/** Tables touched by unattributed changes of one transaction, for the alert. */
export class UnattributedTally {
  readonly #tables = new Map<string, number>();
  #total = 0;

  note(change: RowChange): void {
    const name = `${change.schema ?? ''}.${change.table ?? ''}`;
    this.#tables.set(name, (this.#tables.get(name) ?? 0) + 1);
    this.#total++;
  }

  get total(): number {
    return this.#total;
  }

  detail(txId: string): Detail {
    return {
      code: 'unattributed_change',
      message:
        'committed changes on audited tables arrived without a session identity: identity triggers were bypassed ' +
        '(disabled triggers, session_replication_role = replica, missing triggers on a table or partition) or removed',
      tx_id: txId,
      changes: String(this.#total),
      tables: [...this.#tables.keys()].sort().join(','),
    };
  }
}

/** The alert written once per transaction that carried unattributed changes. */
export function unattributedAlert(source: Source, commit: CommitInfo, tally: UnattributedTally): DraftEvent {
  return alertDraft(source, commit.position, commit.commitTime, commit.txId, 'unattributed_change', tally.detail(commit.txId));
}

export function alertDraft(source: Source, position: string, time: string, txId: string | null, code: string, detail: Detail): DraftEvent {
  return alertEvent({ id: eventId(source.id, position, txId, 0, `alert:${code}`), source, position, time, detail: { ...detail, code } });
}
