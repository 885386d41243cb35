/**
 * When verify accepts a segment as deleted under the retention policy
 * instead of counting it as not checked.
 *
 * A manifest line with `deleted_at` is written by retention, but nothing in
 * it is signed except the seal copy. Anyone able to write the store can
 * delete a segment, keep its seal and append such a line. What verify can
 * hold that person to is the seal's signed `sealed_at`: a deletion is
 * accepted only once the retention period has passed since then, because
 * before that the policy itself forbids it. A recent deletion therefore
 * stays "not checked", whatever its line claims.
 */
import type { Seal } from './seal.js';

const DAY_MS = 86_400_000;
const YEAR_MS = 366 * DAY_MS;

/** retention.keep's default (6y, counted in 366-day years as the policy counts them). */
export const DEFAULT_RETENTION_KEEP_MS = 6 * YEAR_MS;

/** Why a recorded deletion is not accepted; the segment then counts as not checked. */
export type DeletionRefusalReason = 'no_seal' | 'signature' | 'line_problem' | 'not_joined' | 'too_recent';

export interface DeletionRefusal {
  readonly reason: DeletionRefusalReason;
  /** What is missing or wrong, and what to do about it. */
  readonly problem: string;
}

export interface DeletionEvidence {
  /** The seal copy in the manifest line, if any. */
  readonly lineSeal: Seal | undefined;
  /** The seal verify joined the chain with (a leftover seal file, else the line's copy). */
  readonly seal: Seal | undefined;
  /** The seal's signature verified with the trusted key. */
  readonly signatureValid: boolean;
  readonly noPublicKey: boolean;
  /** No problem was reported for the line or its seal. */
  readonly lineClean: boolean;
  /** The seal continues the chain before it by hash (not merely by seq). */
  readonly joinedBefore: boolean;
  readonly keepMs: number;
  readonly now: number;
}

/** null: accepted (the following segment must still join it, see verify-chain.ts). */
export function refuseDeletion(e: DeletionEvidence): DeletionRefusal | null {
  if (e.lineSeal === undefined || e.seal === undefined) {
    return { reason: 'no_seal', problem: 'its manifest line holds no seal copy (written by an older version), so nothing signed places or dates it; restore the segment from a backup or the archive (--archive DIR) to have it checked' };
  }
  if (!e.signatureValid) {
    return {
      reason: 'signature',
      problem: e.noPublicKey
        ? 'its seal signature was not checked (no public key); pass --public-key with the key the store signs with'
        : e.seal.signature === null
          ? 'its seal is unsigned, so nothing dates it; only a signed store can have deletions accepted'
          : 'its seal signature does not verify with the trusted key; if --public-key is the key this store signs with, the manifest line or its seal copy was edited: restore archived.jsonl from a backup',
    };
  }
  if (!e.lineClean) {
    return { reason: 'line_problem', problem: 'its manifest line disagrees with its seal (see the problems reported for it)' };
  }
  if (!e.joinedBefore) {
    return { reason: 'not_joined', problem: 'its seal does not join the chain before it by hash (the segment before it is damaged or known only by seq)' };
  }
  const sealedMs = Date.parse(e.seal.sealed_at);
  if (Number.isNaN(sealedMs)) return { reason: 'too_recent', problem: `its seal's sealed_at (${JSON.stringify(e.seal.sealed_at.slice(0, 40))}) is not a time, so it cannot be shown to be past the retention period` };
  if (e.now - sealedMs < e.keepMs) {
    return {
      reason: 'too_recent',
      problem: `it was sealed at ${e.seal.sealed_at}, less than the retention period (${formatPeriod(e.keepMs)}) before now, so the policy did not allow its deletion yet; if the store's retention.keep is shorter, pass it with --retention-keep, otherwise the segment was deleted early: restore it from a backup or the archive (--archive DIR)`,
    };
  }
  return null;
}

/** A period for messages, in the units retention.keep is written in. */
export function formatPeriod(ms: number): string {
  if (ms % YEAR_MS === 0) return `${ms / YEAR_MS}y`;
  if (ms % DAY_MS === 0) return `${ms / DAY_MS}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
