/**
 * Recovering a chain's state from its files when it is opened.
 *
 * Only the newest segment is read in full: its first line (the segment
 * record) carries the chain head and newest checkpoint at the moment it was
 * created. Older segments are read only to refill the dedupe window.
 *
 * A crash mid-write leaves at most a torn last line (bytes after the last
 * newline) in the newest, unsealed segment; it is truncated and reported.
 * Anything else that does not parse is damage, not a crash: the chain
 * refuses to open and points at `dbwitness verify`. Sealed segments are
 * never modified.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DbwitnessError } from '../core/errors.js';
import { GENESIS_HASH } from '../core/event.js';
import type { ChainHead, ChainTail, StoredCheckpoint } from '../core/ports.js';
import { ARCHIVE_MANIFEST, listSegments, sealFileName, segmentFileName } from './layout.js';
import { readLineBatches } from './line-reader.js';
import { plainLine, RECORD_PREFIX, type StoreRecord } from './records.js';
import { ENCRYPTED_PREFIX } from './encryption.js';
import { fastScanEventLine } from './verify-event-scan.js';
import type { AuditEvent } from '../core/event.js';
import { fsyncDir } from './durable-fs.js';
import { sha256Hex } from './sha256.js';
import type { Seal } from './seal.js';
import { readArchiveManifest } from './verify-archive-manifest.js';

export interface TornTailRepair {
  readonly sourceId: string;
  readonly file: string;
  /** Offset the file was truncated to. */
  readonly offset: number;
  /** Bytes removed. */
  readonly bytes: number;
}

export interface OpenSegmentState {
  readonly number: number;
  readonly size: number;
  readonly createdAtMs: number;
  readonly digest: Hash;
  readonly firstSeq: number | null;
  readonly count: number;
  /** Chain head when the segment was created. */
  readonly startHead: ChainHead;
  /** SHA-256 (hex) of the segment record's plaintext line, covered by head signatures. */
  readonly recordSha256: string;
}

export interface RecoveredChain {
  readonly head: ChainHead;
  readonly checkpoint: StoredCheckpoint | null;
  readonly tail: ChainTail | null;
  /** The open segment, or null when a new one must be created (none yet, or the newest is sealed). */
  readonly open: OpenSegmentState | null;
  /** Number of the segment to create when `open` is null. */
  readonly nextSegment: number;
  /** Most recent event ids, oldest first (at most `window`). */
  readonly recentIds: string[];
  readonly repair: TornTailRepair | null;
  /** Seals left without their segment by an interrupted retention run (accepted: see checkLeftoverSeals). */
  readonly leftoverSeals: readonly number[];
}

export function corruptError(what: string): DbwitnessError {
  return new DbwitnessError('E_STORE_CORRUPT', what, 'run `dbwitness verify` on the store to locate the damage; do not write to this chain until it is explained', { exitCode: 1 });
}

interface SegmentScan {
  head: ChainHead;
  checkpoint: StoredCheckpoint | null;
  tail: ChainTail | null;
  ids: string[];
  firstSeq: number | null;
  count: number;
  createdAtMs: number;
  startHead: ChainHead;
  digest: Hash;
  /** Offset of the torn trailing bytes, or null. */
  tornAt: number | null;
  size: number;
  recordSha256: string;
}

async function scanSegment(file: string, key: Buffer | undefined, keepIds: boolean): Promise<SegmentScan> {
  const s: SegmentScan = {
    head: { seq: 0, hash: GENESIS_HASH },
    checkpoint: null,
    tail: null,
    ids: [],
    firstSeq: null,
    count: 0,
    createdAtMs: Date.now(),
    startHead: { seq: 0, hash: GENESIS_HASH },
    digest: createHash('sha256'),
    tornAt: null,
    size: 0,
    recordSha256: '',
  };
  let sawHeader = false;
  // The tail needs the last event after the newest checkpoint in full; the
  // others only need seq, hash and id, which the verify fast path reads
  // without JSON.parse (reopening a 64 MiB segment is a daemon restart).
  let lastEvent: Buffer | null = null;
  let lastEventIsTail = false;
  for await (const batch of readLineBatches(file)) {
    for (const line of batch) {
      if (!line.complete) {
        s.tornAt = line.offset;
        continue;
      }
      const where = `${file} at byte ${line.offset}`;
      s.digest.update(line.bytes).update('\n');
      s.size = line.offset + line.bytes.length + 1;
      let plain: Buffer = line.bytes;
      if (plain[0] === TILDE) plain = Buffer.from(plainLine(line.bytes.toString('latin1'), key, where), 'utf8');
      if (plain.length >= RECORD.length && plain.compare(RECORD, 0, RECORD.length, 0, RECORD.length) === 0) {
        const r = parseRecord(plain, where);
        if (r['@'] === 'segment') {
          sawHeader = true;
          s.recordSha256 = sha256Hex(plain);
          s.head = r.head;
          s.startHead = r.head;
          s.checkpoint = r.checkpoint;
          s.tail = r.tail;
          s.createdAtMs = Date.parse(r.created_at);
        } else if (r['@'] === 'checkpoint') {
          s.checkpoint = { checkpoint: r.checkpoint, seq: r.seq, at: r.at };
          s.tail = null;
          lastEventIsTail = false;
        }
        continue;
      }
      if (!sawHeader) throw corruptError(`${file} does not start with a segment record`);
      const f = fastScanEventLine(plain);
      if (f === null) {
        // Not the canonical layout: decide with a real parse.
        const ev = parseEvent(plain, where);
        s.head = { seq: ev.seq, hash: ev.hash };
        if (keepIds) s.ids.push(ev.id);
      } else {
        s.head = { seq: f.seq, hash: f.hash };
        // The fast path matched `"hash":"<64>","id":"<32>"`: the id follows the hash member.
        if (keepIds) s.ids.push(plain.toString('latin1', f.hashEnd + 6, f.hashEnd + 38));
      }
      s.firstSeq ??= s.head.seq;
      s.count++;
      lastEvent = Buffer.from(plain);
      lastEventIsTail = true;
    }
  }
  if (lastEvent !== null && lastEventIsTail) {
    const ev = parseEvent(lastEvent, `${file} (last event)`);
    s.tail = { position: ev.position, txId: ev.tx?.id ?? null, txIndex: ev.tx?.index ?? null };
  }
  if (!sawHeader) throw corruptError(`${file} has no segment record`);
  return s;
}

