/**
 * The session keys the translator checks session ids with, and when to read
 * them again. They are read at every connect; after that a rotation
 * (`setup postgres --rotate-session-key`) must reach a running daemon
 * without a restart, both ways:
 * - a new key: ids signed with it fail against the keys held, so a failure
 *   reads the keys again (at most once a second, whatever a forger sends)
 *   before it is called a forgery;
 * - a key dropped at once (it may have leaked): ids signed with it still
 *   pass against the keys held, so keys older than a minute are read again
 *   before the next identity is checked, and a change clears the
 *   translator's cache of accepted identities.
 */
import { NO_SESSION_KEYS, type SessionKeys } from './identity-message.js';

/** Reads the session keys again (the source's lookup connection). */
export type SessionKeyReader = () => Promise<SessionKeys>;

export interface SessionKeyTiming {
  /** Keys this old are read again before the next identity is checked. */
  readonly maxAgeMs?: number;
  /** A failed check reads the keys again at most this often. */
  readonly retryMs?: number;
  /** Milliseconds on a monotonic clock. */
  readonly now?: () => number;
}

export class SessionKeyRing {
  #keys: SessionKeys;
  readonly #read: SessionKeyReader | null;
  readonly #now: () => number;
  readonly #maxAgeMs: number;
  readonly #retryMs: number;
  #readAt: number;

  constructor(keys: SessionKeys = NO_SESSION_KEYS, read: SessionKeyReader | null = null, timing: SessionKeyTiming = {}) {
    this.#keys = keys;
    this.#read = read;
    this.#now = timing.now ?? (() => performance.now());
    this.#maxAgeMs = timing.maxAgeMs ?? 60_000;
    this.#retryMs = timing.retryMs ?? 1000;
    this.#readAt = this.#now();
  }

  get keys(): SessionKeys {
    return this.#keys;
  }

  /** Read long enough ago that a rotation may have replaced them. */
  get stale(): boolean {
    return this.#read !== null && this.#now() - this.#readAt >= this.#maxAgeMs;
  }

  /** A failed check may read the keys again now. */
  get mayRetry(): boolean {
    return this.#read !== null && this.#now() - this.#readAt >= this.#retryMs;
  }

  /** Reads the keys again; true when they changed. */
  async reload(): Promise<boolean> {
    if (this.#read === null) return false;
    this.#readAt = this.#now();
    const next = await this.#read();
    const k = this.#keys;
    const changed = next.current !== k.current || next.previous !== k.previous || next.rotatedAtSec !== k.rotatedAtSec || next.previousUntilMs !== k.previousUntilMs;
    this.#keys = next;
    return changed;
  }
}
