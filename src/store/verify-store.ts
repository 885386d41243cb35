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
import { verifyChain, type SourceVerifyResult, type VerifyContext } from './verify-chain.js';

export interface VerifyOptions {
  /** Trusted public key (PEM). Default: the store's own store-key.pub.pem, with a warning. */
  readonly publicKeyFile?: string;
  readonly encryptionKey?: Buffer;
  /** Heads recorded from an earlier verify (source id -> seq, hash): detects removal from the end. */
  readonly expectHeads?: ReadonlyMap<string, ChainHead>;
  /** Issues kept per source (all are counted). Default 100. */
  readonly maxIssues?: number;
  /** Called with the total bytes to read, then with each chunk's size. */
  readonly onTotal?: (bytes: number) => void;
  readonly onBytes?: (n: number) => void;
}

export type KeyTrust = 'given' | 'stored' | 'none';

export interface StoreVerifyReport {
  readonly ok: boolean;
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
  if (opts.onTotal !== undefined) opts.onTotal(await totalBytes(dir, sources));
  for (const id of opts.expectHeads?.keys() ?? []) {
    if (!sources.includes(id)) throw usageError('E_VERIFY_EXPECT_HEAD', `--expect-head names source ${id}, which this store does not hold`, `use one of: ${sources.join(', ')}`);
  }
  const ctx: VerifyContext = {
    publicKey,
    ...(opts.expectHeads === undefined ? {} : { expectHeads: opts.expectHeads }),
    encryptionKey: opts.encryptionKey,
    maxIssues: opts.maxIssues ?? 100,
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
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    ok: results.every((r) => r.issueCount === 0),
    dir,
    keyTrust,
    keyId: publicKey === null ? null : keyIdOf(publicKey),
    warnings,
    notes: [TAIL_LIMIT_NOTE],
    sources: results,
    events: results.reduce((a, r) => a + r.events, 0),
    seconds,
  };
}

async function totalBytes(dir: string, sources: readonly string[]): Promise<number> {
  let total = 0;
  for (const s of sources) {
    const chainDir = join(dir, s);
    const { segments } = await listSegments(chainDir);
    for (const n of segments) total += (await stat(join(chainDir, segmentFileName(n))).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

