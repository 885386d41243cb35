/**
 * Heartbeats this process sent and which of them came back through the
 * replication stream: the source of `lag().seconds` for PostgreSQL.
 *
 * A heartbeat's content is written by a function any holder of the daemon
 * role may call, so it is trusted for nothing but matching a nonce this
 * process generated: a message with an unknown nonce (another daemon on the
 * same database, a retried call, a manual call) is progress and nothing
 * else. Times come from the caller's monotonic clock, never from the
 * server's `server_time` field.
 */
import { z } from 'zod';

/** Outstanding heartbeats remembered at most; a stuck stream must not grow memory without bound. */
const MAX_PENDING = 256;

const HeartbeatPayload = z.object({ nonce: z.string() });

/** The nonce of a heartbeat message, or null when the content is not a heartbeat object. */
export function heartbeatNonce(content: Buffer): string | null {
  try {
    const r = HeartbeatPayload.safeParse(JSON.parse(content.toString('utf8')));
    return r.success ? r.data.nonce : null;
  } catch {
    return null;
  }
}

export class HeartbeatTracker {
  /** Nonce -> monotonic ms when it was sent; Map iteration order is send order. */
  readonly #pending = new Map<string, number>();
  #lastRoundTripMs: number | null = null;

  /** Call just before the heartbeat is written, so that a fast echo is not missed. */
  sent(nonce: string, nowMs: number): void {
    // Beyond the cap the oldest entries, which define the age, are kept; newer ones go untracked.
    if (this.#pending.size >= MAX_PENDING) return;
    this.#pending.set(nonce, nowMs);
  }

  /** The write failed: the message may still arrive, and is then plain progress. */
  failed(nonce: string): void {
    this.#pending.delete(nonce);
  }

  /**
   * A heartbeat came back through the stream. Heartbeats arrive in WAL
   * order, so the ones sent before it that are still outstanding were never
   * written (or their call is still hanging): they are forgotten rather than
   * left to age forever. Returns whether the nonce was one of ours.
   */
  seen(nonce: string | null, nowMs: number): boolean {
    if (nonce === null) return false;
    const sentAt = this.#pending.get(nonce);
    if (sentAt === undefined) return false;
    for (const n of this.#pending.keys()) {
      this.#pending.delete(n);
      if (n === nonce) break;
    }
    this.#lastRoundTripMs = Math.max(0, nowMs - sentAt);
    return true;
  }

  /**
   * Seconds behind: the age of the oldest heartbeat not yet seen back, or
   * else the round trip of the last one that came back; null before any.
   */
  seconds(nowMs: number): number | null {
    for (const sentAt of this.#pending.values()) return Math.max(0, nowMs - sentAt) / 1000;
    return this.#lastRoundTripMs === null ? null : this.#lastRoundTripMs / 1000;
  }

  get outstanding(): number {
    return this.#pending.size;
  }
}
