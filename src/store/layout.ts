/**
 * Where a store keeps its files.
 *
 *   DIR/
 *     store-key.pub.pem          public key of the sealing key (for offline verify)
 *     <source-id>/
 *       seg-000001.jsonl         append-only segment: one record per line
 *       seg-000001.seal.json     Ed25519-signed seal, written when the segment rotates
 *       seg-000002.jsonl         the open (unsealed) segment
 *       archived.jsonl           one line per sealed segment moved to the archive (retention)
 *
 * Source ids are restricted (core SOURCE_ID) so they are safe directory names.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SOURCE_ID } from '../core/source-config.js';
import { usageError } from '../core/errors.js';

export const PUBLIC_KEY_FILE = 'store-key.pub.pem';
/** Per chain: the segments retention moved to the archive (see verify-archive-manifest.ts). */
export const ARCHIVE_MANIFEST = 'archived.jsonl';
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

const SEGMENT_RE = /^seg-(\d{6,})\.jsonl$/;
const SEAL_RE = /^seg-(\d{6,})\.seal\.json$/;

export function segmentFileName(n: number): string {
  return `seg-${String(n).padStart(6, '0')}.jsonl`;
}

export function sealFileName(n: number): string {
  return `seg-${String(n).padStart(6, '0')}.seal.json`;
}

export function sourceDir(dir: string, sourceId: string): string {
  assertSourceId(sourceId);
  return join(dir, sourceId);
}

export function assertSourceId(sourceId: string): void {
  if (!SOURCE_ID.test(sourceId)) {
    throw usageError(
      'E_STORE_SOURCE_ID',
      `source id ${JSON.stringify(sourceId.slice(0, 80))} cannot name a chain directory`,
      'use lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters',
    );
  }
}

export interface SegmentListing {
  /** Segment numbers that have a .jsonl file, ascending. */
  readonly segments: number[];
  /** Segment numbers that have a seal file, ascending. */
  readonly seals: number[];
}

/** The segment and seal files of one chain directory. */
export async function listSegments(chainDir: string): Promise<SegmentListing> {
  const names = await readdir(chainDir);
  const segments: number[] = [];
  const seals: number[] = [];
  for (const name of names) {
    const s = SEGMENT_RE.exec(name);
    if (s?.[1] !== undefined) segments.push(Number(s[1]));
    const t = SEAL_RE.exec(name);
    if (t?.[1] !== undefined) seals.push(Number(t[1]));
  }
  segments.sort((a, b) => a - b);
  seals.sort((a, b) => a - b);
  return { segments, seals };
}
