/**
 * Building a stored event: assign the store's fields, hash, serialize.
 *
 * The stored line is exactly canonicalJson(event) and the hash is exactly
 * core eventHash(event); this file only avoids serializing twice by
 * serializing each top-level field once and joining the parts with and
 * without `hash` (top-level keys are sorted, so `hash` has a fixed slot).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/canonical.js';
import type { AuditEvent, DraftEvent } from '../core/event.js';

export interface BuiltEvent {
  readonly event: AuditEvent;
  /** canonicalJson(event), without newline. */
  readonly line: string;
}

export function buildEvent(draft: DraftEvent, seq: number, recordedAt: string, prev: string): BuiltEvent {
  // A producer may hand over a full event (e.g. re-appending); the store's
  // fields always win.
  const rest: Record<string, unknown> = { ...draft, seq, recorded_at: recordedAt, prev };
  delete rest['hash'];
  const keys = Object.keys(rest)
    .filter((k) => rest[k] !== undefined)
    .sort();
  const parts = keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(rest[k]));
  const withoutHash = '{' + parts.join(',') + '}';
  const hash = createHash('sha256').update(withoutHash).digest('hex');
  let slot = 0;
  while (slot < keys.length && (keys[slot] as string) < 'hash') slot++;
  parts.splice(slot, 0, `"hash":"${hash}"`);
  const event = { ...rest, hash } as AuditEvent;
  return { event, line: '{' + parts.join(',') + '}' };
}
