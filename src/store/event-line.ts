/**
 * Building a stored event: assign the store's fields, hash, serialize.
 *
 * The stored line is exactly canonicalJson(event) and the hash is exactly
 * core eventHash(event); this file only avoids serializing twice by
 * serializing each top-level field once and joining the parts with and
 * without `hash` (top-level keys are sorted, so `hash` has a fixed slot).
 */
import { sha256Hex } from './sha256.js';
import { fieldJson } from './event-fields.js';
import type { AuditEvent, DraftEvent } from '../core/event.js';

export interface BuiltEvent {
  readonly event: AuditEvent;
  /** canonicalJson(event), without newline. */
  readonly line: string;
}

const STORE_FIELDS = new Set(['seq', 'recorded_at', 'prev', 'hash']);
interface Shape {
  readonly before: string[];
  readonly after: string[];
  /** Exactly the DraftEvent fields: the returned event can be a fixed-shape literal. */
  readonly standard: boolean;
}
const shapeCache = new Map<string, Shape>();
const DRAFT_FIELDS = ['action', 'actor', 'changes', 'detail', 'id', 'object', 'outcome', 'position', 'source', 'statement', 'subject', 'time', 'tx', 'v'].join(',');

let lastOwn: string[] = [];
let lastShape: Shape | null = null;

/** Top-level keys of the stored event, sorted and split around `hash` (cached per draft shape). */
function shapeOf(draft: object): Shape {
  const own = Object.keys(draft);
  // Producers build drafts the same way every time: compare with the last shape before hashing a signature.
  if (lastShape !== null && own.length === lastOwn.length) {
    let same = true;
    for (let i = 0; i < own.length; i++) {
      if (own[i] !== lastOwn[i]) {
        same = false;
        break;
      }
    }
    if (same) return lastShape;
  }
  const sig = own.join(',');
  let shape = shapeCache.get(sig);
  if (shape === undefined) {
    const keys = own.filter((k) => !STORE_FIELDS.has(k)).concat(['seq', 'recorded_at', 'prev']).sort();
    shape = { before: keys.filter((k) => k < 'hash'), after: keys.filter((k) => k > 'hash'), standard: [...own].sort().join(',') === DRAFT_FIELDS };
    if (shapeCache.size < 64) shapeCache.set(sig, shape);
  }
  lastOwn = own;
  lastShape = shape;
  return shape;
}

function storeValue(d: Record<string, unknown>, k: string, seq: number, recordedAt: string, prev: string): unknown {
  return k === 'seq' ? seq : k === 'recorded_at' ? recordedAt : k === 'prev' ? prev : d[k];
}

export function buildEvent(draft: DraftEvent, seq: number, recordedAt: string, prev: string): BuiltEvent {
  // A producer may hand over a full event (e.g. re-appending); the store's
  // fields always win.
  const d = draft as unknown as Record<string, unknown>;
  const { before, after, standard } = shapeOf(draft);
  let head = '{';
  for (const k of before) {
    const v = storeValue(d, k, seq, recordedAt, prev);
    if (v === undefined) continue;
    head += (head.length > 1 ? ',' : '') + JSON.stringify(k) + ':' + fieldJson(k, v);
  }
  let tail = '';
  for (const k of after) {
    const v = storeValue(d, k, seq, recordedAt, prev);
    if (v === undefined) continue;
    tail += ',' + JSON.stringify(k) + ':' + fieldJson(k, v);
  }
  tail += '}';
  // `hash` sorts after `action`, so `head` is never just "{" for an event;
  // the guard keeps the output canonical for any object.
  const sep = head.length > 1 ? ',' : '';
  const withoutHash = head + (sep === '' ? tail.slice(1) : tail);
  const hash = sha256Hex(withoutHash);
  const line = head + sep + `"hash":"${hash}"` + tail;
  const event = standard ? eventLiteral(draft, seq, recordedAt, prev, hash) : ({ ...draft, seq, recorded_at: recordedAt, prev, hash } as AuditEvent);
  return { event, line };
}

/** The stored event as an object literal: one hidden class for every event (object spread measured several times slower). */
function eventLiteral(d: DraftEvent, seq: number, recordedAt: string, prev: string, hash: string): AuditEvent {
  return {
    v: d.v,
    id: d.id,
    seq,
    time: d.time,
    recorded_at: recordedAt,
    source: d.source,
    position: d.position,
    tx: d.tx,
    actor: d.actor,
    action: d.action,
    outcome: d.outcome,
    object: d.object,
    subject: d.subject,
    changes: d.changes,
    statement: d.statement,
    detail: d.detail,
    prev,
    hash,
  };
}
