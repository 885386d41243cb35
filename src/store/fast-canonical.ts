/**
 * A faster, byte-identical implementation of core `canonicalJson` for the
 * append hot path. The core version builds a JSON path string for every
 * value (for its error messages) and always sorts keys; this one does
 * neither on the happy path: keys are sorted only when they are not already
 * in order, and key strings are cached. Any value the canonical form rejects
 * (a float, an unsafe integer, a function, undefined in an array) is handed
 * to the core version, which throws its usual error naming the path.
 *
 * Equality with core canonicalJson is a tested property
 * (test/unit/store-fast-canonical.test.ts).
 */
import { canonicalJson } from '../core/canonical.js';

class Reject extends Error {}
const REJECT = new Reject();

const keyCache = new Map<string, string>();
const KEY_CACHE_MAX = 10_000;

function quotedKey(k: string): string {
  let q = keyCache.get(k);
  if (q === undefined) {
    q = JSON.stringify(k) + ':';
    if (keyCache.size < KEY_CACHE_MAX) keyCache.set(k, q);
  }
  return q;
}

/**
 * Sorts in place by UTF-16 code units, like Array.prototype.sort() without a
 * comparator. Rows and records are small: insertion sort avoids the generic
 * sort's overhead and does nothing for keys already in order.
 */
function sortKeys(keys: string[]): void {
  if (keys.length > 32) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > k) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = k;
  }
}

function primitive(x: unknown): boolean {
  const t = typeof x;
  return t === 'string' || x === null || t === 'boolean' || (t === 'number' && Number.isSafeInteger(x));
}

/**
 * True when JSON.stringify(o) is already the canonical form: a plain object
 * whose keys are in canonical order (so JSON.stringify, which follows
 * Object.keys order, emits them sorted) and whose values are all strings,
 * nulls, booleans or safe integers. Rows built in sorted column order take
 * this path and are serialized natively, in one flat string.
 */
function flatSorted(o: Record<string, unknown>, keys: string[]): boolean {
  const proto = Object.getPrototypeOf(o) as unknown;
  if (proto !== Object.prototype && proto !== null) return false; // a Date or class instance may have toJSON
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    if (i > 0 && (keys[i - 1] as string) >= k) return false;
    if (!primitive(o[k])) return false;
  }
  return true;
}

function flatArray(a: unknown[]): boolean {
  if (Object.getPrototypeOf(a) !== Array.prototype) return false; // a subclass may have toJSON
  for (let i = 0; i < a.length; i++) if (!primitive(a[i])) return false; // a hole reads undefined: not flat
  return true;
}

function write(v: unknown): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      if (!Number.isSafeInteger(v)) throw REJECT;
      return String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (Array.isArray(v)) {
        if (flatArray(v)) return JSON.stringify(v);
        let s = '[';
        for (let i = 0; i < v.length; i++) {
          if (i > 0) s += ',';
          s += write(v[i]);
        }
        return s + ']';
      }
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (flatSorted(o, keys)) return JSON.stringify(o);
      sortKeys(keys);
      let s = '{';
      let first = true;
      for (const k of keys) {
        const x = o[k];
        if (x === undefined) continue;
        if (!first) s += ',';
        first = false;
        s += quotedKey(k) + write(x);
      }
      return s + '}';
    }
    default:
      throw REJECT;
  }
}

/** Same bytes as core canonicalJson(value), and the same errors. */
export function fastCanonicalJson(value: unknown): string {
  try {
    return write(value);
  } catch (e) {
    if (e === REJECT) return canonicalJson(value); // throws the descriptive error
    throw e;
  }
}
