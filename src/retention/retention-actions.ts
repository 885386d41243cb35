/**
 * Moving sealed segments to the archive, and deleting expired ones.
 *
 * A move copies the segment and its seal into ARCHIVE/<source>/ (temp file,
 * fsync, rename, directory fsync), checks the copy's SHA-256 against the
 * seal, records the move in <store>/<source>/archived.jsonl, and only then
 * removes the originals. The manifest line carries absolute paths and a copy
 * of the signed seal, so `verify` can link the chain across the segment even
 * when the archive is out of reach (src/store/verify-archive-manifest.ts).
 * Deletion re-checks the policy for every file and refuses anything not
 * expired or under legal hold; a deletion, from the store or from the
 * archive, is recorded in the manifest (deleted_at, with the signed seal)
 * before anything is removed, so verify reports a segment deleted under the
 * policy, not one gone missing. A segment in the archive that the manifest
 * does not record is not this store's to delete, and is refused.
 *
 * Crash guarantees. The fsync'd manifest line is the commit point; the
 * segment is removed (and its removal made durable) before its seal. A crash
 * (kill -9, power loss) at any point leaves one of these, each of which
 * opens, passes `verify`, and is finished by the next run of the same
 * retention action:
 * - before the manifest line: the store is untouched. The archive may hold a
 *   `.tmp` file (the next move overwrites it) or a complete copy, checked
 *   against the seal before the rename; the next move reuses a copy equal to
 *   the seal's digest, and refuses (never overwrites) one that differs.
 * - a partial manifest line (bytes after the last newline): no segment was
 *   removed; the next run truncates it before appending its own line.
 * - after the manifest line: segment and seal still in the store (or, for a
 *   deletion from the archive, in the archive), or only the seal. The next
 *   run finds the line and removes what is left without appending a second
 *   one. Opening the store accepts the leftover seal because archived.jsonl
 *   records its segment with the seal's digest (src/store/recovery.ts); a
 *   seal without its segment and without that record is still refused as
 *   damage. A deletion from the archive leaves the store untouched.
 * Removing the seal last keeps the most evidence at every step: no segment
 * ever stays in the store without its seal (which is what a deleted seal
 * looks like, and could not be checked at open without rereading the whole
 * segment), and the signed seal outlives the segment it describes.
 * A leftover seal is removed only while an identical copy remains (the
 * manifest's signed_seal, or the archive's seal file).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, copyFile, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { canonicalJson } from '../core/canonical.js';
import { findingError, usageError } from '../core/errors.js';
import { nowMicros } from '../core/ids.js';
import { fsyncDir, mkdirPrivate, writeFileDurable } from '../store/durable-fs.js';
import { ARCHIVE_MANIFEST, FILE_MODE } from '../store/layout.js';
import type { Seal } from '../store/seal.js';
import { readArchiveManifest, type ArchiveManifest, type ArchiveManifestLine } from '../store/verify-archive-manifest.js';
import type { SegmentRetention } from './retention-plan.js';

export { ARCHIVE_MANIFEST };

export async function archiveSegment(seg: SegmentRetention, storeDir: string, archiveDir: string): Promise<string> {
  if (seg.status !== 'archive_due' || seg.sealFile === null || seg.sha256 === null) {
    throw usageError('E_RETENTION_NOT_DUE', `segment ${seg.segment} of ${seg.source} is ${seg.status}, not due for the archive`, 'only sealed segments past retention.archive_after move; run `dbwitness retention DIR` to see what is due');
  }
  const sha256 = seg.sha256;
  const sealFile = seg.sealFile;
  const chainDir = join(storeDir, seg.source);
  const manifest = await readArchiveManifest(chainDir);
  const recorded = recordedLine(manifest, seg, sha256);
  const sealBytes = await readFile(sealFile);
  const sealCopy = parseSeal(sealBytes, seg, sha256);

  if (recorded?.deleted_at !== undefined) {
    throw usageError('E_RETENTION_DELETION_PENDING', `segment ${seg.segment} of ${seg.source} is recorded as deleted in ${ARCHIVE_MANIFEST}, but the deletion was cut short and left files in the store; it was not moved`, 'run `dbwitness retention DIR --delete-expired` to finish the deletion');
  }
  if (!(await exists(seg.file))) {
    // Only the seal is left: a move cut short between its two removals.
    if (recorded === null) throw unrecordedLeftover(seg);
    await removeLeftoverSeal(seg, sealFile, sealBytes, sealCopy, recorded);
    return recorded.file;
  }

  // Absolute: verify may run from another working directory.
  const destDir = resolve(archiveDir, seg.source);
  await mkdirPrivate(archiveDir);
  await mkdirPrivate(destDir);
  const dest = join(destDir, baseName(seg.file));
  const destSeal = join(destDir, baseName(sealFile));
  await placeSegmentCopy(seg, sha256, dest);
  await placeSealCopy(sealBytes, destSeal);

  const alreadyRecorded = recorded !== null && recorded.file === dest && recorded.seal === destSeal && recorded.signed_seal !== undefined;
  if (!alreadyRecorded) {
    const line: ArchiveManifestLine = { segment: seg.segment, file: dest, seal: destSeal, sha256, first_seq: seg.firstSeq, last_seq: seg.lastSeq, moved_at: nowMicros(), signed_seal: sealCopy };
    await appendManifestLine(manifest, chainDir, line);
  }
  await removeSegmentThenSeal(seg.file, sealFile);
  return dest;
}

/** `storeDir`: the store whose archived.jsonl records the deletion (also for a segment in the archive). */
export async function deleteExpired(seg: SegmentRetention, storeDir: string): Promise<void> {
  if (seg.status === 'held') {
    throw usageError('E_RETENTION_LEGAL_HOLD', `segment ${seg.segment} of ${seg.source} is under legal hold and cannot be deleted`, 'remove the source from retention.legal_hold only when counsel releases the hold');
  }
  if (seg.status !== 'expired') {
    throw usageError('E_RETENTION_EARLY', `refusing to delete segment ${seg.segment} of ${seg.source}: it is ${seg.status}${seg.deletableFrom === null ? '' : ` and may be deleted from ${seg.deletableFrom}`}`, 'audit records are kept for retention.keep (at least six years); move old segments to the archive instead (--archive)');
  }
  if (seg.sealFile !== null && seg.sha256 !== null) {
    const chainDir = join(storeDir, seg.source);
    const manifest = await readArchiveManifest(chainDir);
    const recorded = recordedLine(manifest, seg, seg.sha256);
    const sealBytes = await readFile(seg.sealFile);
    const sealCopy = parseSeal(sealBytes, seg, seg.sha256);
    if (!(await exists(seg.file))) {
      // Only the seal is left: a move or deletion cut short between its two removals.
      if (recorded === null || (seg.location === 'archive' && recorded.deleted_at === undefined)) throw unrecordedLeftover(seg);
      await removeLeftoverSeal(seg, seg.sealFile, sealBytes, sealCopy, recorded);
      return;
    }
    if (seg.location === 'archive') checkArchivedCopy(seg, seg.sealFile, sealCopy, recorded);
    if (recorded?.deleted_at === undefined || recorded.signed_seal === undefined) {
      // Recorded like a move, so verify reports a segment deleted under the
      // policy, joined to the chain by its signed seal, instead of a segment
      // gone missing. A segment deleted from the archive keeps its moved_at.
      const at = nowMicros();
      const line: ArchiveManifestLine = { segment: seg.segment, file: resolve(seg.file), seal: resolve(seg.sealFile), sha256: seg.sha256, first_seq: seg.firstSeq, last_seq: seg.lastSeq, moved_at: recorded?.moved_at ?? at, deleted_at: at, signed_seal: sealCopy };
      await appendManifestLine(manifest, chainDir, line);
    }
  }
  await removeSegmentThenSeal(seg.file, seg.sealFile);
}

