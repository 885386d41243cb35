/**
 * `verify --anchors FILE`: compares heads published outside the store with
 * the chains in it. The chain's own hashes and seals show edits inside it;
 * only an outside record shows that its newest events were cut off (a
 * truncated chain is a valid, shorter chain). For every anchor:
 * - the chain must still reach the anchored seq (else: truncated);
 * - the event at that seq must carry the anchored hash (else: rewritten);
 * - the signature must verify against the store's public key.
 * An anchored seq retention moved out of the store is looked up in the
 * archive (archived-anchors.ts): one it cannot compare is "not checked",
 * never "rewritten".
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { Finding } from '../core/ports.js';
import { usageError } from '../core/errors.js';
import { listSources, readEvents } from '../store/reader.js';
import { loadPublicKey } from '../store/keys.js';
import { listSegments, PUBLIC_KEY_FILE } from '../store/layout.js';
import { DEFAULT_RETENTION_KEEP_MS } from '../store/verify-deletion.js';
import { anchorSignatureValid, parseAnchor, type AnchorRecord } from './anchor-record.js';
import { lookupArchived, type ArchivedLookupOptions, type ArchivedVerdict } from './archived-anchors.js';

export interface AnchorFinding extends Finding {
  readonly source: string | null;
}

export interface CheckAnchorsOptions {
  /** Verify signatures with this key; default: the store's store-key.pub.pem (weaker: it lives with the store). */
  readonly publicKey?: KeyObject;
  readonly encryptionKey?: Buffer;
  /** Where archived segments may be now (verify's --archive), tried before the paths archived.jsonl records. */
  readonly archiveDirs?: readonly string[];
  /** The store's retention.keep: a recorded deletion counts as one under the policy only once its seal is this old. */
  readonly retentionKeepMs?: number;
  /** Milliseconds since the epoch seal ages are measured to. Default: now. */
  readonly now?: number;
}

