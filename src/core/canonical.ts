/**
 * Canonical serialization: the exact bytes that are hashed and stored.
 *
 * Object keys are sorted by UTF-16 code unit order at every depth, no
 * whitespace is emitted, strings use JSON escaping, and only integers are
 * accepted as numbers (every exact value travels as a string). The same
 * value therefore always serializes, and hashes, to the same bytes, whatever
 * order its fields were built in.
 */
import * as crypto from 'node:crypto';
import { DbwitnessError } from './errors.js';
import type { AuditEvent } from './event.js';

/**
 * The canonical form's key order: UTF-16 code units, as Array#sort sorts
 * strings by default. For producers that build objects already in this
 * order (rows), which the store then serializes natively.
 */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

function write(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) {
        // A float or an unsafe integer would not round-trip exactly.
        throw new DbwitnessError('E_CANONICAL_NUMBER', `canonical JSON accepts only safe integers, got ${value} at ${path}`, 'carry exact values as strings');
      }
      return String(value);
    case 'object': {
      if (Array.isArray(value)) {
        return '[' + value.map((v, i) => write(v, `${path}[${i}]`)).join(',') + ']';
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      return '{' + keys.map((k) => JSON.stringify(k) + ':' + write(obj[k], `${path}.${k}`)).join(',') + '}';
    }
    default:
      throw new DbwitnessError('E_CANONICAL_TYPE', `canonical JSON cannot hold a ${typeof value} at ${path}`, 'convert it to a string');
  }
}

/**
 * One-shot SHA-256 (hex). crypto.hash avoids creating a Hash object per
 * call, which matters at hundreds of thousands of events per second; it
 * exists from Node 20.12 and the package allows 20.10, hence the fallback.
 */
export const sha256Hex: (data: string | Buffer) => string =
  typeof crypto.hash === 'function' ? (data) => crypto.hash('sha256', data, 'hex') : (data) => crypto.createHash('sha256').update(data).digest('hex');

/**
 * The chain hash of an event: SHA-256 over the canonical form of every field
 * except `hash` itself (so `prev` is covered and links the chain).
 */
export function eventHash(event: Omit<AuditEvent, 'hash'> & { hash?: string }): string {
  const { hash: _ignored, ...rest } = event;
  return sha256Hex(canonicalJson(rest));
}

/** The stored line of an event: its canonical form (with `hash`). */
export function serializeEvent(event: AuditEvent): string {
  return canonicalJson(event);
}
