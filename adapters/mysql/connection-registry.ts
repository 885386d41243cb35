/**
 * MySQL 8 (and MariaDB 11.5+) identity: the binlog names the connection of
 * every transaction (thread_id of the BEGIN Query event; MariaDB 11.5+ the
 * GTID event), but not its user. The connection registry maps thread ids to
 * the session that held them. It is fed from the binlog itself: `setup`
 * installs `init_connect` that inserts one row per new connection into the
 * registry table, and a BEFORE INSERT trigger overwrites the row with
 * CONNECTION_ID() and USER(), so a session can only register itself. The
 * registry row travels in its own transaction whose BEGIN carries the same
 * thread id; a row whose conn_id differs from that thread id is rejected.
 *
 * Thread ids are reused after a server restart; a later registration for
 * the same id replaces the earlier one, in binlog order, which is the order
 * the sessions existed in.
 */
import type { Row } from '../../src/core/event.js';
import type { SessionIdentity } from '../../src/core/ports.js';
import { identityFromMarker } from './session-marker.js';

export class ConnectionRegistry {
  readonly #byThread = new Map<number, SessionIdentity>();
  readonly #limit: number;
  readonly #serverHost: string | null;
  rejected = 0;

  /** `serverHost`: the server's @@hostname, the prefix of session ids (session-marker.ts sessionId). */
  constructor(limit = 100_000, serverHost: string | null = null) {
    this.#limit = limit;
    this.#serverHost = serverHost;
  }

  /** A registry row seen in a transaction run by `txThreadId`. Returns whether it was accepted. */
  observe(row: Row, txThreadId: number | null): boolean {
    const conn = typeof row['conn_id'] === 'string' ? Number(row['conn_id']) : NaN;
    if (!Number.isSafeInteger(conn) || txThreadId === null || conn !== txThreadId) {
      this.rejected++;
      return false;
    }
    this.#byThread.delete(conn);
    this.#byThread.set(conn, identityFromMarker(row, this.#serverHost));
    if (this.#byThread.size > this.#limit) {
      // Oldest registrations first: Map iterates in insertion order.
      const oldest = this.#byThread.keys().next().value;
      if (oldest !== undefined) this.#byThread.delete(oldest);
    }
    return true;
  }

  lookup(threadId: number): SessionIdentity | null {
    return this.#byThread.get(threadId) ?? null;
  }

  get size(): number {
    return this.#byThread.size;
  }
}