/**
 * An archive copy is deleted only when the store's manifest records it (else
 * it may belong to another store with the same source id and archive
 * directory), and only while the manifest's copy of its seal is the same
 * seal: deleting it would otherwise destroy the evidence of the difference.
 */
function checkArchivedCopy(seg: SegmentRetention, sealFile: string, seal: Seal, recorded: ArchiveManifestLine | null): void {
  if (recorded === null) {
    throw findingError('E_RETENTION_NOT_RECORDED', `segment ${seg.segment} of ${seg.source} in the archive (${seg.file}) is not recorded in the store's ${ARCHIVE_MANIFEST}; it was not deleted`, 'run `dbwitness verify DIR --archive ARCHIVE` on the store: the archive may belong to another store with the same source id, or the manifest lost its line');
  }
  if (recorded.signed_seal !== undefined && canonicalJson(recorded.signed_seal) !== canonicalJson(seal)) {
    throw findingError('E_RETENTION_DIGEST', `the seal of segment ${seg.segment} of ${seg.source} in the archive (${sealFile}) differs from the copy in ${ARCHIVE_MANIFEST}; it was not deleted`, 'run `dbwitness verify DIR --archive ARCHIVE` on the store: the seal or the manifest was altered');
  }
}

/**
 * The manifest line that already records this segment, or null. A line with
 * another digest means the manifest or the seal was altered: nothing moves.
 */
