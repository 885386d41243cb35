/**
 * The tamper-evident audit store (see docs/store.md).
 *
 * @example
 *   const store = await openStore('/var/lib/dbwitness/store', { signingKeyFile: '/etc/dbwitness/store-key.pem' });
 *   const chain = await store.openChain(source);
 *   await chain.append(drafts, checkpoint); // resolves once fsync'd: acknowledge the source only now
 */
import { silentLogger, type Logger } from '../core/logger.js';
import { usageError } from '../core/errors.js';
import { FileStore } from './file-store.js';
import { loadSigningKey } from './keys.js';

export interface StoreOptions {
  /** Ed25519 private key (PEM) that signs seals and chain heads. Required unless `unsigned` is true. */
  readonly signingKeyFile?: string;
  /**
   * Allow a store without a signing key: seals then carry the segment digest
   * but no signature, and `verify` warns that they prove nothing against
   * someone who can rewrite the files. For tests and evaluation only.
   */
  readonly unsigned?: boolean;
  /** 32-byte AES-256-GCM key: encrypt every line at rest. */
  readonly encryptionKey?: Buffer;
  /** Rotate (seal) a segment once it reaches this size. Default 64 MiB. */
  readonly segmentMaxBytes?: number;
  /** Rotate (seal) a segment holding events once it is this old. Default 1 hour. */
  readonly segmentMaxAgeMs?: number;
  readonly logger?: Logger;
  /** Wait this long before each group commit to gather more appends. Default 0 (commit as soon as the previous fsync ends). */
  readonly groupCommitMaxDelayMs?: number;
  /** Ids remembered per chain for replay dedupe. Default 100,000. */
  readonly dedupeWindow?: number;
}

export const DEFAULT_SEGMENT_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_SEGMENT_MAX_AGE_MS = 60 * 60 * 1000;
export const DEFAULT_DEDUPE_WINDOW = 100_000;

export async function openStore(dir: string, options: StoreOptions): Promise<FileStore> {
  if (options.signingKeyFile === undefined && options.unsigned !== true) {
    throw usageError(
      'E_STORE_NO_SIGNING_KEY',
      'the store needs a signing key to seal segments',
      'create one with `dbwitness keygen --out DIR` and pass DIR/store-key.pem as the signing key (or explicitly allow an unsigned store)',
    );
  }
  const signingKey = options.signingKeyFile === undefined ? null : await loadSigningKey(options.signingKeyFile);
  const store = new FileStore(dir, {
    signingKey,
    encryptionKey: options.encryptionKey,
    segmentMaxBytes: options.segmentMaxBytes ?? DEFAULT_SEGMENT_MAX_BYTES,
    segmentMaxAgeMs: options.segmentMaxAgeMs ?? DEFAULT_SEGMENT_MAX_AGE_MS,
    groupCommitMaxDelayMs: options.groupCommitMaxDelayMs ?? 0,
    dedupeWindow: options.dedupeWindow ?? DEFAULT_DEDUPE_WINDOW,
    logger: options.logger ?? silentLogger(),
  });
  await store.init();
  return store;
}

export { FileStore } from './file-store.js';
export { FileChain } from './file-chain.js';
export type { WriteStats } from './segment-file.js';
export type { TornTailRepair } from './recovery.js';
export { readEvents, listSources, type ReadEventsOptions, type StoredEventRef } from './reader.js';
export { loadEncryptionKey, parseEncryptionKey, ENCRYPTION_KEY_ENV } from './encryption.js';
export { generateSigningKeyPair, loadSigningKey, loadPublicKey } from './keys.js';
