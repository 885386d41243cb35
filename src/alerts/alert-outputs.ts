/**
 * Delivers durable alert events to the operator: a log line (always) and
 * the webhook (when configured). Called with events already fsync'd, so an
 * output failing never loses an alert: the store holds it.
 *
 * Repeats of the same alert (same source, code, user and table) within
 * `repeatAfterMs` are logged at debug level and not sent again; the count of
 * suppressed repeats rides along with the next delivery.
 */
import type { Logger } from 'pino';
import type { AuditEvent } from '../core/event.js';
import type { WebhookSink } from './webhook-sink.js';

export interface AlertOutputStats {
  raised: Map<string, number>; // `${source}\u0000${code}` -> count
  suppressed: number;
}

export class AlertOutputs {
  readonly #log: Logger;
  readonly #webhook: WebhookSink | null;
  readonly #repeatAfterMs: number;
  readonly #enabled: (code: string) => boolean;
  readonly #recent = new Map<string, { at: number; suppressed: number }>();
  readonly stats: AlertOutputStats = { raised: new Map(), suppressed: 0 };
  /** Called for every delivered (non-repeat) alert; for metrics and tests. */
  onAlert: ((event: AuditEvent) => void) | null = null;

  constructor(opts: { logger: Logger; webhook: WebhookSink | null; repeatAfterMs: number; enabled?: (code: string) => boolean }) {
    this.#log = opts.logger.child({ component: 'alerts' });
    this.#webhook = opts.webhook;
    this.#repeatAfterMs = opts.repeatAfterMs;
    this.#enabled = opts.enabled ?? (() => true);
  }

  /** Picks the alert events out of a durable batch and delivers them. */
  deliver(events: readonly AuditEvent[], now = Date.now()): void {
    for (const e of events) {
      if (e.action !== 'alert') continue;
      const code = e.detail?.['code'] ?? 'unknown';
      if (!this.#enabled(code)) continue;
      const statKey = `${e.source.id}\u0000${code}`;
      this.stats.raised.set(statKey, (this.stats.raised.get(statKey) ?? 0) + 1);
      const key = [e.source.id, code, e.actor.db_user ?? '', e.object?.schema ?? '', e.object?.table ?? '', e.detail?.['tables'] ?? ''].join('\u0000');
      const prev = this.#recent.get(key);
      if (prev !== undefined && now - prev.at < this.#repeatAfterMs) {
        prev.suppressed++;
        this.stats.suppressed++;
        this.#log.debug({ source: e.source.id, code, seq: e.seq }, 'repeated alert not sent again');
        continue;
      }
      const suppressed = prev?.suppressed ?? 0;
      this.#recent.set(key, { at: now, suppressed: 0 });
      this.#prune(now);
      this.#log.warn({ alert: code, source: e.source.id, seq: e.seq, id: e.id, db_user: e.actor.db_user, table: e.object?.table ?? undefined, message: e.detail?.['message'] }, 'alert');
      this.#webhook?.enqueue({ id: e.id, type: 'alert', body: suppressed > 0 ? { ...e, repeats_suppressed: suppressed } : e });
      this.onAlert?.(e);
    }
  }

  #prune(now: number): void {
    if (this.#recent.size < 10_000) return;
    for (const [k, v] of this.#recent) if (now - v.at >= this.#repeatAfterMs) this.#recent.delete(k);
  }
}
