/**
 * Offline verification of one chain directory: every line, every link,
 * every seal. Runs without the store's writer and never modifies a file.
 *
 * After a problem the check resynchronizes on the damaged line's own values,
 * so one altered event yields one issue, not an avalanche.
 */
import { createHash, type Hash, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GENESIS_HASH } from '../core/event.js';
import type { ChainHead, StoredCheckpoint } from '../core/ports.js';
import { decryptLine, ENCRYPTED_PREFIX, missingKeyError } from './encryption.js';
import { keyIdOf, verifyText } from './keys.js';
import { listSegments, sealFileName, segmentFileName } from './layout.js';
import { readLineBatches, type RawLine } from './line-reader.js';
import { parseStoreRecord } from './record-schema.js';
import { headSigningPayload, RECORD_PREFIX, type StoreRecord } from './records.js';
import { checkSealSignature, type Seal } from './seal.js';
import { sha256Hex } from './sha256.js';
import { fastScanEventLine, hashWithoutHashMember, scanEventLine, type ScannedEvent } from './verify-event-scan.js';

export interface VerifyIssue {
  readonly source: string;
  readonly file: string;
  /** Byte offset of the line in `file`, or null for file-level problems. */
  readonly offset: number | null;
  /** The event's seq (as stored, or as expected where nothing readable is stored). */
  readonly seq: number | null;
  readonly problem: string;
}

export interface SignedHead {
  readonly seq: number;
  readonly hash: string;
  readonly at: string;
  readonly keyId: string;
  readonly signature: string;
  /** null when no public key was available to check it. */
  readonly valid: boolean | null;
}

export interface SourceVerifyResult {
  readonly source: string;
  events: number;
  segments: number;
  sealed: number;
  head: ChainHead;
  signedHead: SignedHead | null;
  tornTail: { file: string; offset: number; bytes: number } | null;
  /** Seals that carry no signature, or whose signature could not be checked (no key). */
  uncheckedSeals: number;
  issues: VerifyIssue[];
  issueCount: number;
}

export interface VerifyContext {
  readonly publicKey: KeyObject | null;
  /** Heads recorded earlier, outside the store: each must still be in the chain. */
  readonly expectHeads?: ReadonlyMap<string, ChainHead>;
  readonly encryptionKey: Buffer | undefined;
  readonly maxIssues: number;
  readonly onBytes?: (n: number) => void;
  decryptOk: number;
  decryptFailed: number;
}

const TILDE = ENCRYPTED_PREFIX.charCodeAt(0);
const RECORD = Buffer.from(RECORD_PREFIX);

