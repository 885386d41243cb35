/**
 * The verify hot loop: check an event line's hash without JSON.parse.
 *
 * A stored event line is canonicalJson(event), and its hash is SHA-256 over
 * canonicalJson(event without `hash`). Removing the top-level
 * `"hash":"<hex>",` member from the line yields exactly those bytes (keys
 * are sorted and `hash` is never the last key), so verify hashes the stored
 * bytes around that member. A single pass tracks string and nesting state to
 * find the top-level `hash`, `prev` and `seq` members; nested keys named
 * "hash" (a column, a detail) are skipped by depth.
 *
 * Any byte change outside the hash member changes the hashed bytes; a change
 * inside it changes the stored hash: both fail. A line that does not scan
 * (broken JSON structure) is reported as damaged.
 */
import { sha256Hex as sha256Once } from './sha256.js';

export interface ScannedEvent {
  /** Offset of the `"hash"` key's opening quote. */
  readonly hashStart: number;
  /** Offset just past the comma after the hash value. */
  readonly hashEnd: number;
  readonly hash: string;
  readonly prev: string;
  readonly seq: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/**
 * Index of the closing quote of a string starting at `from`. Short strings
 * (keys, enums) are walked in JS; longer ones jump with the native
 * Buffer.indexOf and count the backslashes before each quote found
 * (an even run means the quote is not escaped).
 */
function stringEnd(b: Buffer, from: number, n: number): number {
  let j = from;
  const probe = Math.min(n, from + 24);
  for (; j < probe; j++) {
    const c = b[j];
    if (c === QUOTE) return j;
    if (c === BACKSLASH) j++;
  }
  for (;;) {
    const q = b.indexOf(QUOTE, j);
    if (q < 0) return -1;
    let k = q - 1;
    while (k >= from && b[k] === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q;
    j = q + 1;
  }
}

function isKey(b: Uint8Array, start: number, len: number, k0: number, k1: number, k2: number, k3: number): boolean {
  return b[start + 1] === k0 && b[start + 2] === k1 && b[start + 3] === k2 && (len === 3 || b[start + 4] === k3);
}

/** Finds the top-level hash/prev/seq members, or returns null for a line that is not a well-formed event object. */
export function scanEventLine(b: Buffer): ScannedEvent | null {
  const n = b.length;
  if (n < 2 || b[0] !== 0x7b || b[n - 1] !== 0x7d) return null;
  let depth = 1;
  let hashStart = -1;
  let hashEnd = -1;
  let hash = '';
  let prev = '';
  let seq = -1;
  let i = 1;
  while (i < n) {
    const c = b[i] as number;
    if (c === QUOTE) {
      const end = stringEnd(b, i + 1, n);
      if (end < 0) return null;
      if (depth === 1 && b[end + 1] === COLON) {
        const len = end - i - 1;
        const v = end + 2;
        if (len === 4 && isKey(b, i, 4, 0x68, 0x61, 0x73, 0x68)) {
          // "hash":"<64 hex>"
          if (b[v] !== QUOTE || b[v + 65] !== QUOTE) return null;
          hashStart = i;
          hash = b.toString('latin1', v + 1, v + 65);
          hashEnd = b[v + 66] === 0x2c ? v + 67 : v + 66;
        } else if (len === 4 && isKey(b, i, 4, 0x70, 0x72, 0x65, 0x76)) {
          if (b[v] !== QUOTE || b[v + 65] !== QUOTE) return null;
          prev = b.toString('latin1', v + 1, v + 65);
        } else if (len === 3 && isKey(b, i, 3, 0x73, 0x65, 0x71, 0)) {
          let s = 0;
          let j = v;
          for (; j < n && j < v + 16; j++) {
            const d = b[j] as number;
            if (d < 0x30 || d > 0x39) break;
            s = s * 10 + (d - 0x30);
          }
          if (j === v) return null;
          seq = s;
        }
      }
      i = end + 1;
      continue;
    }
    if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0 && i !== n - 1) return null;
    }
    i++;
  }
  if (depth !== 0 || hashStart < 0 || seq < 0 || prev === '') return null;
  return { hashStart, hashEnd, hash, prev, seq };
}

let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * SHA-256 (hex) of the line without its top-level hash member: the event's
 * chain hash. Copies into a scratch buffer and hashes once: measured faster
 * than two incremental `update` calls on a fresh Hash per line.
 */
export function hashWithoutHashMember(b: Buffer, s: Pick<ScannedEvent, 'hashStart' | 'hashEnd'>): string {
  const len = b.length - (s.hashEnd - s.hashStart);
  if (scratch.length < b.length) scratch = Buffer.allocUnsafe(b.length * 2);
  // Two typed-array builtins (copy the line, close the gap) instead of two
  // Buffer#copy calls, whose JS wrapper and native call cost more than the
  // bytes they move at this size.
  scratch.set(b);
  scratch.copyWithin(s.hashStart, s.hashEnd, b.length);
  return sha256Once(scratch.subarray(0, len));
}

