/**
 * The archive manifest, <store>/<source>/archived.jsonl: a JSON line for
 * each sealed segment that retention moved out of the store, and for each it
 * deleted (from the store or the archive) after retention.keep, appended
 * (and fsync'd) before any file is removed.
 *
 *   {"segment":3,"file":"/mnt/archive/clinic-pg/seg-000003.jsonl","seal":"/mnt/archive/clinic-pg/seg-000003.seal.json",
 *    "sha256":"…","first_seq":11,"last_seq":15,"moved_at":"…","signed_seal":{…the seal, signature included…}}
 *
 * `signed_seal` is a copy of the segment's seal. Its signature covers the
 * segment's place in the chain (prev_hash, last_hash, seqs) and its digest,
 * so verify can link the chain across a segment whose archive copy it
 * cannot reach. Manifests written before it was added lack it; verify then
 * knows only the seq range. A deletion line is the same with `deleted_at`
 * added: "file" and "seal" name the copies that were deleted.
 *
 * Readers here only parse: what a line proves is decided in verify-chain.ts.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { ARCHIVE_MANIFEST } from './layout.js';
import type { Seal } from './seal.js';

export interface ArchiveManifestLine {
  readonly segment: number;
  /** Where the segment file was copied (absolute since signed_seal was added; older lines may hold a relative path). */
  readonly file: string;
  readonly seal: string;
  readonly sha256: string;
  readonly first_seq: number | null;
  readonly last_seq: number | null;
  readonly moved_at: string;
  /** Set when retention deleted the segment (from the store, or from the archive it was moved to) after retention.keep expired: no copy exists. */
  readonly deleted_at?: string;
  readonly signed_seal?: Seal;
}

export interface ArchivedEntry {
  readonly line: ArchiveManifestLine;
  /** Byte offset of the line in the manifest. */
  readonly offset: number;
}

export interface ArchiveManifest {
  readonly path: string;
  /**
   * The newest line per segment. A segment has more than one line when it
   * was deleted after it was moved, or when a move cut short by a crash was
   * finished into another archive directory (or over a line written before
   * signed_seal existed); otherwise a retried move or deletion reuses the
   * line it wrote.
   */
  readonly entries: Map<number, ArchivedEntry>;
  /** Lines that are not a manifest entry, or that contradict an earlier line of the same segment. */
  readonly problems: { offset: number; problem: string }[];
  /** Bytes after the last newline: an append cut by a crash (nothing it describes was removed yet). */
  readonly tornTail: { offset: number; bytes: number } | null;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Reads the chain's manifest; null when the chain never archived anything. */
export async function readArchiveManifest(chainDir: string): Promise<ArchiveManifest | null> {
  const path = join(chainDir, ARCHIVE_MANIFEST);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const entries = new Map<number, ArchivedEntry>();
  const problems: { offset: number; problem: string }[] = [];
  let tornTail: { offset: number; bytes: number } | null = null;
  let offset = 0;
  let byteOffset = 0;
  while (offset < text.length) {
    const nl = text.indexOf('\n', offset);
    const raw = nl < 0 ? text.slice(offset) : text.slice(offset, nl);
    if (nl < 0) {
      tornTail = { offset: byteOffset, bytes: Buffer.byteLength(raw) };
      break;
    }
    const lineOffset = byteOffset;
    offset = nl + 1;
    byteOffset += Buffer.byteLength(raw) + 1;
    const parsed = parseManifestLine(raw);
    if (typeof parsed === 'string') {
      problems.push({ offset: lineOffset, problem: `archive manifest line is damaged: ${parsed}` });
      continue;
    }
    const earlier = entries.get(parsed.segment);
    if (earlier !== undefined && earlier.line.sha256 !== parsed.sha256) {
      problems.push({ offset: lineOffset, problem: `archive manifest records segment ${parsed.segment} twice with different digests (line at byte ${earlier.offset} and this one)` });
    }
    entries.set(parsed.segment, { line: parsed, offset: lineOffset });
  }
  return { path, entries, problems, tornTail };
}

/** A manifest line, or a string saying what is wrong with it. */
export function parseManifestLine(raw: string): ArchiveManifestLine | string {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return 'not valid JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  const seqOrNull = (x: unknown): boolean => x === null || (Number.isSafeInteger(x) && (x as number) > 0);
  if (!Number.isSafeInteger(o['segment']) || (o['segment'] as number) < 1) return 'segment is not a positive integer';
  if (typeof o['file'] !== 'string' || o['file'] === '') return 'file is missing';
  if (typeof o['seal'] !== 'string' || o['seal'] === '') return 'seal is missing';
  if (typeof o['sha256'] !== 'string' || !HEX64.test(o['sha256'])) return 'sha256 is not 64 hex digits';
  if (!seqOrNull(o['first_seq']) || !seqOrNull(o['last_seq'])) return 'first_seq/last_seq are not seq numbers';
  if (typeof o['moved_at'] !== 'string') return 'moved_at is missing';
  if (o['deleted_at'] !== undefined && typeof o['deleted_at'] !== 'string') return 'deleted_at is not a time';
  const sealed = o['signed_seal'];
  if (sealed !== undefined && !isSealShape(sealed)) return 'signed_seal is not a seal';
  return o as unknown as ArchiveManifestLine;
}

function isSealShape(x: unknown): x is Seal {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Record<string, unknown>;
  const seq = (v: unknown): boolean => v === null || Number.isSafeInteger(v);
  return (
    s['kind'] === 'dbwitness-seal' &&
    typeof s['source'] === 'string' &&
    Number.isSafeInteger(s['segment']) &&
    typeof s['file'] === 'string' &&
    seq(s['first_seq']) &&
    seq(s['last_seq']) &&
    Number.isSafeInteger(s['count']) &&
    typeof s['prev_hash'] === 'string' &&
    typeof s['last_hash'] === 'string' &&
    Number.isSafeInteger(s['bytes']) &&
    typeof s['sha256'] === 'string' &&
    (s['signature'] === null || typeof s['signature'] === 'string')
  );
}

export interface ArchivedLocation {
  /** The segment file found, or null when no candidate exists. */
  readonly file: string | null;
  /** Its seal file, or null. */
  readonly seal: string | null;
  /** Every path tried, for the report. */
  readonly tried: string[];
}

/**
 * Where an archived segment can be read now: under each `--archive DIR`
 * (DIR/<source>/<file name>, for an archive that was moved or mounted
 * elsewhere) first, then at the path the manifest recorded.
 */
export async function locateArchived(line: ArchiveManifestLine, sourceId: string, archiveDirs: readonly string[]): Promise<ArchivedLocation> {
  const candidates: { file: string; seal: string }[] = archiveDirs.map((d) => ({ file: join(d, sourceId, basename(line.file)), seal: join(d, sourceId, basename(line.seal)) }));
  candidates.push({ file: isAbsolute(line.file) ? line.file : resolve(line.file), seal: isAbsolute(line.seal) ? line.seal : resolve(line.seal) });
  const tried: string[] = [];
  for (const c of candidates) {
    tried.push(c.file);
    if (await isFile(c.file)) return { file: c.file, seal: (await isFile(c.seal)) ? c.seal : null, tried };
  }
  // No segment copy anywhere; a seal copy alone still proves the segment's place in the chain.
  for (const c of candidates) if (await isFile(c.seal)) return { file: null, seal: c.seal, tried };
  return { file: null, seal: null, tried };
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() === true;
}