export async function verifyChain(chainDir: string, sourceId: string, ctx: VerifyContext): Promise<SourceVerifyResult> {
  const r: SourceVerifyResult = { source: sourceId, events: 0, segments: 0, sealed: 0, head: { seq: 0, hash: GENESIS_HASH }, signedHead: null, tornTail: null, uncheckedSeals: 0, issues: [], issueCount: 0 };
  const issue = (file: string, offset: number | null, seq: number | null, problem: string): void => {
    r.issueCount++;
    if (r.issues.length < ctx.maxIssues) r.issues.push({ source: sourceId, file, offset, seq, problem });
  };
  const keyId = ctx.publicKey === null ? null : keyIdOf(ctx.publicKey);
  const { segments, seals } = await listSegments(chainDir);
  const sealMap = new Map<number, Seal | null>();
  for (const n of seals) {
    try {
      sealMap.set(n, JSON.parse(await readFile(join(chainDir, sealFileName(n)), 'utf8')) as Seal);
    } catch {
      sealMap.set(n, null);
    }
  }
  const present = new Set(segments);
  const last = segments.at(-1) ?? 0;
  const max = Math.max(last, seals.at(-1) ?? 0);
  let head: ChainHead = r.head;
  let checkpoint: StoredCheckpoint | null = null;
  let segmentRecordSha256 = '';
  const expected = ctx.expectHeads?.get(sourceId);
  let expectedFound: { hash: string; file: string; offset: number } | null = null;
  let resync = false;

  for (let n = 1; n <= max; n++) {
    const file = join(chainDir, segmentFileName(n));
    const sealed = sealMap.has(n);
    const seal = sealMap.get(n) ?? null;
    if (!present.has(n)) {
      issue(file, null, head.seq + 1, sealed ? 'segment file deleted (its seal remains)' : 'segment file missing: segment numbers jump past it (deleted)');
      resync = true;
      continue;
    }
    r.segments++;
    if (sealed) r.sealed++;
    if (!sealed && n !== last) issue(file, null, null, 'segment is not the newest but has no seal (seal deleted)');
    if (sealed && seal === null) issue(join(chainDir, sealFileName(n)), null, null, 'seal file is damaged (not valid JSON)');

    const startHead = head;
    let firstSeq: number | null = null;
    let count = 0;
    let bytes = 0;
    let lineNo = 0;
    let sawSegmentRecord = false;
    const digest: Hash | null = sealed ? createHash('sha256') : null;
    const onBytes = (chunk: Buffer): void => {
      bytes += chunk.length;
      digest?.update(chunk);
      ctx.onBytes?.(chunk.length);
    };

    const handleRecord = (line: RawLine, plain: Buffer): void => {
      let raw: unknown;
      try {
        raw = JSON.parse(plain.toString('utf8'));
      } catch {
        issue(file, line.offset, null, 'store record is damaged (not valid JSON)');
        return;
      }
      const parsed = parseStoreRecord(raw);
      if (!parsed.ok) {
        issue(file, line.offset, null, parsed.problem);
        return;
      }
      const rec: StoreRecord = parsed.record;
      if (rec['@'] === 'segment') {
        sawSegmentRecord = true;
        segmentRecordSha256 = sha256Hex(plain);
        if (lineNo !== 0) issue(file, line.offset, null, 'segment record is not the first line');
        if (rec.segment !== n || rec.source?.id !== sourceId) issue(file, line.offset, null, `segment record names segment ${rec.segment} of ${rec.source?.id}: file moved or copied`);
        checkpoint = rec.checkpoint;
        if (resync) {
          head = rec.head;
          resync = false;
        } else if (rec.head?.seq !== head.seq || rec.head?.hash !== head.hash) {
          issue(file, line.offset, head.seq + 1, `segment starts after seq ${rec.head?.seq} but the chain before it ends at seq ${head.seq}: events or segments were removed or added`);
          head = rec.head;
        }
      } else if (rec['@'] === 'checkpoint') {
        checkpoint = { checkpoint: rec.checkpoint, seq: rec.seq, at: rec.at };
        if (rec.seq !== head.seq || rec.hash !== head.hash) issue(file, line.offset, rec.seq, 'checkpoint record does not match the chain head before it (events around it were removed, added or moved)');
      } else if (rec['@'] === 'head') {
        const valid = ctx.publicKey === null ? null : verifyText(ctx.publicKey, headSigningPayload(sourceId, rec.seq, rec.hash, rec.at, checkpoint, segmentRecordSha256), rec.sig);
        if (valid !== false && keyId !== null && rec.key_id !== keyId) issue(file, line.offset, rec.seq, `head record names key ${rec.key_id}, not the trusted key ${keyId}`);
        if (valid === false) issue(file, line.offset, rec.seq, keyId !== rec.key_id ? `head signature is by key ${rec.key_id}, not the trusted key ${keyId}` : 'head signature is invalid (this record, a checkpoint or the segment record before it was edited)');
        if (rec.seq !== head.seq || rec.hash !== head.hash) issue(file, line.offset, rec.seq, 'signed head does not match the chain at that point (events before it were removed, added or changed)');
        r.signedHead = { seq: rec.seq, hash: rec.hash, at: rec.at, keyId: rec.key_id, signature: rec.sig, valid };
      } else {
        issue(file, line.offset, null, 'unknown store record kind');
      }
    };

    for await (const batch of readLineBatches(file, onBytes)) {
      for (const line of batch) {
        if (!line.complete) {
          if (n === last && !sealed) r.tornTail = { file, offset: line.offset, bytes: line.bytes.length };
          else issue(file, line.offset, null, 'sealed segment ends with a partial line (cut or appended to)');
          continue;
        }
        let plain = line.bytes;
        if (plain[0] === TILDE) {
          if (ctx.encryptionKey === undefined) throw missingKeyError(file);
          try {
            plain = Buffer.from(decryptLine(ctx.encryptionKey, line.bytes.toString('latin1'), file), 'utf8');
            ctx.decryptOk++;
          } catch {
            ctx.decryptFailed++;
            issue(file, line.offset, head.seq + 1, 'line cannot be decrypted: altered (or written with another key)');
            resync = true;
            lineNo++;
            continue;
          }
        }
        if (plain.length >= RECORD.length && plain.compare(RECORD, 0, RECORD.length, 0, RECORD.length) === 0) {
          handleRecord(line, plain);
          lineNo++;
          continue;
        }
        if (lineNo === 0) issue(file, line.offset, null, 'segment does not start with its segment record');
        lineNo++;
        // The fast path may only confirm a line; anything short of a clean
        // confirmation is decided by the full scan (verify-event-scan.ts).
        let s: ScannedEvent | null = fastScanEventLine(plain);
        let problems: string[] | null = s === null ? null : lineProblems(plain, s, head, resync);
        if (s === null || problems === null || problems.length > 0) {
          s = scanEventLine(plain);
          if (s === null) {
            issue(file, line.offset, head.seq + 1, 'line is not a well-formed event (damaged)');
            resync = true;
            continue;
          }
          problems = lineProblems(plain, s, head, resync);
        }
        if (problems.length > 0) issue(file, line.offset, s.seq, problems.join('; '));
        resync = false;
        head = { seq: s.seq, hash: s.hash };
        if (expected !== undefined && s.seq === expected.seq && expectedFound === null) expectedFound = { hash: s.hash, file, offset: line.offset };
        firstSeq ??= s.seq;
        count++;
        r.events++;
      }
    }

    if (!sawSegmentRecord) issue(file, 0, null, 'segment has no segment record (emptied or rewritten)');
    if (seal !== null) {
      const p: string[] = [];
      if (seal.source !== sourceId || seal.segment !== n || seal.file !== segmentFileName(n)) p.push(`seal names ${seal.source}/${seal.file}`);
      if (seal.bytes > bytes) p.push(`segment holds ${bytes} bytes but was sealed at ${seal.bytes}: truncated`);
      else if (seal.bytes < bytes) p.push(`segment holds ${bytes} bytes but was sealed at ${seal.bytes}: bytes added`);
      if (seal.sha256 !== digest?.digest('hex')) p.push('segment bytes differ from the sealed digest');
      if (seal.count !== count || seal.first_seq !== firstSeq || seal.last_seq !== (count === 0 ? null : head.seq)) {
        p.push(`seal covers seq ${seal.first_seq}..${seal.last_seq} (${seal.count} events), the segment holds ${firstSeq}..${count === 0 ? null : head.seq} (${count})`);
      }
      if (seal.last_hash !== head.hash || seal.prev_hash !== startHead.hash) p.push('sealed chain hashes do not match the segment');
      if (ctx.publicKey === null) r.uncheckedSeals++;
      else if (seal.signature === null) p.push('seal is unsigned although the store has a signing key (signature removed)');
      else if (!checkSealSignature(seal, ctx.publicKey)) p.push(seal.key_id !== keyId ? `seal is signed by key ${seal.key_id}, not the trusted key ${keyId}` : 'seal signature is invalid (seal edited)');
      if (p.length > 0) issue(file, seal.bytes > bytes ? bytes : null, seal.last_seq, `seal check failed: ${p.join('; ')}`);
    }
  }
  if (expected !== undefined) {
    if (expectedFound === null) {
      issue(join(chainDir, segmentFileName(last)), null, expected.seq, `the recorded head seq ${expected.seq} is missing: the chain now ends at seq ${head.seq} (events removed from its end)`);
    } else if (expectedFound.hash !== expected.hash) {
      issue(expectedFound.file, expectedFound.offset, expected.seq, 'the event at the recorded head has a different hash than was recorded (chain rewritten)');
    }
  }
  r.head = head;
  return r;
}

function lineProblems(plain: Buffer, s: ScannedEvent, head: ChainHead, resync: boolean): string[] {
  const problems: string[] = [];
  if (hashWithoutHashMember(plain, s) !== s.hash) problems.push('content does not match its hash (event modified)');
  if (!resync) {
    if (s.seq !== head.seq + 1) problems.push(`seq ${s.seq} where ${head.seq + 1} was expected (events deleted, duplicated or reordered)`);
    if (s.prev !== head.hash) problems.push('prev does not match the hash of the event before it (that event was changed, or events were deleted, inserted or reordered)');
  }
  return problems;
}