// The searched needles start after the opening quote: a needle that starts
// with `"` makes the native search stop at every quote of the JSON (measured
// 2.5-3x slower per line); the quote and the comma before are checked after.
const HASH_NEEDLE = Buffer.from('hash":"');
const PREV_NEEDLE = Buffer.from('prev":"');
const ID_KEY = Buffer.from('","id":"');
const OBJECT_KEY = Buffer.from('","object":');
const RECORDED_KEY = Buffer.from('","recorded_at":"');
const SEQ_KEY = Buffer.from('","seq":');
const SOURCE_KEY = Buffer.from(',"source":{');

/** Byte comparison in JS: for needles this short, cheaper than a native Buffer#compare call per check. */
function at(b: Buffer, pos: number, needle: Buffer): boolean {
  const n = needle.length;
  if (pos < 0 || pos + n > b.length) return false;
  for (let i = 0; i < n; i++) if (b[pos + i] !== needle[i]) return false;
  return true;
}

/** The byte before `pos` is a quote and the one before that a comma: `,"<needle>`. */
function afterCommaQuote(b: Buffer, pos: number): boolean {
  return pos >= 2 && b[pos - 1] === QUOTE && b[pos - 2] === 0x2c;
}

/**
 * Fast path: locate the members by the fixed layout of a canonical event
 * (`"hash":"<64>","id":"<32>","object":` and
 * `,"prev":"<64>","recorded_at":"<27>","seq":N,"source":{`) with native
 * searches instead of a byte-by-byte walk. A nested value could in theory
 * mimic these patterns, so this path may only CONFIRM a line: when it finds
 * nothing, or its result fails any check, the caller decides with
 * `scanEventLine`. A confirmation is sound because the hashed bytes then
 * equal the chain-linked original; what it cannot notice is the hash member
 * itself moved to a place where the original text already mimicked it,
 * which changes no hashed byte (and seals catch any byte change anyway).
 */
export function fastScanEventLine(b: Buffer): ScannedEvent | null {
  const seq = fastLayout(b);
  if (seq < 0) return null;
  const p = layout.hashStart;
  return { hashStart: p, hashEnd: layout.hashEnd, hash: b.toString('latin1', p + 8, p + 72), prev: b.toString('latin1', layout.prevAt, layout.prevAt + 64), seq };
}

/**
 * Where `fastLayout` found the members. One module-level record instead of
 * an object per line: verify runs this for every event, and the allocation
 * showed in its profile.
 */
const layout = { hashStart: 0, hashEnd: 0, prevAt: 0 };

/** The fixed-layout search behind fastScanEventLine: the line's seq (positions in `layout`), or -1. */
function fastLayout(b: Buffer): number {
  // p: the `h` of `"hash":"`, q: the `p` of `,"prev":"` (offsets below are from there).
  let p = b.indexOf(HASH_NEEDLE);
  while (p >= 0) {
    if (afterCommaQuote(b, p) && at(b, p + 71, ID_KEY) && at(b, p + 111, OBJECT_KEY)) break;
    p = b.indexOf(HASH_NEEDLE, p + 1);
  }
  if (p < 0) return -1;
  let q = b.indexOf(PREV_NEEDLE, p + 123);
  while (q >= 0) {
    if (afterCommaQuote(b, q) && at(b, q + 71, RECORDED_KEY) && at(b, q + 115, SEQ_KEY)) break;
    q = b.indexOf(PREV_NEEDLE, q + 1);
  }
  if (q < 0) return -1;
  let seq = 0;
  let j = q + 123;
  const start = j;
  for (; j < b.length && j < start + 16; j++) {
    const d = b[j] as number;
    if (d < 0x30 || d > 0x39) break;
    seq = seq * 10 + (d - 0x30);
  }
  if (j === start || !at(b, j, SOURCE_KEY)) return -1;
  layout.hashStart = p - 1;
  layout.hashEnd = p + 73;
  layout.prevAt = q + 7;
  return seq;
}

/**
 * The 64 bytes at `pos` spell `hex`. A native slice and string compare:
 * measured about twice as fast as a byte loop in JS.
 */
function hexAt(b: Buffer, pos: number, hex: string): boolean {
  return b.toString('latin1', pos, pos + 64) === hex;
}

/**
 * Verify's fast path: the line's hash when, read by the fixed layout, it is
 * exactly the next event of the chain: seq `head.seq + 1`, prev `head.hash`,
 * and a stored hash equal to the SHA-256 of its other bytes. These are the
 * checks verify makes on every event, so a confirmation needs no more;
 * null means "not confirmed" and the caller decides with the full scan
 * (which also names what is wrong). Builds no per-line result object.
 */
export function confirmNextEvent(b: Buffer, headSeq: number, headHash: string): string | null {
  if (fastLayout(b) !== headSeq + 1 || !hexAt(b, layout.prevAt, headHash)) return null;
  const hash = hashWithoutHashMember(b, layout);
  return hexAt(b, layout.hashStart + 8, hash) ? hash : null;
}
