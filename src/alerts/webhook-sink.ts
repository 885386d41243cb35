/**
 * HTTP webhook delivery that never blocks capture: `enqueue` only appends to
 * a bounded in-memory queue (the oldest entry is dropped and counted when it
 * is full) and one background loop POSTs entries in order, retrying a
 * failed delivery with exponential backoff until it succeeds. Receivers get
 * at-least-once delivery: deduplicate on `id`.
 *
 * Bodies hold alert and anchor payloads only (codes, users, table names,
 * positions, hashes), never row values. With a secret, each request carries
 * `X-Dbwitness-Signature: sha256=<hex HMAC-SHA256 of the body>`.
 */
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import { redactUrl } from '../core/errors.js';

export interface WebhookPayload {
  /** Stable id of the delivery (alert event id, or anchor id): receivers deduplicate on it. */
  readonly id: string;
  readonly type: 'alert' | 'anchor';
  readonly body: unknown;
}

export interface WebhookStats {
  delivered: number;
  failures: number;
  dropped: number;
  queued: number;
}

export interface WebhookSinkOptions {
  readonly url: string;
  readonly secret?: string | undefined;
  readonly timeoutMs?: number;
  readonly maxQueue?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly logger: Logger;
}

export class WebhookSink {
  readonly #o: WebhookSinkOptions;
  readonly #log: Logger;
  readonly #queue: WebhookPayload[] = [];
  readonly stats: WebhookStats = { delivered: 0, failures: 0, dropped: 0, queued: 0 };
  #running = false;
  #closed = false;
  #wake: (() => void) | null = null;
  #loop: Promise<void> = Promise.resolve();

  constructor(options: WebhookSinkOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'webhook', target: redactUrl(options.url) });
  }

  enqueue(payload: WebhookPayload): void {
    if (this.#closed) return;
    if (this.#queue.length >= (this.#o.maxQueue ?? 10_000)) {
      this.#queue.shift();
      this.stats.dropped++;
      if (this.stats.dropped === 1 || this.stats.dropped % 1000 === 0) this.#log.warn({ dropped: this.stats.dropped }, 'webhook queue full: dropped the oldest delivery (the event itself stays in the store)');
    }
    this.#queue.push(payload);
    this.stats.queued = this.#queue.length;
    if (!this.#running) {
      this.#running = true;
      this.#loop = this.#run();
    } else {
      this.#wake?.();
    }
  }

  get depth(): number {
    return this.#queue.length;
  }

  /** Stops after trying to deliver what is queued for up to `graceMs`. */
  async close(graceMs = 2000): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (this.#queue.length > 0 && Date.now() < deadline) await sleep(20);
    this.#closed = true;
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let backoff = this.#o.minBackoffMs ?? 250;
    while (!this.#closed && this.#queue.length > 0) {
      const next = this.#queue[0]!;
      const ok = await this.#post(next);
      if (ok) {
        // The head may have been dropped while the request was in flight.
        if (this.#queue[0] === next) this.#queue.shift();
        this.stats.delivered++;
        this.stats.queued = this.#queue.length;
        backoff = this.#o.minBackoffMs ?? 250;
        continue;
      }
      this.stats.failures++;
      await this.#pause(backoff);
      backoff = Math.min(backoff * 2, this.#o.maxBackoffMs ?? 60_000);
    }
    this.#running = false;
  }

  async #post(p: WebhookPayload): Promise<boolean> {
    const body = JSON.stringify({ id: p.id, type: p.type, [p.type]: p.body });
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'dbwitness', 'x-dbwitness-delivery': p.id };
    if (this.#o.secret !== undefined) headers['x-dbwitness-signature'] = `sha256=${createHmac('sha256', this.#o.secret).update(body).digest('hex')}`;
    try {
      const res = await fetch(this.#o.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.#o.timeoutMs ?? 5000) });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return true;
      this.#log.warn({ status: res.status, id: p.id }, 'webhook refused the delivery; retrying');
      return false;
    } catch (e) {
      if (this.stats.failures % 20 === 0) this.#log.warn({ err: e instanceof Error ? e.message : String(e), id: p.id }, 'webhook unreachable; retrying with backoff');
      return false;
    }
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(t);
        self.#wake = null;
        resolve();
      }
      // Only close() cuts a backoff short; new deliveries wait their turn.
      this.#wake = () => {
        if (this.#closed) done();
      };
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
