/**
 * Where `verify --anchors` finds an anchored seq that retention moved out of
 * the store (archived.jsonl). Without this an anchor older than the archive
 * horizon reads as a rewritten chain: a false tampering alarm on exactly the
 * stores that follow the retention policy.
 *
 * An archived segment whose copy can be read is compared event by event like
 * the store. One out of reach (or deleted) still has its signed seal copy in
 * the manifest, which carries the hash at its last seq, so an anchor there
 * is still compared. Any other anchor in it cannot be compared: it is
 * reported as not checked, never as rewritten, because nothing says it was.
 */
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { readSegmentEvents } from '../store/reader.js';
import { checkSealSignature, type Seal } from '../store/seal.js';
import { locateArchived, readArchiveManifest, type ArchiveManifestLine } from '../store/verify-archive-manifest.js';
import { formatPeriod } from '../store/verify-deletion.js';

/** What the archive says about one anchored seq. */
export type ArchivedVerdict =
  /** Read from an archive copy (null: the copy has no event at that seq). */
  | { readonly kind: 'read'; readonly segment: number; readonly hash: string | null }
  /** The last seq of a segment out of reach: its seal copy's head hash; `unverified` says why that seal proves nothing by itself. */
  | { readonly kind: 'seal'; readonly segment: number; readonly hash: string; readonly unverified: string | null }
  /** Out of reach, and not the seal's last seq. */
  | { readonly kind: 'unchecked'; readonly segment: number; readonly why: string }
  /** Deleted by retention after retention.keep, as verify accepts it: there is nothing left to compare. */
  | { readonly kind: 'deleted'; readonly segment: number; readonly deletedAt: string };

export interface ArchivedLookupOptions {
  readonly archiveDirs: readonly string[];
  readonly publicKey: KeyObject | null;
  readonly encryptionKey: Buffer | undefined;
  readonly retentionKeepMs: number;
  readonly now: number;
}

export interface ArchivedLookup {
  /** Verdicts for the seqs that lie in a recorded segment; seqs absent here are in no recorded segment. */
  readonly verdicts: Map<number, ArchivedVerdict>;
  /** The newest seq an archive copy or a signed seal proves the chain reached (0: none). */
  readonly end: number;
}

/**
 * Looks up `seqs` (anchored seqs the store's own segments do not hold) in the
 * segments recorded in the chain's archive manifest, skipping the segment
 * numbers still `present` in the store (a move cut short leaves both copies;
 * the store's was already read).
 */
export async function lookupArchived(chainDir: string, sourceId: string, seqs: readonly number[], present: ReadonlySet<number>, opts: ArchivedLookupOptions): Promise<ArchivedLookup> {
  const verdicts = new Map<number, ArchivedVerdict>();
  let end = 0;
  const manifest = seqs.length === 0 ? null : await readArchiveManifest(chainDir);
  if (manifest === null) return { verdicts, end };
  for (const [segment, { line }] of [...manifest.entries].sort(([a], [b]) => a - b)) {
    if (present.has(segment)) continue;
    const seal = line.signed_seal;
    const first = line.first_seq ?? seal?.first_seq ?? null;
    const last = line.last_seq ?? seal?.last_seq ?? null;
    if (first === null || last === null) continue; // a segment of checkpoints only: no seq can lie in it
    const inside = seqs.filter((s) => s >= first && s <= last);
    if (inside.length === 0) continue;
    const where = await locateArchived(line, sourceId, opts.archiveDirs);
    let damaged: string | null = null;
    if (where.file !== null) {
      const found = await hashesAt(where.file, new Set(inside), opts.encryptionKey).catch((e: unknown) => {
        // A copy that cannot be read is verify's finding (it checks every archive copy against its seal); here it is one that could not be compared.
        if (typeof (e as { code?: unknown }).code !== 'string') throw e;
        return new Error((e as Error).message);
      });
      if (!(found instanceof Error)) {
        for (const s of inside) verdicts.set(s, { kind: 'read', segment, hash: found.hashes.get(s) ?? null });
        end = Math.max(end, found.last);
        continue;
      }
      damaged = `the archive copy ${where.file} cannot be read (${found.message}); run \`dbwitness verify\``;
    }
    const sealCopy = seal ?? (where.seal === null ? undefined : await readSealFile(where.seal));
    const unverified = sealCopy === undefined ? 'no seal copy' : sealProblem(sealCopy, sourceId, segment, opts.publicKey);
    if (sealCopy !== undefined && unverified === null && sealCopy.last_seq !== null) end = Math.max(end, sealCopy.last_seq);
    const deletion = line.deleted_at === undefined ? null : deletionProblem(line, sealCopy, unverified, opts);
    for (const s of inside) {
      if (sealCopy !== undefined && sealCopy.last_seq === s) verdicts.set(s, { kind: 'seal', segment, hash: sealCopy.last_hash, unverified });
      else if (line.deleted_at !== undefined && deletion === null) verdicts.set(s, { kind: 'deleted', segment, deletedAt: line.deleted_at });
      else verdicts.set(s, { kind: 'unchecked', segment, why: deletion ?? damaged ?? 'the archive copy is not reachable' });
    }
  }
  return { verdicts, end };
}

/** Hashes of the wanted seqs in one segment file, read as the store's reader reads a segment. */
async function hashesAt(file: string, wanted: ReadonlySet<number>, encryptionKey: Buffer | undefined): Promise<{ hashes: Map<number, string>; last: number }> {
  const hashes = new Map<number, string>();
  let last = 0;
  for await (const { event } of readSegmentEvents(file, '', encryptionKey)) {
    last = Math.max(last, event.seq);
    if (wanted.has(event.seq)) hashes.set(event.seq, event.hash);
  }
  return { hashes, last };
}

async function readSealFile(path: string): Promise<Seal | undefined> {
  try {
    const s = JSON.parse(await readFile(path, 'utf8')) as Partial<Seal>;
    return typeof s.last_hash === 'string' && (s.last_seq === null || Number.isSafeInteger(s.last_seq)) ? (s as Seal) : undefined;
  } catch {
    return undefined;
  }
}

/** Why the seal copy does not prove the segment's head by itself, or null when its signature verifies with the trusted key. */
function sealProblem(seal: Seal, sourceId: string, segment: number, publicKey: KeyObject | null): string | null {
  if (seal.source !== sourceId || seal.segment !== segment) return `its seal copy names ${String(seal.source)} segment ${String(seal.segment)}`;
  if (publicKey === null) return 'no public key to check its seal copy with';
  if (seal.signature === null) return 'its seal copy is unsigned';
  if (!checkSealSignature(seal, publicKey)) return 'its seal copy does not verify with the trusted key';
  return null;
}

/**
 * Why a recorded deletion is not accepted as one under the policy, the way
 * verify judges it (see verify-deletion.ts): the seal must be signed by the
 * trusted key and dated at least retention.keep ago. null: accepted.
 */
function deletionProblem(line: ArchiveManifestLine, seal: Seal | undefined, unverified: string | null, opts: ArchivedLookupOptions): string | null {
  const head = `deleted by retention at ${line.deleted_at}, not accepted as a deletion under the policy`;
  if (seal === undefined) return `${head}: its manifest line holds no seal copy`;
  if (unverified !== null) return `${head}: ${unverified}`;
  const sealed = Date.parse(seal.sealed_at);
  if (Number.isNaN(sealed) || opts.now - sealed < opts.retentionKeepMs) return `${head}: sealed at ${seal.sealed_at}, less than the retention period (${formatPeriod(opts.retentionKeepMs)}) before now`;
  return null;
}
