/**
 * What retention allows for each segment of a store (and its archive).
 *
 * HIPAA (45 CFR 164.316(b)(2)) keeps documentation six years; audit trails
 * are held to the same period. So:
 * - only sealed segments move or go: the open segment is still written, and
 *   the newest segment of a chain stays in the store because recovery
 *   resumes the chain from it;
 * - a sealed segment older than `archive_after` is due to move to the
 *   archive directory (moving keeps it; it is not a deletion);
 * - a segment may be deleted only once `keep` has passed since it was sealed
 *   (the seal is written after its newest event) and never while its source
 *   is under legal hold. `keep` cannot be set below six years;
 * - a seal left without its segment (in the store or the archive) by a move
 *   or deletion cut short by a crash is listed, so that the next run of that
 *   action removes it.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { usageError } from '../core/errors.js';
import { listSegments, sealFileName, segmentFileName } from '../store/layout.js';
import { listSources } from '../store/reader.js';
import type { Seal } from '../store/seal.js';
import { readArchiveManifest, type ArchiveManifest } from '../store/verify-archive-manifest.js';

export const MIN_KEEP_MS = 6 * 366 * 86_400_000;

export interface RetentionPolicy {
  readonly keepMs: number;
  readonly archiveAfterMs: number;
  readonly archiveDir: string | null;
  readonly legalHold: readonly string[];
}

export type SegmentStatus = 'open' | 'newest' | 'kept' | 'archive_due' | 'archived' | 'expired' | 'held';

export interface SegmentRetention {
  readonly source: string;
  readonly segment: number;
  readonly location: 'store' | 'archive';
  /** Absolute path of the segment file. */
  readonly file: string;
  readonly sealFile: string | null;
  readonly sealedAt: string | null;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  readonly bytes: number;
  readonly sha256: string | null;
  readonly status: SegmentStatus;
  /** When the segment may be deleted (ISO), null while open or held. */
  readonly deletableFrom: string | null;
}

export function assertPolicy(p: RetentionPolicy): void {
  if (p.keepMs < MIN_KEEP_MS) {
    throw usageError('E_RETENTION_TOO_SHORT', `retention.keep is ${Math.floor(p.keepMs / 86_400_000)} days; audit records must be kept at least six years`, 'set retention.keep to 6y or longer (or leave it out: the default is 6y)');
  }
}

export async function planRetention(storeDir: string, policy: RetentionPolicy, now = Date.now()): Promise<SegmentRetention[]> {
  assertPolicy(policy);
  const out: SegmentRetention[] = [];
  for (const source of await listSources(storeDir)) {
    const held = policy.legalHold.includes(source);
    const chainDir = join(storeDir, source);
    const { segments, seals } = await listSegments(chainDir);
    const newest = segments.at(-1);
    const loneSeals = seals.filter((n) => !segments.includes(n));
    const manifest = await readArchiveManifest(chainDir);
    for (const n of [...segments, ...loneSeals].sort((a, b) => a - b)) {
      if (!segments.includes(n)) {
        const left = await leftoverSeal(chainDir, source, n, newest, manifest, held, policy);
        if (left !== null) out.push(left);
        continue;
      }
      const sealed = seals.includes(n);
      const base = await describe(chainDir, source, n, sealed, 'store');
      let status: SegmentStatus;
      if (!sealed) status = 'open';
      else if (held) status = 'held';
      else if (expired(base.sealedAt, policy, now)) status = n === newest ? 'newest' : 'expired';
      else if (n === newest) status = 'newest';
      else if (policy.archiveDir !== null && age(base.sealedAt, now) >= policy.archiveAfterMs) status = 'archive_due';
      else status = 'kept';
      out.push({ ...base, status, deletableFrom: deletableFrom(base.sealedAt, held, policy) });
    }
    if (policy.archiveDir !== null) {
      const archDir = join(policy.archiveDir, source);
      const listing = await listSegments(archDir).catch(() => null);
      const numbers = [...new Set([...(listing?.segments ?? []), ...(listing?.seals ?? [])])].sort((a, b) => a - b);
      for (const n of numbers) {
        const base = await describe(archDir, source, n, listing!.seals.includes(n), 'archive');
        let status: SegmentStatus = held ? 'held' : expired(base.sealedAt, policy, now) ? 'expired' : 'archived';
        if (!listing!.segments.includes(n)) {
          // A seal alone is a deletion cut short between its two removals
          // only when archived.jsonl records the deletion with the seal's
          // digest: listed so the next --delete-expired finishes it. Any
          // other lone seal is for verify.
          const recorded = manifest?.entries.get(n)?.line;
          if (recorded?.deleted_at === undefined || base.sha256 !== recorded.sha256) continue;
          status = held ? 'held' : 'expired';
        }
        out.push({ ...base, status, deletableFrom: deletableFrom(base.sealedAt, held, policy) });
      }
    }
  }
  return out;
}

/**
 * A seal in the store whose segment is gone: a move or deletion cut short
 * between its two removals (retention-actions.ts). Listed only when
 * archived.jsonl records the segment with the seal's digest, with the status
 * that makes the next run of the interrupted action finish it; any other
 * lone seal is damage, which the store refuses to open and verify reports.
 */
async function leftoverSeal(chainDir: string, source: string, n: number, newest: number | undefined, manifest: ArchiveManifest | null, held: boolean, policy: RetentionPolicy): Promise<SegmentRetention | null> {
  const recorded = manifest?.entries.get(n)?.line;
  if (recorded === undefined || newest === undefined || n >= newest) return null;
  const base = await describe(chainDir, source, n, true, 'store');
  if (base.sha256 !== recorded.sha256) return null;
  let status: SegmentStatus;
  if (held) status = 'held';
  else if (recorded.deleted_at !== undefined) status = 'expired';
  else status = policy.archiveDir !== null ? 'archive_due' : 'archived';
  return { ...base, status, deletableFrom: deletableFrom(base.sealedAt, held, policy) };
}

async function describe(dir: string, source: string, n: number, sealed: boolean, location: 'store' | 'archive'): Promise<Omit<SegmentRetention, 'status' | 'deletableFrom'>> {
  const file = join(dir, segmentFileName(n));
  const sealFile = sealed ? join(dir, sealFileName(n)) : null;
  const seal = sealFile === null ? null : await readSeal(sealFile);
  const bytes = (await stat(file).catch(() => null))?.size ?? 0;
  return { source, segment: n, location, file, sealFile, sealedAt: seal?.sealed_at ?? null, firstSeq: seal?.first_seq ?? null, lastSeq: seal?.last_seq ?? null, bytes, sha256: seal?.sha256 ?? null };
}

async function readSeal(file: string): Promise<Seal | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Seal;
  } catch {
    return null;
  }
}

function age(sealedAt: string | null, now: number): number {
  if (sealedAt === null) return 0;
  const t = Date.parse(sealedAt);
  return Number.isNaN(t) ? 0 : now - t;
}

function expired(sealedAt: string | null, p: RetentionPolicy, now: number): boolean {
  // An unreadable seal time never counts as old: when in doubt, keep.
  return sealedAt !== null && !Number.isNaN(Date.parse(sealedAt)) && age(sealedAt, now) >= p.keepMs;
}

function deletableFrom(sealedAt: string | null, held: boolean, p: RetentionPolicy): string | null {
  if (held || sealedAt === null || Number.isNaN(Date.parse(sealedAt))) return null;
  return new Date(Date.parse(sealedAt) + p.keepMs).toISOString();
}
