/**
 * Every `alerts.check_interval`: polls optional source capabilities (lag,
 * heartbeat) and raises the alerts no single event triggers: replication
 * lag, retained WAL/binlog, and a pipeline silent for longer than
 * `pipeline_silent.after`. A repeat of the same condition is raised at most
 * once per `repeat_after` (the id's scope is the time bucket).
 *
 * Such alerts are appended to the source's chain without a checkpoint; a
 * source whose chain is closed (server down, retrying) gets its alert in the
 * log only, and /readyz and the metrics show the state.
 */
import type { Logger } from 'pino';
import type { AuditEvent, DraftEvent } from '../core/event.js';
import { nowMicros } from '../core/ids.js';
import { HEARTBEAT_UNAVAILABLE, isDbwitnessError } from '../core/errors.js';
import type { AlertRulesConfig } from '../config/config-schema.js';
import { durationMs } from '../config/config-schema.js';
import { ALERT_CODES } from '../alerts/alert-codes.js';
import { sourceAlert } from '../alerts/alert-draft.js';
import type { SourceMonitor, SourceRuntime } from './source-monitor.js';

export interface PeriodicChecksOptions {
  readonly monitor: SourceMonitor;
  readonly rules: () => AlertRulesConfig;
  readonly intervalMs: number;
  readonly repeatAfterMs: number;
  readonly logger: Logger;
  /** Durable alerts, for the outputs and metrics (the same path as pipeline events). */
  readonly onStored: (sourceId: string, events: readonly AuditEvent[]) => void;
}

export class PeriodicChecks {
  readonly #o: PeriodicChecksOptions;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> = Promise.resolve();

  constructor(options: PeriodicChecksOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'checks' });
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.#running = this.#running.then(() => this.tick()).catch(() => undefined);
    }, this.#o.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  async tick(now = Date.now()): Promise<void> {
    await Promise.all(this.#o.monitor.all().map((rt) => this.#check(rt, now)));
  }

  async #check(rt: SourceRuntime, now: number): Promise<void> {
    if (rt.state === 'streaming' && rt.lag !== null) {
      rt.lastLag = await withTimeout(rt.lag.lag(), 5000).catch((e: unknown) => {
        this.#log.debug({ source: rt.id, err: e instanceof Error ? e.message : String(e) }, 'lag probe failed');
        return rt.lastLag;
      });
    }
    if (rt.state === 'streaming' && rt.heartbeat !== null) {
      await withTimeout(rt.heartbeat.heartbeat(), 5000).catch((e: unknown) => {
        if (isDbwitnessError(e) && e.code === HEARTBEAT_UNAVAILABLE) {
          // Until setup is re-run the source is one without heartbeats: its silence is not an alert (asked again on reconnect).
          rt.heartbeat = null;
          this.#log.warn({ source: rt.id, err: e.message, fix: e.fix }, 'heartbeats unavailable for this source; silence is not checked until they are');
          return;
        }
        this.#log.warn({ source: rt.id, err: e instanceof Error ? e.message : String(e) }, 'heartbeat failed');
      });
    }
    const r = this.#o.rules();
    const alerts: Array<{ code: string; message: string; detail: Record<string, string> }> = [];
    // Lag the source reports; lag seen on stored events is raised per event (daemon-services.ts).
    const lag = rt.lastLag?.seconds ?? null;
    if (r.replication_lag.enabled && lag !== null && lag > r.replication_lag.max_seconds) {
      alerts.push({ code: ALERT_CODES.lag, message: `replication lag ${Math.round(lag)} s exceeds ${r.replication_lag.max_seconds} s`, detail: { lag_seconds: String(Math.round(lag)), limit_seconds: String(r.replication_lag.max_seconds) } });
    }
    const retained = rt.lastLag?.retainedBytes ?? null;
    if (r.replication_lag.enabled && retained !== null && retained > r.replication_lag.max_retained_bytes) {
      alerts.push({ code: ALERT_CODES.retained, message: `the server retains ${retained} bytes of WAL/binlog for this source (limit ${r.replication_lag.max_retained_bytes})`, detail: { retained_bytes: String(retained), limit_bytes: String(r.replication_lag.max_retained_bytes) } });
    }
    const silentAfter = durationMs(r.pipeline_silent.after);
    const since = Math.max(this.#o.monitor.lastProgressAt(rt), rt.addedAt);
    if (r.pipeline_silent.enabled && (this.#o.monitor.expectsProgress(rt) || !r.pipeline_silent.require_heartbeat) && now - since > silentAfter) {
      alerts.push({ code: ALERT_CODES.silent, message: `no progress from the source for ${Math.round((now - since) / 1000)} s (state ${rt.state})`, detail: { silent_seconds: String(Math.round((now - since) / 1000)), state: rt.state } });
    }
    if (alerts.length === 0) return;
    const bucket = String(Math.floor(now / this.#o.repeatAfterMs));
    const chain = rt.chain;
    if (chain === null) {
      for (const a of alerts) this.#log.warn({ alert: a.code, source: rt.id, ...a.detail }, `alert (not stored: the chain is closed while the source is ${rt.state}): ${a.message}`);
      return;
    }
    const position = rt.lastPosition ?? chain.checkpoint()?.checkpoint ?? 'none';
    const time = nowMicros();
    const drafts: DraftEvent[] = alerts.map((a) => sourceAlert(chain.source, position, time, a.code, a.message, bucket, a.detail));
    try {
      const stored = await chain.append(drafts);
      if (stored.length > 0) this.#o.onStored(rt.id, stored);
    } catch (e) {
      for (const a of alerts) this.#log.warn({ alert: a.code, source: rt.id, err: e instanceof Error ? e.message : String(e) }, `alert (not stored): ${a.message}`);
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
