/**
 * An anchor is a chain head (source, seq, hash) published outside the store
 * at a point in time, signed by the store's key over the canonical JSON of
 * every field but `sig` (so the key id and time are covered too). A
 * later `verify --anchors` finds every anchored head still in the chain; an
 * anchor beyond the chain's end proves the newest events were cut off,
 * which the chain alone cannot show.
 */
import type { KeyObject } from 'node:crypto';
import { canonicalJson } from '../core/canonical.js';
import { HEX_SHA256 } from '../core/event.js';
import { signText, verifyText, type SigningKey } from '../store/keys.js';

export interface AnchorRecord {
  readonly v: 1;
  readonly kind: 'dbwitness-anchor';
  readonly source: string;
  readonly seq: number;
  readonly hash: string;
  /** When the head was published (UTC ISO 8601, microseconds). */
  readonly at: string;
  readonly key_id: string | null;
  /** base64 Ed25519 signature over anchorSigningPayload(); null for an unsigned store. */
  readonly sig: string | null;
}

export function anchorSigningPayload(a: Omit<AnchorRecord, 'sig'> & { sig?: unknown }): string {
  const { sig: _sig, ...body } = a;
  return canonicalJson(body);
}

export function makeAnchor(source: string, seq: number, hash: string, at: string, key: SigningKey | null): AnchorRecord {
  const body = { v: 1 as const, kind: 'dbwitness-anchor' as const, source, seq, hash, at, key_id: key?.keyId ?? null };
  return { ...body, sig: key === null ? null : signText(key.privateKey, anchorSigningPayload(body)) };
}

export function serializeAnchor(a: AnchorRecord): string {
  return canonicalJson(a) + '\n';
}

/** A stable id for webhook deliveries of this anchor. */
export function anchorId(a: AnchorRecord): string {
  return `anchor-${a.source}-${a.seq}-${a.hash.slice(0, 16)}`;
}

/** Parses one line of an anchor file; null when it is not a well-formed anchor. */
export function parseAnchor(line: string): AnchorRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object') return null;
  const a = v as Record<string, unknown>;
  if (a['kind'] !== 'dbwitness-anchor' || a['v'] !== 1) return null;
  if (typeof a['source'] !== 'string' || typeof a['seq'] !== 'number' || !Number.isSafeInteger(a['seq']) || (a['seq'] as number) < 0) return null;
  if (typeof a['hash'] !== 'string' || !HEX_SHA256.test(a['hash']) || typeof a['at'] !== 'string') return null;
  if (a['sig'] !== null && typeof a['sig'] !== 'string') return null;
  if (a['key_id'] !== null && typeof a['key_id'] !== 'string') return null;
  return a as unknown as AnchorRecord;
}

export function anchorSignatureValid(a: AnchorRecord, publicKey: KeyObject): boolean {
  return a.sig !== null && verifyText(publicKey, anchorSigningPayload(a), a.sig);
}