function recordedLine(manifest: ArchiveManifest | null, seg: SegmentRetention, sha256: string): ArchiveManifestLine | null {
  const entry = manifest?.entries.get(seg.segment);
  if (entry === undefined) return null;
  if (entry.line.sha256 !== sha256) {
    throw findingError('E_RETENTION_MANIFEST_DIGEST', `${ARCHIVE_MANIFEST} of ${seg.source} records segment ${seg.segment} (line at byte ${entry.offset}) with a digest other than its seal's; nothing was moved or deleted`, 'run `dbwitness verify` on the store: the manifest or the seal was altered');
  }
  return entry.line;
}

function parseSeal(bytes: Buffer, seg: SegmentRetention, sha256: string): Seal {
  let seal: Seal;
  try {
    seal = JSON.parse(bytes.toString('utf8')) as Seal;
  } catch {
    throw findingError('E_RETENTION_SEAL', `the seal of segment ${seg.segment} of ${seg.source} is not valid JSON; nothing was moved or deleted`, 'run `dbwitness verify` on the store');
  }
  // The plan read the seal earlier; it must not have changed since.
  if (seal.sha256 !== sha256) {
    throw findingError('E_RETENTION_DIGEST', `the seal of segment ${seg.segment} of ${seg.source} changed while retention ran; nothing was moved or deleted`, 'run `dbwitness verify` on the store');
  }
  return seal;
}

function unrecordedLeftover(seg: SegmentRetention): Error {
  const recordedAs = seg.location === 'archive' ? 'deleted' : 'moved or deleted';
  return findingError('E_RETENTION_ORPHAN_SEAL', `the seal of segment ${seg.segment} of ${seg.source} in the ${seg.location} has no segment file, and ${ARCHIVE_MANIFEST} does not record the segment as ${recordedAs}`, 'run `dbwitness verify` on the store: the segment was removed outside retention');
}

/**
 * Removes the seal a cut-short move or deletion left behind, but only while
 * an identical copy remains: the manifest's signed_seal, or (lines written
 * before signed_seal existed) the seal file the manifest names elsewhere.
 */
async function removeLeftoverSeal(seg: SegmentRetention, sealFile: string, sealBytes: Buffer, seal: Seal, recorded: ArchiveManifestLine): Promise<void> {
  const inManifest = recorded.signed_seal !== undefined && canonicalJson(recorded.signed_seal) === canonicalJson(seal);
  const elsewhere = resolve(recorded.seal) !== resolve(sealFile) ? await readFile(recorded.seal).catch(() => null) : null;
  if (!inManifest && !(elsewhere?.equals(sealBytes) ?? false)) {
    throw usageError('E_RETENTION_LAST_SEAL', `the seal left in the ${seg.location} for segment ${seg.segment} of ${seg.source} (its segment is already gone) is the only copy of that seal: neither ${ARCHIVE_MANIFEST} nor ${recorded.seal} holds it; it was kept`, 'make the archive reachable at the path the manifest records and run retention again; until then the store opens and verifies with the seal in place');
  }
  await removeSegmentThenSeal(seg.file, sealFile);
}

