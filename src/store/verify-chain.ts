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
import { canonicalJson } from '../core/canonical.js';
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
import { SegmentHeadSignatures, settledHead } from './verify-head-signatures.js';
import { confirmNextEvent, fastScanEventLine, hashWithoutHashMember, scanEventLine, type ScannedEvent } from './verify-event-scan.js';
import { locateArchived, readArchiveManifest, type ArchiveManifestLine } from './verify-archive-manifest.js';
import { refuseDeletion, type DeletionRefusal } from './verify-deletion.js';

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

/**
 * A segment retention moved to the archive or deleted. `checked`: its copy
 * was read and verified exactly like a local segment. `deleted`: retention
 * deleted it under the policy, and verify accepts that (verify-deletion.ts):
 * its line has `deleted_at` and a seal copy signed by the trusted key, that
 * seal joins the chain on both sides, and it was sealed at least the
 * retention period ago. `not_checked`: no copy was reachable (or a recorded
 * deletion was not accepted); only its place in the chain was checked,
 * through `link`:
 * - `signed_seal`: the seal recorded with it has a valid signature by the
 *   trusted key, and its prev/last hashes join the segments around it;
 * - `unchecked_seal`: the same hashes, but the seal's signature could not be
 *   checked (no public key, or an unsigned store);
 * - `seq_only`: the manifest line holds no seal (written by an older
 *   version), so only the seq range joins; the hashes across it are unknown.
 */
export interface ArchivedSegmentResult {
  readonly segment: number;
  readonly status: 'checked' | 'not_checked' | 'deleted';
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  /** Chain hash at the segment's end, when known. */
  readonly lastHash: string | null;
  /** The copy that was read (checked), or the path the manifest records (not checked). */
  readonly file: string;
  readonly link: 'signed_seal' | 'unchecked_seal' | 'seq_only' | null;
  /** Paths tried, when not reachable. */
  readonly tried: string[];
  /** The seal's signed sealed_at, when a seal is known. */
  readonly sealedAt: string | null;
  /** The manifest's deleted_at: retention recorded deleting it (unsigned: accepted only as `deleted`). */
  readonly deletedAt: string | null;
  /** Why a recorded deletion is not accepted (status not_checked), else null. */
  readonly deletionRefused: DeletionRefusal | null;
  readonly notes: string[];
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
  /** Segments recorded in the archive manifest, in chain order. */
  archived: ArchivedSegmentResult[];
  /** The archive manifest ends with a partial line (a move cut by a crash, before its originals were deleted). */
  manifestTornTail: { file: string; offset: number; bytes: number } | null;
  issues: VerifyIssue[];
  issueCount: number;
}

export interface VerifyContext {
  readonly publicKey: KeyObject | null;
  /** Heads recorded earlier, outside the store: each must still be in the chain. */
  readonly expectHeads?: ReadonlyMap<string, ChainHead>;
  readonly encryptionKey: Buffer | undefined;
  /** Where archived segments may be now (DIR/<source>/<file>), tried before the paths the manifest records. */
  readonly archiveDirs: readonly string[];
  readonly maxIssues: number;
  /** The retention period a deletion must be past (from its seal's sealed_at) to be accepted. */
  readonly retentionKeepMs: number;
  /** Milliseconds since the epoch the retention period is measured to. */
  readonly now: number;
  readonly onBytes?: (n: number) => void;
  decryptOk: number;
  decryptFailed: number;
}

const TILDE = ENCRYPTED_PREFIX.charCodeAt(0);
const RECORD = Buffer.from(RECORD_PREFIX);
const AT_SIGN = RECORD[2];

