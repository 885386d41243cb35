/**
 * Runs one pipeline per configured source, each with its own chain and
 * checkpoint, so that one failing source (server down, slot invalidated)
 * is reported and retried while the others keep flowing.
 *
 * Adapters reconnect on transient drops themselves; what reaches the
 * supervisor is an attempt that ended in an error. With `failFast` (a
 * single source given on the command line) that error ends the process,
 * because a missing or invalidated slot must fail loudly rather than retry
 * forever unseen; with several sources it is retried with backoff and shown
 * by /readyz and the metrics.
 */
import type { Logger } from 'pino';
import type { AuditEvent, DraftEvent } from '../core/event.js';
import type { AuditStore, Chain, ChangeSource, SourceAdapter } from '../core/ports.js';
import { isDbwitnessError } from '../core/errors.js';
import { runPipeline, type PipelineStats } from '../pipeline/index.js';
import { sleep } from '../core/sleep.js';

export type SourceState = 'starting' | 'streaming' | 'retrying' | 'failed' | 'stopped';

/** Observers of the daemon (metrics, alert rules, index, anchors). Must not throw. */
export interface DaemonHooks {
  onState?(sourceId: string, state: SourceState, error?: { code: string; message: string }): void;
  /** Events just made durable in the source's chain. */
  onEvents?(sourceId: string, chain: Chain, events: readonly AuditEvent[]): void;
  /** A source position acknowledged to the server after being stored. */
  onAcknowledged?(sourceId: string, checkpoint: string): void;
}

export interface SourceSpec {
  readonly id: string;
  readonly adapter: SourceAdapter<unknown>;
  readonly config: unknown;
  /** Compared on reload: a changed fingerprint restarts the source. */
  readonly fingerprint: string;
}

export interface SupervisorOptions {
  readonly store: AuditStore;
  readonly logger: Logger;
  readonly hooks?: DaemonHooks;
  readonly failFast?: boolean;
  readonly transform?: (draft: DraftEvent) => DraftEvent;
  readonly maxBackoffMs?: number;
}

interface Worker {
  readonly spec: SourceSpec;
  readonly controller: AbortController;
  readonly done: Promise<void>;
  state: SourceState;
  stats: PipelineStats | null;
}

export class Supervisor {
  readonly #o: SupervisorOptions;
  readonly #workers = new Map<string, Worker>();
  #fatal: unknown = null;
  #onFatal: ((e: unknown) => void) | null = null;

  constructor(options: SupervisorOptions) {
    this.#o = options;
  }

  /** Resolves with the first fatal error (failFast), never otherwise. */
  fatal(): Promise<never> {
    return new Promise((_, reject) => {
      if (this.#fatal !== null) reject(this.#fatal);
      else this.#onFatal = reject;
    });
  }

  states(): Record<string, SourceState> {
    return Object.fromEntries([...this.#workers].map(([id, w]) => [id, w.state]));
  }

  /** Starts new sources, restarts changed ones, stops removed ones. */
  async apply(specs: readonly SourceSpec[]): Promise<void> {
    const wanted = new Map(specs.map((s) => [s.id, s]));
    const stops: Promise<void>[] = [];
    for (const [id, w] of this.#workers) {
      const next = wanted.get(id);
      if (next === undefined || next.fingerprint !== w.spec.fingerprint) stops.push(this.#stop(id));
    }
    await Promise.all(stops);
    for (const spec of specs) if (!this.#workers.has(spec.id)) this.#start(spec);
  }

  /** Drains every source: complete transactions are stored and acknowledged. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#workers.keys()].map((id) => this.#stop(id)));
  }

  async #stop(id: string): Promise<void> {
    const w = this.#workers.get(id);
    if (w === undefined) return;
    w.controller.abort();
    await w.done;
    this.#workers.delete(id);
  }

  #start(spec: SourceSpec): void {
    const controller = new AbortController();
    const worker: Worker = { spec, controller, done: Promise.resolve(), state: 'starting', stats: null };
    (worker as { done: Promise<void> }).done = this.#loop(worker);
    this.#workers.set(spec.id, worker);
  }

  #setState(w: Worker, state: SourceState, error?: unknown): void {
    w.state = state;
    const err = error === undefined ? undefined : { code: isDbwitnessError(error) ? error.code : 'E_SOURCE', message: error instanceof Error ? error.message : String(error) };
    this.#o.hooks?.onState?.(w.spec.id, state, err);
  }

  async #loop(w: Worker): Promise<void> {
    const log = this.#o.logger.child({ source: w.spec.id });
    const signal = w.controller.signal;
    let backoff = 1000;
    while (!signal.aborted) {
      let source: ChangeSource | null = null;
      let chain: Chain | null = null;
      try {
        this.#setState(w, 'starting');
        source = await w.spec.adapter.openSource(w.spec.config, { logger: log });
        chain = await this.#o.store.openChain(source.source);
        const openChain = chain;
        this.#setState(w, 'streaming');
        log.info({ engine: source.source.engine }, 'streaming');
        const ackingSource = this.#observeAcks(w.spec.id, source);
        w.stats = await runPipeline({
          source: ackingSource,
          chain,
          logger: log,
          signal,
          transform: this.#o.transform,
          onDurable: (events) => this.#o.hooks?.onEvents?.(w.spec.id, openChain, events),
        });
        backoff = 1000;
      } catch (e) {
        if (signal.aborted) break;
        log.error({ code: isDbwitnessError(e) ? e.code : undefined, err: e instanceof Error ? e.message : String(e) }, 'source failed');
        if (this.#o.failFast) {
          this.#setState(w, 'failed', e);
          this.#fatal = e;
          this.#onFatal?.(e);
          break;
        }
        this.#setState(w, 'retrying', e);
      } finally {
        await chain?.close().catch(() => undefined);
        await source?.close().catch(() => undefined);
      }
      if (signal.aborted) break;
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, this.#o.maxBackoffMs ?? 60_000);
    }
    if (w.state !== 'failed') this.#setState(w, 'stopped');
  }

  /** Wraps a source so acknowledgements are reported (after the adapter sent them). */
  #observeAcks(id: string, source: ChangeSource): ChangeSource {
    const hooks = this.#o.hooks;
    if (hooks?.onAcknowledged === undefined) return source;
    const batches = source.batches?.bind(source);
    return {
      source: source.source,
      messages: (cp, signal) => source.messages(cp, signal),
      ...(batches === undefined ? {} : { batches }),
      acknowledge: async (cp) => {
        await source.acknowledge(cp);
        hooks.onAcknowledged?.(id, cp);
      },
      close: () => source.close(),
    };
  }
}

