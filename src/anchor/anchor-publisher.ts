/**
 * Publishes every chain's head periodically (and once more at shutdown,
 * after the drain) to the anchor file and the webhook. A head is published
 * again only when it moved. Heads come from `Chain.head()`, which moves only
 * after the fsync, so an anchor never names an event that is not durable.
 */
import type { Logger } from 'pino';
import { nowMicros } from '../core/ids.js';
import type { ChainHead } from '../core/ports.js';
import type { SigningKey } from '../store/keys.js';
import type { WebhookSink } from '../alerts/webhook-sink.js';
import { anchorId, makeAnchor, type AnchorRecord } from './anchor-record.js';
import type { AnchorFile } from './anchor-file.js';

export interface AnchorTarget {
  readonly sourceId: string;
  head(): ChainHead;
}

export interface AnchorPublisherOptions {
  readonly targets: () => readonly AnchorTarget[];
  readonly key: SigningKey | null;
  readonly file: AnchorFile | null;
  readonly webhook: WebhookSink | null;
  readonly intervalMs: number;
  readonly logger: Logger;
  readonly onPublished?: (a: AnchorRecord) => void;
}

export class AnchorPublisher {
  readonly #o: AnchorPublisherOptions;
  readonly #log: Logger;
  readonly #last = new Map<string, string>();
  #timer: NodeJS.Timeout | null = null;
  #busy: Promise<void> = Promise.resolve();

  constructor(options: AnchorPublisherOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'anchors' });
  }

  start(): void {
    this.#timer = setInterval(() => void this.publish(), this.#o.intervalMs);
    this.#timer.unref();
  }

  /** Publishes heads that moved since their last anchor; serialised so lines never interleave. */
  publish(): Promise<void> {
    this.#busy = this.#busy.then(() => this.#publishOnce()).catch((e: unknown) => {
      this.#log.error({ err: e instanceof Error ? e.message : String(e) }, 'publishing anchors failed; retrying at the next interval');
    });
    return this.#busy;
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#busy;
  }

  async #publishOnce(): Promise<void> {
    const at = nowMicros();
    const fresh: AnchorRecord[] = [];
    for (const t of this.#o.targets()) {
      const head = t.head();
      if (head.seq === 0) continue;
      const key = `${head.seq}:${head.hash}`;
      if (this.#last.get(t.sourceId) === key) continue;
      fresh.push(makeAnchor(t.sourceId, head.seq, head.hash, at, this.#o.key));
    }
    if (fresh.length === 0) return;
    await this.#o.file?.append(fresh);
    for (const a of fresh) {
      this.#last.set(a.source, `${a.seq}:${a.hash}`);
      this.#o.webhook?.enqueue({ id: anchorId(a), type: 'anchor', body: a });
      this.#o.onPublished?.(a);
    }
    this.#log.info({ anchors: fresh.map((a) => ({ source: a.source, seq: a.seq })) }, 'chain heads anchored');
  }
}