export async function verifyChain(chainDir: string, sourceId: string, ctx: VerifyContext): Promise<SourceVerifyResult> {
  const r: SourceVerifyResult = { source: sourceId, events: 0, segments: 0, sealed: 0, head: { seq: 0, hash: GENESIS_HASH }, signedHead: null, tornTail: null, uncheckedSeals: 0, archived: [], manifestTornTail: null, issues: [], issueCount: 0 };
  const issue = (file: string, offset: number | null, seq: number | null, problem: string): void => {
    r.issueCount++;
    if (r.issues.length < ctx.maxIssues) r.issues.push({ source: sourceId, file, offset, seq, problem });
  };
  const keyId = ctx.publicKey === null ? null : keyIdOf(ctx.publicKey);
  const headSignatures = ctx.publicKey === null ? null : new SegmentHeadSignatures(ctx.publicKey);
  /** r.signedHead is a head whose signature waits for its segment's end. */
  let signedHeadPending = false;
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
  const manifest = await readArchiveManifest(chainDir);
  const archivedLines = manifest?.entries ?? new Map<number, { line: ArchiveManifestLine; offset: number }>();
  if (manifest !== null) {
    for (const p of manifest.problems) issue(manifest.path, p.offset, null, p.problem);
    if (manifest.tornTail !== null) r.manifestTornTail = { file: manifest.path, ...manifest.tornTail };
  }
  const max = Math.max(last, seals.at(-1) ?? 0, ...archivedLines.keys());
  let head: ChainHead = r.head;
  let checkpoint: StoredCheckpoint | null = null;
  let segmentRecordSha256 = '';
  const expected = ctx.expectHeads?.get(sourceId);
  let expectedFound: { hash: string; file: string; offset: number } | null = null;
  let resync = false;
  /** After an archived segment known only by its seq range: the seq the next segment must start after. */
  let expectSeq: number | null = null;
  /**
   * A deletion accepted so far, in r.archived: it stands only if the next
   * segment starts exactly where its seal ends. Retention never deletes the
   * newest segment, so one with nothing after it is not accepted either.
   */
  let pendingDeletion: number | null = null;
  const settleDeletion = (joinedAfter: boolean, why: string): void => {
    if (pendingDeletion === null) return;
    const d = r.archived[pendingDeletion]!;
    if (!joinedAfter) r.archived[pendingDeletion] = { ...d, status: 'not_checked', deletionRefused: { reason: 'not_joined', problem: why }, notes: d.notes.map((note) => (note === acceptedNote(d) ? refusedNote(d, why) : note)) };
    pendingDeletion = null;
  };

  for (let n = 1; n <= max; n++) {
    let file = join(chainDir, segmentFileName(n));
    let sealPath = join(chainDir, sealFileName(n));
    let sealed = sealMap.has(n);
    let seal = sealMap.get(n) ?? null;
    const archivedEntry = archivedLines.get(n);
    if (present.has(n)) {
      // Both copies exist after a move cut by a crash before the originals were deleted: harmless unless they differ.
      if (archivedEntry !== undefined && seal !== null && archivedEntry.line.sha256 !== seal.sha256) {
        issue(manifest!.path, archivedEntry.offset, null, `archive manifest records segment ${n} with a digest other than its seal in the store`);
      }
    } else if (archivedEntry !== undefined) {
      const a = archivedEntry.line;
      const where = await locateArchived(a, sourceId, ctx.archiveDirs);
      const issuesBefore = r.issueCount;
      const archiveSeal = await readArchivedSeal(where.seal, a, n, manifest!.path, archivedEntry.offset, issue);
      if (where.file === null) {
        const res = checkUnreachable(sourceId, n, a, archiveSeal, where.tried, head, resync, expectSeq, ctx.publicKey, keyId, (problem) => issue(manifest!.path, archivedEntry.offset, a.first_seq, problem));
        settleDeletion(res.joinedBefore, `the segment after it (${n}) does not continue the chain from its seal`);
        if (res.uncheckedSeal) r.uncheckedSeals++;
        let result = res.result;
        if (a.deleted_at !== undefined) {
          const refused = refuseDeletion({
            lineSeal: a.signed_seal,
            seal: archiveSeal,
            signatureValid: res.result.link === 'signed_seal',
            noPublicKey: ctx.publicKey === null,
            lineClean: r.issueCount === issuesBefore,
            joinedBefore: res.joinedBefore,
            keepMs: ctx.retentionKeepMs,
            now: ctx.now,
          });
          const accepted: ArchivedSegmentResult = { ...result, status: 'deleted' };
          result = refused === null ? { ...accepted, notes: [acceptedNote(accepted), ...result.notes] } : { ...result, deletionRefused: refused, notes: [refusedNote(result, refused.problem), ...result.notes] };
          if (refused === null) pendingDeletion = r.archived.length;
        }
        r.archived.push(result);
        head = res.head;
        resync = res.resync;
        expectSeq = res.expectSeq;
        continue;
      }
      file = where.file;
      sealPath = where.seal ?? sealPath;
      sealed = archiveSeal !== undefined;
      seal = archiveSeal ?? null;
      if (archiveSeal === undefined) issue(file, null, null, 'archived segment has no seal: neither a seal file next to it nor a copy in the archive manifest');
      r.archived.push({ segment: n, status: 'checked', firstSeq: a.first_seq, lastSeq: a.last_seq, lastHash: null, file, link: null, tried: [], sealedAt: seal?.sealed_at ?? null, deletedAt: a.deleted_at ?? null, deletionRefused: null, notes: [] });
    } else {
      issue(file, null, head.seq + 1, sealed ? 'segment file deleted (its seal remains)' : 'segment file missing: segment numbers jump past it (deleted)');
      settleDeletion(false, `segment ${n} after it is missing`);
      resync = true;
      continue;
    }
    r.segments++;
    if (sealed) r.sealed++;
    if (!sealed && n !== last && archivedEntry === undefined) issue(file, null, null, 'segment is not the newest but has no seal (seal deleted)');
    if (sealed && seal === null) issue(sealPath, null, null, 'seal file is damaged (not valid JSON)');

    let startHead = head;
    let startJoined = false;
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
        if (!resync && lineNo === 0 && rec.head?.seq === head.seq && rec.head?.hash === head.hash) startJoined = true;
        if (resync) {
          if (expectSeq !== null && rec.head?.seq !== expectSeq) {
            issue(file, line.offset, expectSeq + 1, `segment starts after seq ${rec.head?.seq} but the archived segment before it ends at seq ${expectSeq} (archive manifest): events or segments were removed or added`);
          }
          head = rec.head;
          // The seal's prev_hash is then checked against the head this segment starts from, not the stale one before the gap.
          startHead = rec.head;
          resync = false;
          expectSeq = null;
        } else if (rec.head?.seq !== head.seq || rec.head?.hash !== head.hash) {
          issue(file, line.offset, head.seq + 1, `segment starts after seq ${rec.head?.seq} but the chain before it ends at seq ${head.seq}: events or segments were removed or added`);
          head = rec.head;
        }
      } else if (rec['@'] === 'checkpoint') {
        checkpoint = { checkpoint: rec.checkpoint, seq: rec.seq, at: rec.at };
        if (rec.seq !== head.seq || rec.hash !== head.hash) issue(file, line.offset, rec.seq, 'checkpoint record does not match the chain head before it (events around it were removed, added or moved)');
      } else if (rec['@'] === 'head') {
        const cp = checkpoint;
        const recordSha256 = segmentRecordSha256;
        const payload = (): string => headSigningPayload(sourceId, rec.seq, rec.hash, rec.at, cp, recordSha256);
        let valid: boolean | null = null;
        // A head by the trusted key is settled at the segment's end, where its seal may vouch for it (verify-head-signatures.ts).
        signedHeadPending = headSignatures !== null && rec.key_id === keyId;
        if (signedHeadPending) headSignatures!.add({ issueIndex: r.issues.length, file, offset: line.offset, seq: rec.seq, payload, signature: rec.sig });
        else if (ctx.publicKey !== null) valid = verifyText(ctx.publicKey, payload(), rec.sig);
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
        // Event lines start `{"action"`: the third byte rejects them without a native compare call per line.
        if (plain[2] === AT_SIGN && plain.length >= RECORD.length && plain.compare(RECORD, 0, RECORD.length, 0, RECORD.length) === 0) {
          handleRecord(line, plain);
          lineNo++;
          continue;
        }
        if (lineNo === 0) issue(file, line.offset, null, 'segment does not start with its segment record');
        lineNo++;
        // The fast path may only confirm a line; anything short of a clean
        // confirmation is decided by the full scan (verify-event-scan.ts).
        const confirmed = resync ? null : confirmNextEvent(plain, head.seq, head.hash);
        if (confirmed !== null) {
          // As on the full path below (resync is already false here, so expectSeq is null too: kept explicit).
          expectSeq = null;
          head = { seq: head.seq + 1, hash: confirmed };
          if (expected !== undefined && head.seq === expected.seq && expectedFound === null) expectedFound = { hash: confirmed, file, offset: line.offset };
          firstSeq ??= head.seq;
          count++;
          r.events++;
          continue;
        }
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
        expectSeq = null;
        head = { seq: s.seq, hash: s.hash };
        if (expected !== undefined && s.seq === expected.seq && expectedFound === null) expectedFound = { hash: s.hash, file, offset: line.offset };
        firstSeq ??= s.seq;
        count++;
        r.events++;
      }
    }

    if (!sawSegmentRecord) issue(file, 0, null, 'segment has no segment record (emptied or rewritten)');
    settleDeletion(startJoined, `the segment after it (${n}) does not start where its seal ends`);
    const p: string[] = [];
    if (seal !== null) {
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
    }
    if (headSignatures !== null) {
      const sealVouches = seal !== null && seal.signature !== null && p.length === 0;
      const settled = headSignatures.settle(sealVouches, r.issues, sourceId, ctx.maxIssues);
      r.issueCount += settled.failed;
      // Only when the newest head so far is the one left for settling (a head by another key was checked at once).
      if (signedHeadPending) r.signedHead = settledHead(r.signedHead, settled.lastValid);
      signedHeadPending = false;
    }
    if (seal !== null && p.length > 0) issue(file, seal.bytes > bytes ? bytes : null, seal.last_seq, `seal check failed: ${p.join('; ')}`);
  }
  settleDeletion(false, 'nothing follows it in the chain, and retention never deletes the newest segment');
  if (expected !== undefined) {
    const inArchive = expectedFound === null ? r.archived.find((a) => a.status !== 'checked' && a.firstSeq !== null && a.lastSeq !== null && a.firstSeq <= expected.seq && expected.seq <= a.lastSeq) : undefined;
    if (inArchive !== undefined) {
      // The recorded head lies in a segment that could not be read: its seal still names the hash at the segment's end.
      if (inArchive.lastSeq === expected.seq && inArchive.lastHash !== null) {
        if (inArchive.lastHash !== expected.hash) issue(inArchive.file, null, expected.seq, 'the recorded head is the last event of an archived segment, whose seal names a different hash (chain rewritten)');
      } else {
        inArchive.notes.push(`the recorded head seq ${expected.seq} lies in this segment and could not be checked`);
      }
    } else if (expectedFound === null) {
      issue(join(chainDir, segmentFileName(last)), null, expected.seq, `the recorded head seq ${expected.seq} is missing: the chain now ends at seq ${head.seq} (events removed from its end)`);
    } else if (expectedFound.hash !== expected.hash) {
      issue(expectedFound.file, expectedFound.offset, expected.seq, 'the event at the recorded head has a different hash than was recorded (chain rewritten)');
    }
  }
  r.head = head;
  return r;
}

