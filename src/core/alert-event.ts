/**
 * The one shape of an `alert` event: a failure outcome with no row values,
 * no transaction place and no statement. Every producer (the pipeline's
 * unattributed-change alert, the daemon's rules) builds alerts through this.
 */
import type { Actor, DraftEvent, ObjectRef, Source } from './event.js';
import { UNATTRIBUTED_ACTOR } from './event.js';

export interface AlertFields {
  readonly id: string;
  readonly source: Source;
  readonly position: string;
  readonly time: string;
  /** Detail with at least `code`. */
  readonly detail: Record<string, string> & { code: string };
  readonly actor?: Actor;
  readonly object?: ObjectRef | null;
}

export function alertEvent(f: AlertFields): DraftEvent {
  return {
    v: 1,
    id: f.id,
    time: f.time,
    source: f.source,
    position: f.position,
    tx: null,
    actor: f.actor ?? UNATTRIBUTED_ACTOR,
    action: 'alert',
    outcome: 'failure',
    object: f.object ?? null,
    subject: null,
    changes: null,
    statement: null,
    detail: f.detail,
  };
}
