/**
 * Optional capabilities a `ChangeSource` may offer the daemon, detected
 * structurally so that adapters stay free to add them one at a time and the
 * core `ChangeSource` port does not change (see docs/operations.md).
 *
 * - `lag()`: how far the server is ahead of what dbwitness has made durable,
 *   e.g. for PostgreSQL `pg_current_wal_lsn() - confirmed_flush_lsn` and
 *   `pg_current_wal_lsn() - restart_lsn` of the slot; for MySQL/MariaDB the
 *   distance between `SHOW MASTER STATUS` and the stored binlog position.
 * - `heartbeat()`: writes a heartbeat into the source's own change stream
 *   (PostgreSQL: `pg_logical_emit_message(false, 'dbwitness.heartbeat', ...)`;
 *   MariaDB: an insert into a heartbeat table) so that a silent pipeline can
 *   be told apart from an idle database.
 */
import type { ChangeSource } from '../core/ports.js';

export interface SourceLag {
  /** Bytes of WAL/binlog written by the server but not yet acknowledged. */
  readonly bytes: number | null;
  /** Bytes of WAL/binlog the server retains for this source (slot restart_lsn, oldest needed binlog). */
  readonly retainedBytes: number | null;
  /** Seconds behind, when the server can tell (e.g. replay of a timestamped heartbeat). */
  readonly seconds: number | null;
}

export interface LagCapable {
  lag(): Promise<SourceLag>;
}

export interface HeartbeatCapable {
  heartbeat(): Promise<void>;
}

export function lagCapability(source: ChangeSource): LagCapable | null {
  const s = source as Partial<LagCapable>;
  return typeof s.lag === 'function' ? { lag: () => s.lag!.call(source) } : null;
}

export function heartbeatCapability(source: ChangeSource): HeartbeatCapable | null {
  const s = source as Partial<HeartbeatCapable>;
  return typeof s.heartbeat === 'function' ? { heartbeat: () => s.heartbeat!.call(source) } : null;
}