/**
 * The seal of an archived segment: the seal file found next to its copy,
 * else the copy in the manifest; undefined when there is neither. The
 * manifest's own fields are not signed, so each must agree with the seal.
 */
async function readArchivedSeal(path: string | null, a: ArchiveManifestLine, n: number, manifestPath: string, offset: number, issue: (file: string, offset: number | null, seq: number | null, problem: string) => void): Promise<Seal | undefined> {
  let fromFile: Seal | undefined;
  if (path !== null) {
    try {
      fromFile = JSON.parse(await readFile(path, 'utf8')) as Seal;
    } catch {
      issue(path, null, a.first_seq, 'archived seal file is damaged (not valid JSON)');
    }
  }
  const copy = a.signed_seal;
  if (fromFile !== undefined && copy !== undefined && canonicalJson(fromFile) !== canonicalJson(copy)) {
    issue(manifestPath, offset, a.first_seq, `the archived seal of segment ${n} (${path}) differs from the copy in the archive manifest`);
  }
  const seal = fromFile ?? copy;
  if (seal !== undefined) {
    const p: string[] = [];
    if (seal.sha256 !== a.sha256) p.push('a different digest');
    if (seal.first_seq !== a.first_seq || seal.last_seq !== a.last_seq) p.push(`seq ${a.first_seq}..${a.last_seq} where its seal covers ${seal.first_seq}..${seal.last_seq}`);
    if (p.length > 0) issue(manifestPath, offset, a.first_seq, `archive manifest records segment ${n} with ${p.join(' and ')} (manifest edited)`);
  }
  return seal;
}

