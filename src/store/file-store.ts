/**
 * The store: one directory, one chain per source (see layout.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Source } from '../core/event.js';
import { usageError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { AuditStore } from '../core/ports.js';
import { mkdirPrivate, writeFileDurable } from './durable-fs.js';
import { assertEncryptionKey } from './encryption.js';
import { FileChain } from './file-chain.js';
import { keyIdOf, publicKeyPem, type SigningKey } from './keys.js';
import { PUBLIC_KEY_FILE, sourceDir } from './layout.js';
import { recoverChain, type TornTailRepair } from './recovery.js';
import { SegmentFile } from './segment-file.js';
import { lockChain } from './chain-lock.js';
import { createPublicKey } from 'node:crypto';

export interface ResolvedStoreOptions {
  readonly signingKey: SigningKey | null;
  readonly encryptionKey: Buffer | undefined;
  readonly segmentMaxBytes: number;
  readonly segmentMaxAgeMs: number;
  readonly groupCommitMaxDelayMs: number;
  readonly dedupeWindow: number;
  readonly logger: Logger;
}

export class FileStore implements AuditStore {
  readonly dir: string;
  readonly #o: ResolvedStoreOptions;
  readonly #chains = new Map<string, FileChain>();
  readonly #repairs: TornTailRepair[] = [];

  constructor(dir: string, options: ResolvedStoreOptions) {
    this.dir = dir;
    this.#o = options;
  }

  /** Torn tails truncated while opening chains (also logged as warnings). */
  repairs(): readonly TornTailRepair[] {
    return this.#repairs;
  }

  /** Creates the directory and records the public key next to the data (for offline verify). */
  async init(): Promise<void> {
    if (this.#o.encryptionKey !== undefined) assertEncryptionKey(this.#o.encryptionKey);
    await mkdirPrivate(this.dir);
    const key = this.#o.signingKey;
    if (key === null) return;
    const file = join(this.dir, PUBLIC_KEY_FILE);
    const existing = await readFile(file, 'utf8').catch(() => null);
    if (existing === null) {
      await writeFileDurable(file, publicKeyPem(key.publicKey));
      return;
    }
    let existingId: string;
    try {
      existingId = keyIdOf(createPublicKey(existing));
    } catch {
      existingId = 'unreadable';
    }
    if (existingId !== key.keyId) {
      throw usageError(
        'E_STORE_KEY_MISMATCH',
        `the store at ${this.dir} was sealed with key ${existingId}, but the signing key given is ${key.keyId}`,
        'pass the signing key this store was created with; to change keys, start a new store directory',
      );
    }
  }

  async openChain(source: Source): Promise<FileChain> {
    const existing = this.#chains.get(source.id);
    if (existing !== undefined) {
      if (!existing.closed) {
        throw usageError('E_STORE_CHAIN_OPEN', `the chain of source ${source.id} is already open in this store`, 'open each source once; share the Chain object');
      }
      // A closed chain (e.g. the supervisor retrying a failed source) may be opened again.
      await existing.close();
      this.#chains.delete(source.id);
    }
    const chainDir = sourceDir(this.dir, source.id);
    await mkdirPrivate(chainDir);
    const lock = await lockChain(chainDir, source.id);
    let recovered;
    try {
      recovered = await recoverChain(chainDir, source.id, this.#o.encryptionKey, this.#o.dedupeWindow);
    } catch (e) {
      await lock.release();
      throw e;
    }
    if (recovered.repair !== null) {
      this.#repairs.push(recovered.repair);
      this.#o.logger.warn({ source: source.id, file: recovered.repair.file, offset: recovered.repair.offset, bytes: recovered.repair.bytes }, 'truncated a torn last line left by a crash mid-write');
    }
    if (recovered.leftoverSeals.length > 0) {
      // Harmless (archived.jsonl records each segment with this seal's digest), but an operator should know a retention run was cut short.
      this.#o.logger.warn({ source: source.id, segments: recovered.leftoverSeals }, 'seals left by an interrupted retention run (their segments are recorded in archived.jsonl); the next `dbwitness retention` run removes them');
    }
    const segment = recovered.open === null ? null : await SegmentFile.reopen(chainDir, recovered.open);
    const chain = new FileChain(source, recovered, segment, { chainDir, ...this.#o }, lock);
    this.#chains.set(source.id, chain);
    return chain;
  }

  async close(): Promise<void> {
    const chains = [...this.#chains.values()];
    this.#chains.clear();
    await Promise.all(chains.map((c) => c.close()));
  }
}
