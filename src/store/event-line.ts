/**
 * Building a stored event: assign the store's fields, hash, serialize.
 *
 * The stored line is exactly canonicalJson(event) and the hash is exactly
 * core eventHash(event); this file only avoids serializing twice by
 * serializing each top-level field once and joining the parts with and
 * without `hash` (top-level keys are sorted, so `hash` has a fixed slot).
 * The append path writes those parts as bytes (line-batch.ts).
 */
import { sha256Hex } from './sha256.js';
import { fieldJson } from './event-fields.js';
import type { LineBatch } from './line-batch.js';
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

const keyPrefixes = new Map<string, string>();
function keyPrefix(k: string): string {
  let p = keyPrefixes.get(k);
  if (p === undefined) {
    p = JSON.stringify(k) + ':';
    if (keyPrefixes.size < 256) keyPrefixes.set(k, p);
  }
  return p;
}

function storeValue(d: Record<string, unknown>, k: string, seq: number, recordedAt: string, prev: string): unknown {
  return k === 'seq' ? seq : k === 'recorded_at' ? recordedAt : k === 'prev' ? prev : d[k];
}

/**
 * The canonical top-level members of the stored event, joined by commas:
 * those sorting before `hash` and those after it.
 */
function eventParts(draft: DraftEvent, seq: number, recordedAt: string, prev: string): { head: string; tail: string; standard: boolean } {
  // A producer may hand over a full event (e.g. re-appending); the store's
  // fields always win.
  const d = draft as unknown as Record<string, unknown>;
  const { before, after, standard } = shapeOf(draft);
  if (standard && definedDraft(draft)) return standardParts(draft, seq, recordedAt, prev);
  // Parts joined with Array.join give flat strings in one copy each; deep
  // `+=` ropes were measured to cost more in flattening and GC than the
  // serialization itself.
  const bp: string[] = [];
  for (const k of before) {
    const v = storeValue(d, k, seq, recordedAt, prev);
    if (v !== undefined) bp.push(keyPrefix(k) + fieldJson(k, v));
  }
  const ap: string[] = [];
  for (const k of after) {
    const v = storeValue(d, k, seq, recordedAt, prev);
    if (v !== undefined) ap.push(keyPrefix(k) + fieldJson(k, v));
  }
  return { head: bp.join(','), tail: ap.join(','), standard };
}

/** Every field of a standard draft holds a value: none is left out of the canonical form. */
function definedDraft(d: DraftEvent): boolean {
  return (
    d.action !== undefined && d.actor !== undefined && d.changes !== undefined && d.detail !== undefined && d.id !== undefined && d.object !== undefined && d.outcome !== undefined &&
    d.position !== undefined && d.source !== undefined && d.statement !== undefined && d.subject !== undefined && d.time !== undefined && d.tx !== undefined && d.v !== undefined
  );
}

/**
 * The parts of a draft with exactly the standard fields, all defined (what
 * the adapters produce): the members written in their fixed sorted order in
 * one template each, without the per-key lookups, part arrays and joins of
 * the general path (a third of the store's allocations in the PostgreSQL
 * drain). Same bytes: tested against core canonicalJson.
 */
function standardParts(d: DraftEvent, seq: number, recordedAt: string, prev: string): { head: string; tail: string; standard: boolean } {
  const head = `"action":${fieldJson('action', d.action)},"actor":${fieldJson('actor', d.actor)},"changes":${fieldJson('changes', d.changes)},"detail":${fieldJson('detail', d.detail)}`;
  const tail =
    `"id":${fieldJson('id', d.id)},"object":${fieldJson('object', d.object)},"outcome":${fieldJson('outcome', d.outcome)},"position":${fieldJson('position', d.position)},` +
    `"prev":${fieldJson('prev', prev)},"recorded_at":${fieldJson('recorded_at', recordedAt)},"seq":${fieldJson('seq', seq)},"source":${fieldJson('source', d.source)},` +
    `"statement":${fieldJson('statement', d.statement)},"subject":${fieldJson('subject', d.subject)},"time":${fieldJson('time', d.time)},"tx":${fieldJson('tx', d.tx)},"v":${fieldJson('v', d.v)}`;
  return { head, tail, standard: true };
}

function storedEvent(draft: DraftEvent, standard: boolean, seq: number, recordedAt: string, prev: string, hash: string): AuditEvent {
  return standard ? eventLiteral(draft, seq, recordedAt, prev, hash) : ({ ...draft, seq, recorded_at: recordedAt, prev, hash } as AuditEvent);
}

/** The stored event and its line as a string (the append path writes bytes instead: `appendEventLine`). */
export function buildEvent(draft: DraftEvent, seq: number, recordedAt: string, prev: string): BuiltEvent {
  const { head, tail, standard } = eventParts(draft, seq, recordedAt, prev);
  // `hash` sorts after `action`, so `head` is never empty for an event; the
  // guards keep the output canonical for any object.
  const withoutHash = '{' + head + (head !== '' && tail !== '' ? ',' : '') + tail + '}';
  const hash = sha256Hex(withoutHash);
  const line = '{' + head + (head !== '' ? ',' : '') + `"hash":"${hash}"` + (tail !== '' ? ',' : '') + tail + '}';
  return { event: storedEvent(draft, standard, seq, recordedAt, prev, hash), line };
}

/** Appends the stored event's line (and newline) to `batch` as UTF-8 and returns the event: the same bytes as `buildEvent`'s line. */
export function appendEventLine(batch: LineBatch, draft: DraftEvent, seq: number, recordedAt: string, prev: string): AuditEvent {
  const { head, tail, standard } = eventParts(draft, seq, recordedAt, prev);
  const hash = batch.appendEvent(head, tail);
  return storedEvent(draft, standard, seq, recordedAt, prev, hash);
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