interface UnreachableOutcome {
  readonly result: ArchivedSegmentResult;
  readonly head: ChainHead;
  readonly resync: boolean;
  readonly expectSeq: number | null;
  readonly uncheckedSeal: boolean;
  /** Its seal continues the chain before it by hash, not just by seq. */
  readonly joinedBefore: boolean;
}

/** The note on a deletion verify accepts. */
function acceptedNote(a: ArchivedSegmentResult): string {
  return `deleted by retention at ${a.deletedAt} after retention.keep expired: no copy exists`;
}

function refusedNote(a: ArchivedSegmentResult, problem: string): string {
  return `recorded as deleted by retention at ${a.deletedAt} after retention.keep expired, but not accepted as a deletion under the policy: ${problem}`;
}

/**
 * An archived segment whose copy is out of reach: its events cannot be
 * checked, but its seal (or, lacking one, the manifest's seq range) must
 * join the chain before and after it. The next segment is then checked
 * against the head this returns, so a segment deleted and merely listed in
 * the manifest still has to fit the chain exactly.
 */
function checkUnreachable(sourceId: string, n: number, a: ArchiveManifestLine, seal: Seal | undefined, tried: string[], head: ChainHead, resync: boolean, expectSeq: number | null, publicKey: KeyObject | null, keyId: string | null, problem: (p: string) => void): UnreachableOutcome {
  const notes: string[] = [];
  const base = { segment: n, status: 'not_checked' as const, firstSeq: a.first_seq, lastSeq: a.last_seq, file: a.file, tried, sealedAt: seal?.sealed_at ?? null, deletedAt: a.deleted_at ?? null, deletionRefused: null };
  if (seal === undefined) {
    if (!resync && a.first_seq !== null && a.first_seq !== head.seq + 1) problem(`archive manifest says segment ${n} starts at seq ${a.first_seq} but the chain before it ends at seq ${head.seq}: events or segments were removed or added`);
    if (resync && expectSeq !== null && a.first_seq !== null && a.first_seq !== expectSeq + 1) problem(`archive manifest says segment ${n} starts at seq ${a.first_seq} but the archived segment before it ends at seq ${expectSeq}`);
    notes.push('the archive manifest holds no seal for it: the chain across it is joined by seq only (its hashes are unknown)');
    const endSeq = a.last_seq ?? (resync ? expectSeq : head.seq);
    return { result: { ...base, lastHash: null, link: 'seq_only', notes }, head, resync: true, expectSeq: endSeq, uncheckedSeal: false, joinedBefore: false };
  }
  const p: string[] = [];
  if (seal.source !== sourceId || seal.segment !== n || seal.file !== segmentFileName(n)) p.push(`seal names ${seal.source}/${seal.file}`);
  let link: 'signed_seal' | 'unchecked_seal' = 'unchecked_seal';
  let uncheckedSeal = false;
  if (publicKey === null) uncheckedSeal = true;
  else if (seal.signature === null) p.push('seal is unsigned although the store has a signing key (signature removed)');
  else if (!checkSealSignature(seal, publicKey)) p.push(seal.key_id !== keyId ? `seal is signed by key ${seal.key_id}, not the trusted key ${keyId}` : 'seal signature is invalid (seal edited)');
  else link = 'signed_seal';
  let joinedBefore = false;
  if (!resync) {
    if (seal.prev_hash !== head.hash) p.push(`its seal does not continue the chain before it (prev hash differs from the head at seq ${head.seq}): events or segments were removed, added or changed`);
    else if (seal.count > 0 && seal.first_seq !== head.seq + 1) p.push(`its seal starts at seq ${seal.first_seq} but the chain before it ends at seq ${head.seq}`);
    else joinedBefore = true;
  } else if (expectSeq !== null && seal.count > 0 && seal.first_seq !== expectSeq + 1) {
    p.push(`its seal starts at seq ${seal.first_seq} but the archived segment before it ends at seq ${expectSeq}`);
  }
  if (p.length > 0) {
    // A deletion line is what someone hiding a deletion would write, so its failing seal is named as such.
    if (a.deleted_at === undefined) problem(`archived segment ${n} (not reachable): ${p.join('; ')}`);
    else problem(`segment ${n}, recorded as deleted by retention at ${a.deleted_at}: ${p.join('; ')}. Not accepted as a deletion under the policy, which needs a seal signed by the trusted key that joins the chain; if --public-key is the key this store signs with, the manifest line or its seal copy was edited: restore archived.jsonl from a backup`);
  }
  if (link === 'unchecked_seal') notes.push(publicKey === null ? 'no public key: the seal that joins it to the chain was not checked' : 'its seal carries no valid signature');
  const nextHead: ChainHead = { seq: seal.last_seq ?? head.seq, hash: seal.last_hash };
  return { result: { ...base, lastHash: seal.last_hash, link, notes }, head: nextHead, resync: false, expectSeq: null, uncheckedSeal, joinedBefore: joinedBefore && p.length === 0 };
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
