/**
 * Head-record signatures of one segment, checked once the segment's seal is
 * known.
 *
 * A signed store writes a head record at the end of every group commit, so
 * a store written at low load holds about one head per event; checking each
 * Ed25519 signature (about 90 µs here) made verify 35 times slower there
 * than on a store written in batches of 1,000. Inside a sealed segment the
 * per-head signatures add nothing: the seal, signed by the same trusted
 * key, covers the digest of every byte of the segment, head records
 * included. So when the seal checks out in full, only the segment's last
 * head is checked (it is the one verify reports); otherwise, and in the
 * unsealed newest segment, every head is checked, and each failure is put
 * back in the issue list where the line was met, so the report still names
 * the first bad line first.
 */
import type { KeyObject } from 'node:crypto';
import { verifyText } from './keys.js';
import type { SignedHead, VerifyIssue } from './verify-chain.js';

interface PendingHead {
  /** Length of the issue list when the line was met: where a failure belongs. */
  readonly issueIndex: number;
  readonly file: string;
  readonly offset: number;
  readonly seq: number;
  /** The signed bytes, built only when the signature is checked. */
  readonly payload: () => string;
  readonly signature: string;
}

export class SegmentHeadSignatures {
  #pending: PendingHead[] = [];

  constructor(private readonly publicKey: KeyObject) {}

  /** Records a head whose key id is the trusted key's; its signature is checked by `settle`. */
  add(head: PendingHead): void {
    this.#pending.push(head);
  }

  /**
   * Checks the recorded signatures: only the last when `sealVouches` (the
   * segment's seal is signed by the trusted key and matches every byte),
   * else all. Failures are inserted into `issues` at their places; returns
   * how many there were, and whether the last head's signature is valid
   * (null when no head was recorded).
   */
  settle(sealVouches: boolean, issues: VerifyIssue[], source: string, maxIssues: number): { failed: number; lastValid: boolean | null } {
    const heads = this.#pending;
    this.#pending = [];
    if (heads.length === 0) return { failed: 0, lastValid: null };
    const checked = sealVouches ? heads.slice(-1) : heads;
    let failed = 0;
    let lastValid = true;
    for (const h of checked) {
      const valid = verifyText(this.publicKey, h.payload(), h.signature);
      if (h === heads.at(-1)) lastValid = valid;
      if (valid) continue;
      if (h.issueIndex + failed < maxIssues) {
        issues.splice(h.issueIndex + failed, 0, { source, file: h.file, offset: h.offset, seq: h.seq, problem: 'head signature is invalid (this record, a checkpoint or the segment record before it was edited)' });
      }
      failed++;
    }
    if (issues.length > maxIssues) issues.length = maxIssues;
    return { failed, lastValid };
  }
}

/** The reported head once its signature is settled. */
export function settledHead(head: SignedHead | null, valid: boolean | null): SignedHead | null {
  return head === null || valid === null ? head : { ...head, valid };
}