/** The segment's removal is made durable before the seal's, so a crash never leaves a segment without its seal. */
async function removeSegmentThenSeal(file: string, sealFile: string | null): Promise<void> {
  const dir = dirname(file);
  await unlinkIfPresent(file);
  await fsyncDir(dir);
  if (sealFile === null) return;
  await unlinkIfPresent(sealFile);
  await fsyncDir(dir);
}

/**
 * Puts a copy of the segment at `dest`, checked against the seal before it
 * is renamed into place. A copy already there is then one a cut-short move
 * made when it matches the seal; anything else is never overwritten.
 */
async function placeSegmentCopy(seg: SegmentRetention, sha256: string, dest: string): Promise<void> {
  const existing = await sha256FileOrNull(dest);
  if (existing === null) {
    const tmp = tempName(dest);
    await copyFile(seg.file, tmp);
    await fsyncPath(tmp);
    const digest = await sha256File(tmp);
    if (digest !== sha256) {
      await unlink(tmp).catch(() => undefined);
      throw alteredSegment(seg, digest, sha256);
    }
    await rename(tmp, dest);
    await fsyncDir(dirname(dest));
    return;
  }
  if (existing !== sha256) throw archiveClash(seg, dest);
  // The archive copy is good; the store's copy must match its seal too, or
  // removing it would destroy the evidence of its alteration.
  const digest = await sha256File(seg.file);
  if (digest !== sha256) throw alteredSegment(seg, digest, sha256);
}

async function placeSealCopy(sealBytes: Buffer, destSeal: string): Promise<void> {
  const existing = await readFile(destSeal).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  if (existing === null) return durableWrite(sealBytes, destSeal);
  if (!existing.equals(sealBytes)) throw findingError('E_RETENTION_ARCHIVE_CLASH', `${destSeal} already exists in the archive and is not this segment's seal; nothing was moved`, 'archive files are never overwritten: find out where it came from (another store with the same source id and archive directory?), move it aside, then run retention again');
}

function alteredSegment(seg: SegmentRetention, digest: string, sha256: string): Error {
  return findingError('E_RETENTION_DIGEST', `segment ${seg.segment} of ${seg.source} does not match its seal (sha256 ${digest.slice(0, 16)}… vs ${sha256.slice(0, 16)}…); it was not moved`, 'run `dbwitness verify` on the store: the segment was altered after sealing');
}

function archiveClash(seg: SegmentRetention, dest: string): Error {
  return findingError('E_RETENTION_ARCHIVE_CLASH', `${dest} already exists in the archive and does not match the seal of segment ${seg.segment} of ${seg.source}; nothing was moved`, 'archive files are never overwritten: find out where it came from (another store with the same source id and archive directory?), move it aside, then run retention again');
}

/**
 * Appends and fsyncs one manifest line. Bytes after the last newline are an
 * append cut by a crash (nothing was removed after it); they are cut off
 * first, or the new line would be glued to them and both would be lost.
 */
async function appendManifestLine(manifest: ArchiveManifest | null, chainDir: string, line: ArchiveManifestLine): Promise<void> {
  const path = join(chainDir, ARCHIVE_MANIFEST);
  if (manifest !== null && manifest.tornTail !== null) {
    const fh = await open(path, 'r+');
    try {
      await fh.truncate(manifest.tornTail.offset);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  await appendFile(path, JSON.stringify(line) + '\n', { mode: FILE_MODE });
  await fsyncPath(path);
  if (manifest === null) await fsyncDir(chainDir);
}

/** One fixed temp name per destination: a run after a crash overwrites the interrupted run's temp file instead of leaving it behind. */
function tempName(to: string): string {
  return `${to}.tmp`;
}

function durableWrite(data: Buffer, to: string): Promise<void> {
  return writeFileDurable(to, data, FILE_MODE, tempName(to));
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function sha256FileOrNull(path: string): Promise<string | null> {
  if (!(await exists(path))) return null;
  return sha256File(path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function baseName(path: string): string {
  return path.slice(dirname(path).length + 1);
}
