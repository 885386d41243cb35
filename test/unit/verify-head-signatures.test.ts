/**
 * Head signatures are checked at the end of their segment: all of them
 * unless the segment's seal vouches for its bytes, and each failure lands
 * in the issue list where its line was met.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSigningKeyPair, signText } from '../../src/store/keys.js';
import type { VerifyIssue } from '../../src/store/verify-chain.js';
import { SegmentHeadSignatures } from '../../src/store/verify-head-signatures.js';

const pair = generateSigningKeyPair();
const priv = createPrivateKey(pair.privatePem);
const pub = createPublicKey(pair.publicPem);
const issueAt = (seq: number): VerifyIssue => ({ source: 's', file: 'f', offset: seq * 100, seq, problem: `event ${seq}` });

function heads(bad: Set<number>): { seq: number; payload: () => string; signature: string }[] {
  return [1, 2, 3].map((seq) => ({ seq, payload: () => `head ${seq}`, signature: signText(priv, bad.has(seq) ? 'something else' : `head ${seq}`) }));
}

describe('SegmentHeadSignatures', () => {
  it('checks every head when the seal does not vouch, and puts each failure where its line was met', () => {
    const checks = new SegmentHeadSignatures(pub);
    const issues: VerifyIssue[] = [];
    const built = heads(new Set([1, 3]));
    // Issues met while reading: event 2 between head 1 and head 2, event 4 after head 3.
    checks.add({ issueIndex: issues.length, file: 'f', offset: 150, seq: 1, payload: built[0]!.payload, signature: built[0]!.signature });
    issues.push(issueAt(2));
    checks.add({ issueIndex: issues.length, file: 'f', offset: 250, seq: 2, payload: built[1]!.payload, signature: built[1]!.signature });
    checks.add({ issueIndex: issues.length, file: 'f', offset: 350, seq: 3, payload: built[2]!.payload, signature: built[2]!.signature });
    issues.push(issueAt(4));
    const r = checks.settle(false, issues, 's', 10);
    expect(r).toEqual({ failed: 2, lastValid: false });
    expect(issues.map((i) => [i.seq, i.problem.startsWith('head signature is invalid') ? 'bad head' : i.problem])).toEqual([
      [1, 'bad head'],
      [2, 'event 2'],
      [3, 'bad head'],
      [4, 'event 4'],
    ]);
  });

  it('checks only the last head when the seal vouches for every byte of the segment', () => {
    const checks = new SegmentHeadSignatures(pub);
    for (const h of heads(new Set([1]))) checks.add({ issueIndex: 0, file: 'f', offset: h.seq, seq: h.seq, payload: h.payload, signature: h.signature });
    const issues: VerifyIssue[] = [];
    expect(checks.settle(true, issues, 's', 10)).toEqual({ failed: 0, lastValid: true });
    expect(issues).toEqual([]);
    // The last head is still checked: it is the one verify reports.
    for (const h of heads(new Set([3]))) checks.add({ issueIndex: 0, file: 'f', offset: h.seq, seq: h.seq, payload: h.payload, signature: h.signature });
    expect(checks.settle(true, issues, 's', 10)).toEqual({ failed: 1, lastValid: false });
    expect(issues).toHaveLength(1);
  });

  it('counts failures beyond the listed maximum without listing them', () => {
    const checks = new SegmentHeadSignatures(pub);
    const issues = [issueAt(7), issueAt(8)];
    for (const h of heads(new Set([1, 2, 3]))) checks.add({ issueIndex: 2, file: 'f', offset: h.seq, seq: h.seq, payload: h.payload, signature: h.signature });
    expect(checks.settle(false, issues, 's', 3).failed).toBe(3);
    expect(issues.map((i) => i.seq)).toEqual([7, 8, 1]);
  });
});
