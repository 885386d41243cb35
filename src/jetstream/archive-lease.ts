/**
 * One active archiver per store: a lease in a KV bucket whose TTL (the
 * bucket's max age) is the lease TTL.
 *
 * - acquire: `create` succeeds only while the key is absent, i.e. never
 *   taken, released, or expired (no renewal for a TTL).
 * - renew every TTL/3 with `update(key, value, revision)`: the revision
 *   check fails if anyone else took the key meanwhile.
 * - self-fencing: the holder considers the lease valid until
 *   (send time of its last successful renewal) + 2/3 TTL. The server
 *   expires the key no earlier than (store time of that renewal) + TTL,
 *   which is later, so the old holder stops writing at least TTL/3 before
 *   a standby can acquire. The archiver checks `assertHeld` before every
 *   store append; the standby opens the store only after acquiring, because
 *   opening repairs torn tails, i.e. writes.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { KV } from 'nats';
import { DbwitnessError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { errText } from './edge-chain.js';
import { pause } from './nats-connect.js';

export class ArchiveLease {
  readonly holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  readonly #kv: KV;
  readonly #key: string;
  readonly #ttlMs: number;
  readonly #log: Logger;
  #revision = 0;
  #validUntil = 0;
  #timer: NodeJS.Timeout | null = null;
  #renewing = false;
  #lost = new AbortController();

  constructor(kv: KV, key: string, ttlMs: number, logger: Logger) {
    this.#kv = kv;
    this.#key = key;
    this.#ttlMs = ttlMs;
    this.#log = logger.child({ component: 'archive-lease', lease: key, holder: this.holder });
  }

  /** Aborts when the lease is lost (renewal refused, or not renewed in time). */
  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  /** Waits until this process holds the lease; false if `signal` aborted first. */
  async acquire(signal: AbortSignal): Promise<boolean> {
    let waitingLogged = false;
    while (!signal.aborted) {
      const sentAt = Date.now();
      try {
        this.#revision = await this.#kv.create(this.#key, this.#value());
        this.#validUntil = sentAt + (this.#ttlMs * 2) / 3;
        this.#lost = new AbortController();
        this.#timer = setInterval(() => void this.#renew(), this.#ttlMs / 3);
        this.#log.info({ revision: this.#revision }, 'archiver lease acquired: this archiver writes the store');
        return true;
      } catch (e) {
        if (!waitingLogged) {
          this.#log.info({ err: errText(e) }, 'archiver lease held elsewhere (or NATS unavailable): standing by');
          waitingLogged = true;
        }
      }
      await pause(this.#ttlMs / 5, signal);
    }
    return false;
  }

  held(): boolean {
    return !this.#lost.signal.aborted && Date.now() < this.#validUntil;
  }

  /** Throws unless the lease is held and fresh: call before every write to the store. */
  assertHeld(): void {
    if (this.held()) return;
    this.#markLost('lease not renewed in time');
    throw new DbwitnessError('E_ARCHIVE_LEASE_LOST', 'the archiver lease expired or was taken over', 'another archiver may be writing the store now; this one stands by (check NATS connectivity if this repeats)');
  }

  /** Stops renewing and deletes the key if still ours, so a standby takes over at once. */
  async release(): Promise<void> {
    const wasHeld = this.held();
    this.#stop();
    if (!wasHeld) return;
    await this.#kv.delete(this.#key, { previousSeq: this.#revision }).catch((e: unknown) => this.#log.warn({ err: errText(e) }, 'could not release the lease; it expires by itself'));
    this.#lost.abort();
  }

  async #renew(): Promise<void> {
    // One renewal at a time: while NATS is away, queued updates with the same
    // revision would be sent together on reconnect and all but one refused.
    if (this.#lost.signal.aborted || this.#renewing) return;
    this.#renewing = true;
    const sentAt = Date.now();
    try {
      const rev = await this.#kv.update(this.#key, this.#value(), this.#revision);
      if (this.#lost.signal.aborted) return;
      this.#revision = rev;
      this.#validUntil = sentAt + (this.#ttlMs * 2) / 3;
    } catch (e) {
      const msg = errText(e);
      if (/wrong last sequence/i.test(msg)) {
        // Our own earlier update may have landed after its request timed out:
        // the key is still ours if it names this holder.
        const entry = await this.#kv.get(this.#key).catch(() => null);
        if (entry !== null && entry.operation === 'PUT' && this.#isMine(entry.value)) {
          this.#revision = entry.revision;
          this.#validUntil = sentAt + (this.#ttlMs * 2) / 3;
          return;
        }
        this.#markLost('lease taken over');
      } else if (Date.now() >= this.#validUntil) this.#markLost(`renewal failed: ${msg}`);
      else this.#log.warn({ err: msg }, 'lease renewal failed; retrying');
    } finally {
      this.#renewing = false;
    }
  }

  #isMine(value: Uint8Array): boolean {
    try {
      return (JSON.parse(Buffer.from(value).toString('utf8')) as { holder?: unknown }).holder === this.holder;
    } catch {
      return false;
    }
  }

  #markLost(why: string): void {
    if (this.#lost.signal.aborted) return;
    this.#log.warn({ why }, 'archiver lease lost: stopping writes');
    this.#stop();
    this.#lost.abort();
  }

  #stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  #value(): Uint8Array {
    return Buffer.from(JSON.stringify({ holder: this.holder, renewed_at: new Date().toISOString() }), 'utf8');
  }
}
