/**
 * Seals: the signed summary written when a segment rotates. A seal binds the
 * segment's exact bytes (SHA-256 digest) and its place in the chain (first
 * and last seq, count, last hash, segment number, source), so truncating,
 * editing or swapping a sealed segment is detected even by a reader who
 * re-hashes nothing but the file.
 */
import { canonicalJson } from '../core/canonical.js';
import type { KeyObject } from 'node:crypto';
import { signText, verifyText, type SigningKey } from './keys.js';

export interface SealBody {
  readonly v: 1;
  readonly kind: 'dbwitness-seal';
  readonly source: string;
  readonly segment: number;
  readonly file: string;
  /** null when the segment holds no events (only checkpoints). */
  readonly first_seq: number | null;
  readonly last_seq: number | null;
  readonly count: number;
  /** prev of the segment's first event (the chain head when the segment opened). */
  readonly prev_hash: string;
  /** Chain head at the end of the segment (== prev_hash when count is 0). */
  readonly last_hash: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly sealed_at: string;
  /** Key id of the signing key, or null for an unsigned store. */
  readonly key_id: string | null;
}

export interface Seal extends SealBody {
  /** base64 Ed25519 signature over canonicalJson(body), or null for an unsigned store. */
  readonly signature: string | null;
}

export function makeSeal(body: SealBody, key: SigningKey | null): Seal {
  return { ...body, signature: key === null ? null : signText(key.privateKey, canonicalJson(body)) };
}

export function sealBody(seal: Seal): SealBody {
  const { signature: _s, ...body } = seal;
  return body;
}

export function checkSealSignature(seal: Seal, publicKey: KeyObject): boolean {
  if (seal.signature === null) return false;
  return verifyText(publicKey, canonicalJson(sealBody(seal)), seal.signature);
}

export function serializeSeal(seal: Seal): string {
  return canonicalJson(seal) + '\n';
}
