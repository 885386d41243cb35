/**
 * What the daemon knows about each source at run time: its state, when it
 * last showed progress, its newest durable event, its chain, and its
 * optional capabilities. Filled by the observing wrappers
 * (observed-adapter.ts, observed-store.ts) and the supervisor's hooks; read
 * by metrics, /readyz, periodic alert rules and anchors.
 */
import type { Chain, ChainHead } from '../core/ports.js';
import type { SourceState } from './supervisor.js';
import type { HeartbeatCapable, LagCapable, SourceLag } from './source-capabilities.js';

export interface SourceRuntime {
  readonly id: string;
  /** When the daemon first saw the source (start, or added by a reload). */
  readonly addedAt: number;
  state: SourceState;
  lastError: { code: string; message: string } | null;
  /** Times the source was (re)opened after the first attempt. */
  reconnects: number;
  attempts: number;
  /** Wall-clock ms of the last message from the source (any kind, keepalive idle included). */
  lastMessageAt: number;
  /** Wall-clock ms of the last acknowledgement sent to the server. */
  lastAckAt: number;
  lastCheckpoint: string | null;
  /** Set when the source reported it has nothing more to send (idle); cleared by the next transaction. */
  caughtUp: boolean;
  /**
   * Set once the stream sent two idle messages with the same checkpoint: it
   * keeps alive even when nothing changes (MySQL/MariaDB binlog heartbeats),
   * so its silence means trouble. PostgreSQL's pgoutput stream reports idle
   * progress only when the WAL end moves; there the heartbeats the daemon
   * writes through the slot (`heartbeat` below) make silence meaningful.
   */
  keepsAlive: boolean;
  lastIdleCheckpoint: string | null;
  /** Commit time (ms) and position of the newest durable event. */
  lastEventTimeMs: number | null;
  lastPosition: string | null;
  /** recorded_at - time of the newest durable event, in seconds. */
  captureDelaySeconds: number | null;
  chain: Chain | null;
  /** Head of the chain when it was last closed (for the final anchor after a drain). */
  closedHead: ChainHead | null;
  lag: LagCapable | null;
  heartbeat: HeartbeatCapable | null;
  lastLag: SourceLag | null;
}

export class SourceMonitor {
  readonly #sources = new Map<string, SourceRuntime>();
  readonly startedAt = Date.now();

  get(id: string): SourceRuntime {
    let s = this.#sources.get(id);
    if (s === undefined) {
      s = {
        id,
        addedAt: Date.now(),
        state: 'starting',
        lastError: null,
        reconnects: 0,
        attempts: 0,
        lastMessageAt: 0,
        lastAckAt: 0,
        lastCheckpoint: null,
        caughtUp: false,
        keepsAlive: false,
        lastIdleCheckpoint: null,
        lastEventTimeMs: null,
        lastPosition: null,
        captureDelaySeconds: null,
        chain: null,
        closedHead: null,
        lag: null,
        heartbeat: null,
        lastLag: null,
      };
      this.#sources.set(id, s);
    }
    return s;
  }

  has(id: string): boolean {
    return this.#sources.has(id);
  }

  all(): SourceRuntime[] {
    return [...this.#sources.values()];
  }

  /** Forgets a source removed from the configuration (it stopped). */
  remove(id: string): void {
    this.#sources.delete(id);
  }

  /** The newest durable head of the source's chain, open or closed. */
  head(s: SourceRuntime): ChainHead | null {
    return s.chain?.head() ?? s.closedHead;
  }

  /** Whether silence from this source is meaningful (it keeps alive, or can be made to by heartbeats). */
  expectsProgress(s: SourceRuntime): boolean {
    return s.keepsAlive || s.heartbeat !== null;
  }

  /** The last time the source showed any progress. */
  lastProgressAt(s: SourceRuntime): number {
    return Math.max(s.lastMessageAt, s.lastAckAt);
  }

  /**
   * Replication lag in seconds: from the adapter when it can tell; otherwise
   * 0 while the source reports it is caught up (an idle message arrived
   * after the newest transaction), else how late the newest durable event
   * was stored after its commit. Not "now - commit time": between a
   * transaction and the next keepalive (up to wal_sender_timeout / 2 on
   * PostgreSQL) that would grow on a perfectly idle, caught-up source.
   */
  lagSeconds(s: SourceRuntime, _now = Date.now()): number | null {
    if (s.lastLag?.seconds !== null && s.lastLag?.seconds !== undefined) return s.lastLag.seconds;
    if (s.caughtUp) return 0;
    return s.captureDelaySeconds;
  }
}
