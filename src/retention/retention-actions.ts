/**
 * Moving sealed segments to the archive, and deleting expired ones.
 *
 * A move copies the segment and its seal into ARCHIVE/<source>/ (temp file,
 * fsync, rename, directory fsync), checks the copy's SHA-256 against the
 * seal, records the move in <store>/<source>/archived.jsonl, and only then
 * removes the originals: a crash at any point leaves at least one complete
 * copy. The manifest line carries absolute paths and a copy of the signed
 * seal, so `verify` can link the chain across the segment even when the
 * archive is out of reach (src/store/verify-archive-manifest.ts).
 * Deletion re-checks the policy for every file and refuses anything not
 * expired or under legal hold.
 */
import { createHash } from 'node:crypto';
import { appendFile, copyFile, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { findingError, usageError } from '../core/errors.js';
import { nowMicros } from '../core/ids.js';
import { mkdirPrivate } from '../store/durable-fs.js';
import { ARCHIVE_MANIFEST } from '../store/layout.js';
import type { Seal } from '../store/seal.js';
import type { ArchiveManifestLine } from '../store/verify-archive-manifest.js';
import type { SegmentRetention } from './retention-plan.js';

export { ARCHIVE_MANIFEST };

export async function archiveSegment(seg: SegmentRetention, storeDir: string, archiveDir: string): Promise<string> {
  if (seg.status !== 'archive_due' || seg.sealFile === null || seg.sha256 === null) {
    throw usageError('E_RETENTION_NOT_DUE', `segment ${seg.segment} of ${seg.source} is ${seg.status}, not due for the archive`, 'only sealed segments past retention.archive_after move; run `dbwitness retention DIR` to see what is due');
  }
  // Absolute: verify may run from another working directory.
  const destDir = resolve(archiveDir, seg.source);
  await mkdirPrivate(archiveDir);
  await mkdirPrivate(destDir);
  const dest = join(destDir, seg.file.slice(dirname(seg.file).length + 1));
  const destSeal = join(destDir, seg.sealFile.slice(dirname(seg.sealFile).length + 1));
  await durableCopy(seg.file, dest);
  await durableCopy(seg.sealFile, destSeal);
  const digest = createHash('sha256').update(await readFile(dest)).digest('hex');
  if (digest !== seg.sha256) {
    await unlink(dest).catch(() => undefined);
    throw findingError('E_RETENTION_DIGEST', `segment ${seg.segment} of ${seg.source} does not match its seal (sha256 ${digest.slice(0, 16)}… vs ${seg.sha256.slice(0, 16)}…); it was not moved`, 'run `dbwitness verify` on the store: the segment was altered after sealing');
  }
  const sealCopy = JSON.parse(await readFile(destSeal, 'utf8')) as Seal;
  if (sealCopy.sha256 !== seg.sha256) {
    await unlink(dest).catch(() => undefined);
    await unlink(destSeal).catch(() => undefined);
    throw findingError('E_RETENTION_DIGEST', `the seal of segment ${seg.segment} of ${seg.source} changed while it was being moved; it was not moved`, 'run `dbwitness verify` on the store');
  }
  const manifest = join(storeDir, seg.source, ARCHIVE_MANIFEST);
  const line: ArchiveManifestLine = { segment: seg.segment, file: dest, seal: destSeal, sha256: seg.sha256, first_seq: seg.firstSeq, last_seq: seg.lastSeq, moved_at: nowMicros(), signed_seal: sealCopy };
  await appendFile(manifest, JSON.stringify(line) + '\n', { mode: 0o600 });
  await fsyncPath(manifest);
  await unlink(seg.file);
  await unlink(seg.sealFile);
  await fsyncPath(dirname(seg.file));
  return dest;
}

export async function deleteExpired(seg: SegmentRetention): Promise<void> {
  if (seg.status === 'held') {
    throw usageError('E_RETENTION_LEGAL_HOLD', `segment ${seg.segment} of ${seg.source} is under legal hold and cannot be deleted`, 'remove the source from retention.legal_hold only when counsel releases the hold');
  }
  if (seg.status !== 'expired') {
    throw usageError('E_RETENTION_EARLY', `refusing to delete segment ${seg.segment} of ${seg.source}: it is ${seg.status}${seg.deletableFrom === null ? '' : ` and may be deleted from ${seg.deletableFrom}`}`, 'audit records are kept for retention.keep (at least six years); move old segments to the archive instead (--archive)');
  }
  if (seg.location === 'store' && seg.sealFile !== null && seg.sha256 !== null) {
    // Deleted straight from the store (never archived): record it like a
    // move, so verify reports a segment deleted under the policy, joined to
    // the chain by its signed seal, instead of a segment gone missing.
    const sealCopy = JSON.parse(await readFile(seg.sealFile, 'utf8')) as Seal;
    const at = nowMicros();
    const line: ArchiveManifestLine = { segment: seg.segment, file: resolve(seg.file), seal: resolve(seg.sealFile), sha256: seg.sha256, first_seq: seg.firstSeq, last_seq: seg.lastSeq, moved_at: at, deleted_at: at, signed_seal: sealCopy };
    const manifest = join(dirname(seg.file), ARCHIVE_MANIFEST);
    await appendFile(manifest, JSON.stringify(line) + '\n', { mode: 0o600 });
    await fsyncPath(manifest);
  }
  await unlink(seg.file);
  if (seg.sealFile !== null) await unlink(seg.sealFile).catch(() => undefined);
  await fsyncPath(dirname(seg.file));
}

async function durableCopy(from: string, to: string): Promise<void> {
  const tmp = `${to}.tmp-${process.pid}`;
  await copyFile(from, tmp);
  await fsyncPath(tmp);
  await rename(tmp, to);
  await fsyncPath(dirname(to));
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
