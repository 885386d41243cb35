/**
 * The line kinds of a segment file.
 *
 * Every line is canonical JSON (core canonicalJson), optionally encrypted
 * (see encryption.ts). Events are stored as themselves; store records carry
 * an `"@"` key, which sorts before every event field, so a plaintext record
 * line always starts with `{"@":` and an event line never does.
 *
 * - `segment`:    first line of every segment; carries the chain head and
 *                 newest checkpoint at the moment the segment was opened, so
 *                 recovery never needs to read older segments.
 * - `checkpoint`: written after the events of the `append` that carried it,
 *                 in the same write and fsync, with the chain head it covers.
 * - `head`:       last line of every group-commit write when the store has a
 *                 signing key: an Ed25519 signature over (source, seq, hash,
 *                 at, newest checkpoint, digest of the segment record) that
 *                 a reviewer can record outside the store.
 */
import type { AuditEvent, Source } from '../core/event.js';
import type { ChainHead, ChainTail, StoredCheckpoint } from '../core/ports.js';
import { canonicalJson } from '../core/canonical.js';
import { decryptLine, ENCRYPTED_PREFIX, missingKeyError } from './encryption.js';

export const RECORD_PREFIX = '{"@":';

export interface SegmentRecord {
  readonly '@': 'segment';
  readonly v: 1;
  readonly source: Source;
  readonly segment: number;
  readonly created_at: string;
  readonly head: ChainHead;
  readonly checkpoint: StoredCheckpoint | null;
  /** Events after that checkpoint (a transaction cut by rotation or crash). */
  readonly tail: ChainTail | null;
}

export interface CheckpointRecord {
  readonly '@': 'checkpoint';
  readonly checkpoint: string;
  readonly seq: number;
  readonly hash: string;
  readonly at: string;
}

export interface HeadRecord {
  readonly '@': 'head';
  readonly seq: number;
  readonly hash: string;
  readonly at: string;
  /** base64 Ed25519 signature over headSigningPayload(). */
  readonly sig: string;
  /** Key id (see keys.ts) of the signing key. */
  readonly key_id: string;
}

export type StoreRecord = SegmentRecord | CheckpointRecord | HeadRecord;

export type ParsedLine = { readonly kind: 'event'; readonly event: AuditEvent } | { readonly kind: 'record'; readonly record: StoreRecord };

/**
 * The bytes a `head` record's signature covers. The newest checkpoint and
 * the SHA-256 of the current segment's record line are included so that
 * editing a checkpoint record or the segment record of the unsealed segment
 * (resume position, cut-transaction tail) breaks the next signature.
 */
export function headSigningPayload(sourceId: string, seq: number, hash: string, at: string, checkpoint: StoredCheckpoint | null, segmentRecordSha256: string): string {
  return canonicalJson({
    kind: 'dbwitness-head',
    source: sourceId,
    seq,
    hash,
    at,
    checkpoint: checkpoint === null ? null : { checkpoint: checkpoint.checkpoint, seq: checkpoint.seq, at: checkpoint.at },
    segment_record: segmentRecordSha256,
  });
}

/** Plaintext of a stored line: decrypts when the line is an encrypted frame. */
export function plainLine(text: string, key: Buffer | undefined, where: string): string {
  if (text.startsWith(ENCRYPTED_PREFIX)) {
    if (key === undefined) throw missingKeyError(where);
    return decryptLine(key, text, where);
  }
  return text;
}

/** Parses a plaintext line. Throws SyntaxError on invalid JSON. */
export function parsePlainLine(plain: string): ParsedLine {
  const value = JSON.parse(plain) as unknown;
  if (plain.startsWith(RECORD_PREFIX)) return { kind: 'record', record: value as StoreRecord };
  return { kind: 'event', event: value as AuditEvent };
}
