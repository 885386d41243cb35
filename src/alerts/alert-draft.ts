/**
 * Alert events raised by the daemon's rules. The id is derived from the
 * triggering event's id (itself derived from the source position), so a
 * replay after a crash rebuilds the same alert and the store drops it like
 * the replayed change.
 */
import { createHash } from 'node:crypto';
import type { Detail, DraftEvent, Source } from '../core/event.js';
import { alertEvent } from '../core/alert-event.js';

export function alertIdFor(triggerId: string, code: string, scope = ''): string {
  return createHash('sha256').update(`${triggerId}\u0000alert\u0000${code}\u0000${scope}`).digest('hex').slice(0, 32);
}

/** An alert about `trigger`: same time, position and actor; no row values. */
export function alertFromTrigger(trigger: DraftEvent, code: string, message: string, extra: Detail = {}, scope = ''): DraftEvent {
  return alertEvent({
    id: alertIdFor(trigger.id, code, scope),
    source: trigger.source,
    position: trigger.position,
    time: trigger.time,
    actor: trigger.actor,
    object: trigger.object === null ? null : { schema: trigger.object.schema, table: trigger.object.table, key: null },
    detail: { ...extra, code, message, trigger_id: trigger.id, trigger_action: trigger.action },
  });
}

/** An alert about the source itself (lag, silence): no triggering event. */
export function sourceAlert(source: Source, position: string, time: string, code: string, message: string, scope: string, extra: Detail = {}): DraftEvent {
  return alertEvent({ id: alertIdFor(`${source.id}\u0000${position}`, code, scope), source, position, time, detail: { ...extra, code, message } });
}
