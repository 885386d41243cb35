/**
 * `verify` for a whole store: which key to trust, every chain, and the
 * limits of what files alone can prove.
 */
import type { KeyObject } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { usageError } from '../core/errors.js';
import type { ChainHead } from '../core/ports.js';
import { decryptError } from './encryption.js';
import { keyIdOf, loadPublicKey } from './keys.js';
import { PUBLIC_KEY_FILE } from './layout.js';
import { listSources } from './reader.js';
import { listSegments, segmentFileName } from './layout.js';
import { verifyChain, type ArchivedSegmentResult, type SourceVerifyResult, type VerifyContext } from './verify-chain.js';
import { locateArchived, readArchiveManifest } from './verify-archive-manifest.js';
import { DEFAULT_RETENTION_KEEP_MS } from './verify-deletion.js';

export interface VerifyOptions {
  /** Trusted public key (PEM). Default: the store's own store-key.pub.pem, with a warning. */
  readonly publicKeyFile?: string;
  readonly encryptionKey?: Buffer;
  /** Heads recorded from an earlier verify (source id -> seq, hash): detects removal from the end. */
  readonly expectHeads?: ReadonlyMap<string, ChainHead>;
  /**
   * Where archived segments may be now: DIR/<source>/<file name> is tried
   * before the path recorded in the archive manifest.
   */
  readonly archiveDirs?: readonly string[];
  /**
   * A segment recorded as deleted by retention is accepted as deleted under
   * the policy only when its signed seal is at least this old. Default: 6y,
   * retention.keep's default.
   */
  readonly retentionKeepMs?: number;
  /** Milliseconds since the epoch that seal ages are measured to. Default: now. */
  readonly now?: number;
  /** Issues kept per source (all are counted). Default 100. */
  readonly maxIssues?: number;
  /** Called with the total bytes to read, then with each chunk's size. */
  readonly onTotal?: (bytes: number) => void;
  readonly onBytes?: (n: number) => void;
}

export type KeyTrust = 'given' | 'stored' | 'none';

export interface StoreVerifyReport {
  /** No problem found in anything that was checked. */
  readonly ok: boolean;
  /** Every segment was read: none is archived out of reach. */
  readonly complete: boolean;
  /** Archived segments that could not be read (only their place in the chain was checked). */
  readonly archivedNotChecked: number;
  /** Segments deleted under the retention policy (accepted: not counted as not checked). */
  readonly deletedUnderPolicy: number;
  /** The retention period deletions were measured against. */
  readonly retentionKeepMs: number;
  readonly dir: string;
  readonly keyTrust: KeyTrust;
  readonly keyId: string | null;
  readonly warnings: string[];
  readonly notes: string[];
  readonly sources: SourceVerifyResult[];
  readonly events: number;
  readonly seconds: number;
}

export const TAIL_LIMIT_NOTE =
  'Removing events from the end of the newest (unsealed) segment, or deleting the newest segments whole, cannot be detected from the files alone: record the head verify prints for each source (seq and hash) outside the store and pass it next time with --expect-head SOURCE:SEQ:HASH.';

export const DELETION_LIMIT_NOTE =
  'A segment deleted under the retention policy is accepted on its seal alone: the copy in archived.jsonl must be signed by the trusted key, join the chain on both sides, and have been sealed at least the retention period (--retention-keep, default 6y) ago. A deletion within that period is never accepted, so removing recent evidence cannot pass; after it, verify cannot tell who deleted the segment, only that the policy allowed its deletion.';

export const ARCHIVE_LIMIT_NOTE =
  'An archived segment that cannot be read is checked only for its place in the chain (its seal, copied into archived.jsonl, must join the segments around it). That proves the segment existed and what its digest was, not that a copy still exists: the same outcome results if it was deleted and its seal kept. Make the archive reachable (--archive DIR) to check its events, or pass --strict-archive to treat this as a failure.';

/** Parses `--expect-head SOURCE:SEQ:HASH` values. */
export function parseExpectHeads(values: readonly string[]): Map<string, ChainHead> {
  const out = new Map<string, ChainHead>();
  for (const v of values) {
    const m = /^([a-z0-9][a-z0-9_-]{0,62}):(\d+):([0-9a-f]{64})$/.exec(v);
    if (m === null) throw usageError('E_VERIFY_EXPECT_HEAD', `--expect-head ${JSON.stringify(v.slice(0, 120))} is not SOURCE:SEQ:HASH`, 'copy the source id, seq and hash from the head line of an earlier verify, e.g. --expect-head clinic-pg:1042:3fa4…');
    out.set(m[1] as string, { seq: Number(m[2]), hash: m[3] as string });
  }
  return out;
}

