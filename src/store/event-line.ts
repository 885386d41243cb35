/**
 * Building a stored event: assign the store's fields, hash, serialize.
 *
 * The stored line is exactly canonicalJson(event) and the hash is exactly
 * core eventHash(event); this file only avoids serializing twice by
 * serializing each top-level field once and joining the parts with and
 * without `hash` (top-level keys are sorted, so `hash` has a fixed slot).
 */
import { sha256Hex } from './sha256.js';
import { fastCanonicalJson } from './fast-canonical.js';
import type { AuditEvent, DraftEvent } from '../core/event.js';

export interface BuiltEvent {
  readonly event: AuditEvent;
  /** canonicalJson(event), without newline. */
  readonly line: string;
}

const STORE_FIELDS = new Set(['seq', 'recorded_at', 'prev', 'hash']);
const shapeCache = new Map<string, { before: string[]; after: string[] }>();

/** Top-level keys of the stored event, sorted and split around `hash` (cached per draft shape). */
function shapeOf(draft: object): { before: string[]; after: string[] } {
  const own = Object.keys(draft);
  const sig = own.join(',');
  let shape = shapeCache.get(sig);
  if (shape === undefined) {
    const keys = own.filter((k) => !STORE_FIELDS.has(k)).concat(['seq', 'recorded_at', 'prev']).sort();
    shape = { before: keys.filter((k) => k < 'hash'), after: keys.filter((k) => k > 'hash') };
    if (shapeCache.size < 64) shapeCache.set(sig, shape);
  }
  return shape;
}

export function buildEvent(draft: DraftEvent, seq: number, recordedAt: string, prev: string): BuiltEvent {
  // A producer may hand over a full event (e.g. re-appending); the store's
  // fields always win.
  const d = draft as unknown as Record<string, unknown>;
  const value = (k: string): unknown => (k === 'seq' ? seq : k === 'recorded_at' ? recordedAt : k === 'prev' ? prev : d[k]);
  const { before, after } = shapeOf(draft);
  let head = '{';
  for (const k of before) {
    const v = value(k);
    if (v === undefined) continue;
    head += (head.length > 1 ? ',' : '') + JSON.stringify(k) + ':' + fastCanonicalJson(v);
  }
  let tail = '';
  for (const k of after) {
    const v = value(k);
    if (v === undefined) continue;
    tail += ',' + JSON.stringify(k) + ':' + fastCanonicalJson(v);
  }
  tail += '}';
  // `hash` sorts after `action`, so `head` is never just "{" for an event;
  // the guard keeps the output canonical for any object.
  const sep = head.length > 1 ? ',' : '';
  const withoutHash = head + (sep === '' ? tail.slice(1) : tail);
  const hash = sha256Hex(withoutHash);
  const line = head + sep + `"hash":"${hash}"` + tail;
  const event = { ...draft, seq, recorded_at: recordedAt, prev, hash } as AuditEvent;
  return { event, line };
}