export async function checkAnchors(storeDir: string, anchorFile: string, opts: CheckAnchorsOptions = {}): Promise<AnchorFinding[]> {
  let text: string;
  try {
    text = await readFile(anchorFile, 'utf8');
  } catch (e) {
    throw usageError('E_ANCHOR_FILE', `cannot read the anchor file ${anchorFile} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, 'pass the file named by anchors.file in the daemon configuration');
  }
  const findings: AnchorFinding[] = [];
  const bySource = new Map<string, AnchorRecord[]>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const a = parseAnchor(line);
    if (a === null) {
      findings.push({ id: 'anchor.malformed', status: 'fail', source: null, title: 'unreadable anchor line', detail: `${anchorFile} line ${i + 1} is not a dbwitness anchor`, fix: 'the anchor file is append-only: find out who edited it; restore it from its replica' });
      return;
    }
    const list = bySource.get(a.source) ?? [];
    list.push(a);
    bySource.set(a.source, list);
  });
  const key = opts.publicKey ?? (await loadPublicKey(join(storeDir, PUBLIC_KEY_FILE)).catch(() => null));
  const stored = new Set(await listSources(storeDir));
  for (const [source, anchors] of [...bySource].sort(([a], [b]) => a.localeCompare(b))) {
    findings.push(...signatureFindings(source, anchors, key));
    if (!stored.has(source)) {
      findings.push({ id: 'anchor.source_missing', status: 'fail', source, title: 'anchored chain missing', detail: `${anchors.length} anchor(s) name source ${source}, whose chain is not in the store`, fix: 'restore the chain directory from backup or archive; its removal is itself the finding' });
      continue;
    }
    const archive: ArchivedLookupOptions = { archiveDirs: opts.archiveDirs ?? [], publicKey: key, encryptionKey: opts.encryptionKey, retentionKeepMs: opts.retentionKeepMs ?? DEFAULT_RETENTION_KEEP_MS, now: opts.now ?? Date.now() };
    findings.push(...(await chainFindings(storeDir, source, anchors, archive)));
  }
  if (bySource.size === 0 && findings.length === 0) {
    findings.push({ id: 'anchor.empty', status: 'warn', source: null, title: 'no anchors', detail: `${anchorFile} holds no anchors`, fix: 'set anchors.file and anchors.interval in the daemon configuration' });
  }
  return findings;
}

function signatureFindings(source: string, anchors: readonly AnchorRecord[], key: KeyObject | null): AnchorFinding[] {
  const unsigned = anchors.filter((a) => a.sig === null).length;
  const out: AnchorFinding[] = [];
  if (unsigned > 0) out.push({ id: 'anchor.unsigned', status: 'warn', source, title: 'unsigned anchors', detail: `${unsigned} anchor(s) of ${source} carry no signature (unsigned store)`, fix: 'run the daemon with a signing key so anchors are signed' });
  if (key === null) {
    if (unsigned < anchors.length) out.push({ id: 'anchor.no_key', status: 'warn', source, title: 'signatures not checked', detail: 'no public key to check anchor signatures with', fix: 'pass --public-key with the store-key.pub.pem kept outside the store' });
    return out;
  }
  const bad = anchors.filter((a) => a.sig !== null && !anchorSignatureValid(a, key));
  if (bad.length > 0) {
    out.push({ id: 'anchor.bad_signature', status: 'fail', source, title: 'forged or altered anchors', detail: `${bad.length} anchor(s) of ${source} do not verify against the public key (first: seq ${bad[0]!.seq} at ${bad[0]!.at})`, fix: 'the anchor file was altered or written with another key: compare it with its replica' });
  }
  return out;
}

async function chainFindings(storeDir: string, source: string, anchors: readonly AnchorRecord[], archive: ArchivedLookupOptions): Promise<AnchorFinding[]> {
  const wanted = new Map<number, string | null>(anchors.map((a) => [a.seq, null]));
  let last = 0;
  const encryptionKey = archive.encryptionKey;
  for await (const ref of readEvents(storeDir, { sources: [source], ...(encryptionKey !== undefined ? { encryptionKey } : {}) })) {
    last = Math.max(last, ref.event.seq);
    if (wanted.has(ref.event.seq)) wanted.set(ref.event.seq, ref.event.hash);
  }
  const chainDir = join(storeDir, source);
  const missing = [...wanted].filter(([, h]) => h === null).map(([s]) => s);
  const { verdicts, end } = await lookupArchived(chainDir, source, missing, new Set((await listSegments(chainDir)).segments), archive);
  last = Math.max(last, end);
  const unchecked: { anchor: AnchorRecord; verdict: ArchivedVerdict & { kind: 'unchecked' | 'seal' } }[] = [];
  const deleted: { anchor: AnchorRecord; verdict: ArchivedVerdict & { kind: 'deleted' } }[] = [];
  /** Anchors compared with the chain (store, archive copy or seal): a differing hash is a rewrite. */
  const compared: AnchorRecord[] = [];
  for (const a of anchors) {
    const v = wanted.get(a.seq) === null ? verdicts.get(a.seq) : undefined;
    if (v === undefined) compared.push(a);
    else if (v.kind === 'read') {
      wanted.set(a.seq, v.hash);
      compared.push(a);
    } else if (v.kind === 'seal') {
      wanted.set(a.seq, v.hash);
      // A seal no key vouches for only counts against the anchor: an agreeing one could have been copied from it.
      if (v.unverified === null || v.hash !== a.hash) compared.push(a);
      else unchecked.push({ anchor: a, verdict: v });
    } else if (v.kind === 'deleted') deleted.push({ anchor: a, verdict: v });
    else unchecked.push({ anchor: a, verdict: v });
  }
  const out: AnchorFinding[] = [];
  const newest = anchors.reduce((m, a) => (a.seq > m.seq ? a : m));
  // An anchor in a recorded segment is placed by the manifest, not beyond the chain's end.
  const beyond = anchors.filter((a) => a.seq > last && !verdicts.has(a.seq));
  if (beyond.length > 0) {
    out.push({
      id: 'anchor.truncated',
      status: 'fail',
      source,
      title: 'newest events removed',
      detail: `the chain of ${source} ends at seq ${last}, but an anchor published at ${newest.at} recorded seq ${newest.seq} (hash ${newest.hash.slice(0, 16)}…): at least ${newest.seq - last} event(s) were removed`,
      fix: 'restore the chain from backup or replica; investigate who had write access to the store',
    });
  }
  const mismatched = compared.filter((a) => (a.seq <= last || verdicts.has(a.seq)) && wanted.get(a.seq) !== a.hash);
  if (mismatched.length > 0) {
    const m = mismatched[0]!;
    const held = verdicts.get(m.seq);
    const inArchive = held === undefined ? '' : held.kind === 'seal' ? ` in the seal of archived segment ${held.segment}` : ` in archived segment ${held.segment}`;
    out.push({
      id: 'anchor.mismatch',
      status: 'fail',
      source,
      title: 'anchored events rewritten',
      detail: `${mismatched.length} anchor(s) of ${source} disagree with the chain (first: seq ${m.seq} was anchored with hash ${m.hash.slice(0, 16)}…, the store holds ${(wanted.get(m.seq) ?? 'no event').slice(0, 16)}${inArchive})`,
      fix: 'the chain was rewritten after the anchor was published: restore it from backup or replica',
    });
  }
  if (unchecked.length > 0) out.push(uncheckedFinding(source, unchecked));
  if (deleted.length > 0) {
    const segments = perSegment(deleted.map((d) => d.verdict.segment));
    out.push({
      id: 'anchor.retention_deleted',
      status: 'ok',
      source,
      title: 'anchors in segments deleted under the retention policy',
      detail: `${deleted.length} anchor(s) of ${source} lie in segments retention deleted after retention.keep expired (${segments}); no copy is left to compare them with`,
    });
  }
  if (compared.length > 0 && !out.some((f) => f.status === 'fail')) {
    out.unshift({ id: 'anchor.ok', status: 'ok', source, title: 'anchors match', detail: `${compared.length} anchor(s) of ${source} found in the chain (newest seq ${newest.seq}; chain ends at ${last})` });
  }
  return out;
}

function uncheckedFinding(source: string, list: readonly { anchor: AnchorRecord; verdict: ArchivedVerdict & { kind: 'unchecked' | 'seal' } }[]): AnchorFinding {
  const why = new Map<number, string>();
  for (const { verdict: v } of list) if (!why.has(v.segment)) why.set(v.segment, v.kind === 'unchecked' ? v.why : `the archive copy is not reachable and ${v.unverified ?? 'its seal copy was not checked'}`);
  const counts = new Map<number, number>();
  for (const { verdict: v } of list) counts.set(v.segment, (counts.get(v.segment) ?? 0) + 1);
  const shown = [...counts].slice(0, MAX_SEGMENTS_LISTED).map(([n, c]) => `segment ${n} (${c} anchor(s)): ${why.get(n)}`);
  const more = counts.size > MAX_SEGMENTS_LISTED ? `; and ${counts.size - MAX_SEGMENTS_LISTED} more segment(s)` : '';
  return {
    id: 'anchor.archived_unchecked',
    status: 'warn',
    source,
    title: 'anchors in archived segments not checked',
    detail: `${list.length} anchor(s) of ${source} lie in archived segments that could not be read, so their hashes were not compared (${shown.join('; ')}${more})`,
    fix: 'pass --archive DIR where the archive is now (DIR/<source>/seg-N.jsonl); a segment deleted before retention.keep expired can only be restored from a backup',
  };
}

/** Segment lists in findings stop here: a store archived for years holds thousands. */
const MAX_SEGMENTS_LISTED = 10;

function perSegment(segments: readonly number[]): string {
  const counts = new Map<number, number>();
  for (const n of segments) counts.set(n, (counts.get(n) ?? 0) + 1);
  const shown = [...counts].slice(0, MAX_SEGMENTS_LISTED).map(([n, c]) => `segment ${n}: ${c}`);
  return shown.join(', ') + (counts.size > MAX_SEGMENTS_LISTED ? `, and ${counts.size - MAX_SEGMENTS_LISTED} more segment(s)` : '');
}