const TILDE = ENCRYPTED_PREFIX.charCodeAt(0);
const RECORD = Buffer.from(RECORD_PREFIX);

function parseRecord(plain: Buffer, where: string): StoreRecord {
  try {
    return JSON.parse(plain.toString('utf8')) as StoreRecord;
  } catch {
    throw corruptError(`${where} is not a valid line`);
  }
}

function parseEvent(plain: Buffer, where: string): AuditEvent {
  let v: unknown;
  try {
    v = JSON.parse(plain.toString('utf8'));
  } catch {
    throw corruptError(`${where} is not a valid line`);
  }
  const ev = v as Partial<AuditEvent>;
  if (typeof ev.seq !== 'number' || typeof ev.hash !== 'string' || typeof ev.id !== 'string') throw corruptError(`${where} is not an event`);
  return ev as AuditEvent;
}

async function truncateTo(file: string, size: number): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.truncate(size);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * A seal whose segment file is gone is damage, except after retention was
 * cut short between removing a segment it had recorded in archived.jsonl as
 * moved or deleted and removing its seal (src/retention/retention-actions.ts).
 * That leftover is left in place for retention's next run, which removes it
 * only while an identical copy remains; verify reads it like an archived
 * seal. Retention never moves the newest segment, so a leftover is always
 * older than it, and new segments can never be numbered over it.
 */
async function checkLeftoverSeals(chainDir: string, sourceId: string, loneSeals: readonly number[], newest: number): Promise<void> {
  const manifest = await readArchiveManifest(chainDir);
  for (const n of loneSeals) {
    const recorded = manifest?.entries.get(n);
    const what = `the seal of segment ${n} of ${sourceId} has no segment file`;
    if (recorded === undefined) throw corruptError(`${what}, and ${ARCHIVE_MANIFEST} does not record the segment as moved or deleted`);
    if (n >= newest) throw corruptError(`${what}, and it is not older than the newest segment ${newest}, which retention never moves`);
    let seal: Partial<Seal> | null;
    try {
      seal = JSON.parse(await readFile(join(chainDir, sealFileName(n)), 'utf8')) as Partial<Seal> | null;
    } catch {
      throw corruptError(`${what}, and the seal is not valid JSON`);
    }
    if (seal?.sha256 !== recorded.line.sha256 || seal.segment !== n || seal.source !== sourceId) {
      throw corruptError(`${what}, and the seal does not match the line ${ARCHIVE_MANIFEST} holds for the segment (at byte ${recorded.offset})`);
    }
  }
}

export async function recoverChain(chainDir: string, sourceId: string, key: Buffer | undefined, window: number): Promise<RecoveredChain> {
  const { segments, seals } = await listSegments(chainDir);
  const sealed = new Set(seals);
  if (segments.length === 0) {
    if (seals.length > 0) throw corruptError(`${chainDir} has seals but no segment files`);
    return { head: { seq: 0, hash: GENESIS_HASH }, checkpoint: null, tail: null, open: null, nextSegment: 1, recentIds: [], repair: null, leftoverSeals: [] };
  }
  for (const n of segments.slice(0, -1)) {
    if (!sealed.has(n)) throw corruptError(`segment ${segmentFileName(n)} of ${sourceId} is not the newest but has no seal`);
  }
  const last = segments[segments.length - 1] as number;
  const loneSeals = seals.filter((n) => !segments.includes(n));
  if (loneSeals.length > 0) await checkLeftoverSeals(chainDir, sourceId, loneSeals, last);
  const lastFile = join(chainDir, segmentFileName(last));
  const scan = await scanSegment(lastFile, key, true);
  let repair: TornTailRepair | null = null;
  if (scan.tornAt !== null) {
    if (sealed.has(last)) throw corruptError(`sealed segment ${lastFile} ends with a partial line`);
    const fh = await open(lastFile, 'r');
    const { size } = await fh.stat();
    await fh.close();
    await truncateTo(lastFile, scan.tornAt);
    await fsyncDir(chainDir);
    repair = { sourceId, file: lastFile, offset: scan.tornAt, bytes: size - scan.tornAt };
  }
  // Refill the dedupe window from older segments, newest first.
  let ids = scan.ids.slice(-window);
  for (let i = segments.length - 2; i >= 0 && ids.length < window; i--) {
    const older = await scanSegment(join(chainDir, segmentFileName(segments[i] as number)), key, true);
    ids = older.ids.concat(ids).slice(-window);
  }
  const open_: OpenSegmentState | null = sealed.has(last)
    ? null
    : { number: last, size: scan.size, createdAtMs: scan.createdAtMs, digest: scan.digest, firstSeq: scan.firstSeq, count: scan.count, startHead: scan.startHead, recordSha256: scan.recordSha256 };
  return { head: scan.head, checkpoint: scan.checkpoint, tail: scan.tail, open: open_, nextSegment: last + 1, recentIds: ids, repair, leftoverSeals: loneSeals };
}