export async function verifyStore(dir: string, opts: VerifyOptions = {}): Promise<StoreVerifyReport> {
  const started = process.hrtime.bigint();
  const sources = await listSources(dir);
  if (sources.length === 0) throw usageError('E_VERIFY_EMPTY', `${dir} holds no audit chains`, 'pass the directory given to `dbwitness run --store`');
  const warnings: string[] = [];
  let publicKey: KeyObject | null = null;
  let keyTrust: KeyTrust = 'none';
  if (opts.publicKeyFile !== undefined) {
    publicKey = await loadPublicKey(opts.publicKeyFile);
    keyTrust = 'given';
  } else {
    const stored = join(dir, PUBLIC_KEY_FILE);
    if (await stat(stored).catch(() => null)) {
      publicKey = await loadPublicKey(stored);
      keyTrust = 'stored';
      warnings.push(
        `seals and head signatures were checked against ${PUBLIC_KEY_FILE}, which is stored with the data: anyone able to rewrite the store can replace it. Pass --public-key with a copy kept elsewhere.`,
      );
    } else {
      warnings.push('no public key: seal and head signatures were NOT checked, only digests and hashes. Pass --public-key FILE.');
    }
  }
  const retentionKeepMs = opts.retentionKeepMs ?? DEFAULT_RETENTION_KEEP_MS;
  if (!Number.isSafeInteger(retentionKeepMs) || retentionKeepMs <= 0) throw usageError('E_VERIFY_RETENTION_KEEP', `the retention period must be a positive number of milliseconds, got ${retentionKeepMs}`, 'pass a period like 6y or 2192d');
  if (opts.onTotal !== undefined) opts.onTotal(await totalBytes(dir, sources, opts.archiveDirs ?? []));
  for (const id of opts.expectHeads?.keys() ?? []) {
    if (!sources.includes(id)) throw usageError('E_VERIFY_EXPECT_HEAD', `--expect-head names source ${id}, which this store does not hold`, `use one of: ${sources.join(', ')}`);
  }
  const ctx: VerifyContext = {
    publicKey,
    archiveDirs: opts.archiveDirs ?? [],
    ...(opts.expectHeads === undefined ? {} : { expectHeads: opts.expectHeads }),
    encryptionKey: opts.encryptionKey,
    maxIssues: opts.maxIssues ?? 100,
    retentionKeepMs,
    now: opts.now ?? Date.now(),
    ...(opts.onBytes === undefined ? {} : { onBytes: opts.onBytes }),
    decryptOk: 0,
    decryptFailed: 0,
  };
  const results: SourceVerifyResult[] = [];
  for (const s of sources) results.push(await verifyChain(join(dir, s), s, ctx));
  // Every line failing to decrypt means the key is wrong, not that every line was altered.
  if (ctx.decryptOk === 0 && ctx.decryptFailed > 0) throw decryptError(`the store ${dir}`);
  for (const r of results) {
    if (r.uncheckedSeals > 0 && publicKey !== null) warnings.push(`${r.source}: ${r.uncheckedSeals} seals carry no signature`);
    if (r.tornTail !== null) warnings.push(`${r.source}: the newest segment ends with a partial line of ${r.tornTail.bytes} bytes (a crash mid-write; the store truncates it when next opened)`);
    if (r.manifestTornTail !== null) {
      warnings.push(
        `${r.source}: the archive manifest ends with a partial line of ${r.manifestTornTail.bytes} bytes (a move or deletion cut by a crash; nothing it describes was removed yet): run the same retention command again, \`dbwitness retention --archive\` or \`--delete-expired\`, to finish it`,
      );
    }
    const unchecked = r.archived.filter((a) => a.status === 'not_checked');
    const unreachable = unchecked.filter((a) => a.deletionRefused === null);
    if (unreachable.length > 0) {
      warnings.push(`${r.source}: ${unreachable.length} archived segment${unreachable.length === 1 ? '' : 's'} not checked, the archive copy is not reachable: ${segmentList(unreachable)}. Pass --archive DIR where the archive is now.`);
    }
    // One warning per reason: the fix differs, and a store can hold many such segments.
    const refused = new Map<string, typeof unchecked>();
    for (const a of unchecked) if (a.deletionRefused !== null) refused.set(a.deletionRefused.reason, [...(refused.get(a.deletionRefused.reason) ?? []), a]);
    for (const segs of refused.values()) {
      const example = segs[segs.length - 1]!;
      const which = segs.length === 1 ? `segment ${segmentList(segs)} is` : `${segs.length} segments, ${segmentList(segs)}, are`;
      warnings.push(`${r.source}: ${which} recorded as deleted by retention but not accepted as deleted under the policy, so counted as not checked: ${segs.length === 1 ? '' : `for segment ${example.segment}, `}${example.deletionRefused!.problem}.`);
    }
  }
  const archivedNotChecked = results.reduce((a, r) => a + r.archived.filter((x) => x.status === 'not_checked').length, 0);
  const deletedUnderPolicy = results.reduce((a, r) => a + r.archived.filter((x) => x.status === 'deleted').length, 0);
  const all = results.flatMap((r) => r.archived);
  const notes = [TAIL_LIMIT_NOTE];
  if (all.some((a) => a.status === 'deleted' || a.deletionRefused !== null)) notes.push(DELETION_LIMIT_NOTE);
  if (all.some((a) => a.status === 'not_checked' && a.deletionRefused === null)) notes.push(ARCHIVE_LIMIT_NOTE);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    ok: results.every((r) => r.issueCount === 0),
    complete: archivedNotChecked === 0,
    archivedNotChecked,
    deletedUnderPolicy,
    retentionKeepMs,
    dir,
    keyTrust,
    keyId: publicKey === null ? null : keyIdOf(publicKey),
    warnings,
    notes,
    sources: results,
    events: results.reduce((a, r) => a + r.events, 0),
    seconds,
  };
}

function segmentList(segs: readonly ArchivedSegmentResult[]): string {
  return segs.map((a) => `${a.segment}${a.firstSeq === null ? '' : ` (seq ${a.firstSeq}..${a.lastSeq})`}`).join(', ');
}

async function totalBytes(dir: string, sources: readonly string[], archiveDirs: readonly string[]): Promise<number> {
  let total = 0;
  const size = async (file: string): Promise<number> => (await stat(file).catch(() => ({ size: 0 }))).size;
  for (const s of sources) {
    const chainDir = join(dir, s);
    const { segments } = await listSegments(chainDir);
    for (const n of segments) total += await size(join(chainDir, segmentFileName(n)));
    const manifest = await readArchiveManifest(chainDir);
    for (const [n, { line }] of manifest?.entries ?? []) {
      if (segments.includes(n)) continue;
      const where = await locateArchived(line, s, archiveDirs);
      if (where.file !== null) total += await size(where.file);
    }
  }
  return total;
}

