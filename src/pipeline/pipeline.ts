/**
 * source -> events -> store -> acknowledge.
 *
 * The one rule this file exists to keep: a source position is acknowledged
 * only after `chain.append` has resolved for the events it covers together
 * with the checkpoint, i.e. after they are fsync'd. The server may discard
 * WAL/binlog up to an acknowledged position forever (DESIGN.md), so an early
 * acknowledgement is data loss.
 *
 * Batching: complete transactions accumulate while the source has more
 * messages ready, and are stored as soon as it has none (or the batch is
 * full), so a busy source gets large group commits and an idle one gets low
 * latency. A transaction larger than a batch is written in several appends;
 * only the last carries the checkpoint. After a crash in between, the
 * source replays the whole transaction and the already-stored part is
 * skipped (the chain's `tail`) or dropped by id in the store.
 *
 * Overlap: a flush hands its batch to the chain (which builds the lines at
 * once) and returns; reading and building the next batch go on while the
 * chain writes and fsyncs, and the file chain's group commit writes every
 * batch handed over during one fsync with the next one. So batches are kept
 * small (128 events, unless the chain prefers more: Chain.preferredBatchEvents):
 * a small batch does not mean a small write, and each event
 * is serialized and its objects released within a millisecond or two of
 * being decoded. Held for a whole 1,000-event batch, every row's decoded
 * values outlived several young-generation collections and were copied
 * into the old generation: garbage collection was 38% of a PostgreSQL
 * catch-up under the deployed 2 MiB semi-space (bench/postgres/RESULTS.md).
 * What is outstanding is bounded in events (default 2,000), not batches: a
 * flush waits for the oldest appends until the rest fit. Batches and what
 * is outstanding are also bounded by weight (change-weight.ts: about the
 * bytes of row text; 1 and 4 MiB), so wide rows do not multiply memory. Each append's
 * checkpoint is acknowledged after that append and every earlier one
 * resolved, in order. If one fails, nothing after it is acknowledged and
 * the run stops with its error.
 */
import type { Logger } from 'pino';
import type { AuditEvent, DraftEvent, Source } from '../core/event.js';
import type { Chain, ChainTail, ChangeSource, SourceMessage } from '../core/ports.js';
import { DbwitnessError } from '../core/errors.js';
import { alertDraft, changeDraft, unattributedAlert, UnattributedTally, type CommitInfo } from './event-builder.js';
import { TxBuffer, type BufferedChange } from './tx-buffer.js';
import { CHANGE_OVERHEAD } from './change-weight.js';

export interface PipelineOptions {
  readonly source: ChangeSource;
  readonly chain: Chain;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Applied to every draft before it is hashed and stored (subject mapping, redaction). */
  readonly transform?: ((draft: DraftEvent) => DraftEvent) | undefined;
  /** Called with events once they are durable (index, alert outputs, metrics). Must not throw. */
  readonly onDurable?: ((events: readonly AuditEvent[]) => void) | undefined;
  /** Events per store append (default: the chain's preferredBatchEvents, else 128). */
  readonly batchMaxEvents?: number | undefined;
  /** Events handed to the store and not yet durable before a flush waits (default 2000). */
  readonly maxOutstandingEvents?: number | undefined;
  /** Weight (change-weight.ts) per batch (default 1 MiB) and outstanding (default 4 MiB). */
  readonly batchMaxWeight?: number | undefined;
  readonly maxOutstandingWeight?: number | undefined;
  /** Buffered changes per transaction kept in memory before spilling (default 5000). */
  readonly txMemoryLimit?: number | undefined;
  readonly spillDir?: string | undefined;
  /** Minimum interval between checkpoints written for idle progress (default 10 s). */
  readonly idleCheckpointIntervalMs?: number | undefined;
}

export interface PipelineStats {
  transactions: number;
  events: number;
  unattributed: number;
  alerts: number;
  appends: number;
  lastCheckpoint: string | null;
}

export async function runPipeline(options: PipelineOptions): Promise<PipelineStats> {
  return new Pipeline(options).run();
}

class Pipeline {
  readonly #o: PipelineOptions;
  readonly #log: Logger;
  readonly #batchMax: number;
  readonly #stats: PipelineStats = { transactions: 0, events: 0, unattributed: 0, alerts: 0, appends: 0, lastCheckpoint: null };
  /** Drafts of complete transactions not yet stored, and the checkpoint that covers them. */
  #pending: DraftEvent[] = [];
  /** Weight of `#pending` (change-weight.ts). */
  #pendingWeight = 0;
  #pendingCheckpoint: string | null = null;
  /** How many of `#pending` the pending checkpoint covers (the rest belong to an open transaction). */
  #covered = 0;
  #tx: TxBuffer | null = null;
  #tail: ChainTail | null;
  #lastIdleWrite = 0;
  #turn: Promise<typeof NOT_READY> | null = null;
  /** The newest idle checkpoint not stored yet because one was stored less than the interval ago. */
  #deferredIdle: string | null = null;
  readonly #idleIntervalMs: number;
  /** The `source` block of every event: one frozen copy, so the store serializes it once. */
  readonly #source: Source;
  /** Stops the source: on the caller's signal, or when an append fails while the loop waits for the source. */
  readonly #stop = new AbortController();
  /** The newest append's completion (durable, checkpoint acknowledged); chained, so completions happen in order. */
  #inflight: Promise<void> | null = null;
  /** Appends not yet complete, oldest first, with their event counts (the flush bound). */
  readonly #outstanding: Array<{ done: Promise<void>; events: number; weight: number }> = [];
  #outstandingEvents = 0;
  #outstandingWeight = 0;
  readonly #maxOutstanding: number;
  readonly #batchMaxWeight: number;
  readonly #maxOutstandingWeight: number;
  #failure: { error: unknown } | null = null;

  constructor(options: PipelineOptions) {
    this.#o = options;
    this.#source = Object.freeze({ ...options.source.source });
    this.#log = options.logger.child({ component: 'pipeline', source: options.source.source.id });
    this.#batchMax = options.batchMaxEvents ?? options.chain.preferredBatchEvents ?? 128;
    this.#maxOutstanding = options.maxOutstandingEvents ?? 2000;
    this.#batchMaxWeight = options.batchMaxWeight ?? 1024 * 1024;
    this.#maxOutstandingWeight = options.maxOutstandingWeight ?? 4 * 1024 * 1024;
    this.#idleIntervalMs = options.idleCheckpointIntervalMs ?? 10_000;
    this.#tail = options.chain.tail();
  }

  async run(): Promise<PipelineStats> {
    const start = this.#o.chain.checkpoint()?.checkpoint ?? null;
    this.#log.info({ checkpoint: start, seq: this.#o.chain.head().seq }, 'pipeline starting');
    // The source stops on the caller's signal, and also when the pipeline
    // fails: a source waiting for its next message would otherwise hold up
    // the iterator's return (and so the error) until something arrived.
    const stop = this.#stop;
    const forward = (): void => stop.abort(this.#o.signal.reason);
    if (this.#o.signal.aborted) forward();
    else this.#o.signal.addEventListener('abort', forward, { once: true });
    const source = this.#o.source;
    const stream: AsyncIterable<SourceMessage | readonly SourceMessage[]> = source.batches ? source.batches(start, stop.signal) : source.messages(start, stop.signal);
    const iterator = stream[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = iterator.next();
        // Store what is complete whenever the source has nothing ready right now.
        if (this.#pending.length > 0 || this.#pendingCheckpoint !== null) {
          let ready = await Promise.race([next, this.#endOfTurn()]);
          // While an append is being written, keep collecting: the next group
          // commit then carries everything that arrived during this one's fsync.
          const writing = this.#inflight;
          if (ready === NOT_READY && writing !== null) ready = await Promise.race([next, writing.then(notReady, notReady)]);
          if (ready === NOT_READY) await this.#flush();
        }
        if (this.#deferredIdle !== null && this.#tx === null) {
          // An idle position passed over by the interval below is stored once
          // the interval has passed, even if the source sends nothing more: a
          // stopping PostgreSQL server waits until its last position is confirmed.
          const due = this.#lastIdleWrite + this.#idleIntervalMs - Date.now();
          if ((await raceTimer(next, due)) === NOT_READY) await this.#writeDeferredIdle();
        }
        const result = await next;
        this.#throwIfFailed();
        if (result.done) break;
        const value = result.value;
        if (isBatch(value)) {
          for (const msg of value) {
            const handled = this.#handle(msg);
            if (handled !== undefined) await handled;
          }
        } else {
          const handled = this.#handle(value);
          if (handled !== undefined) await handled;
        }
      }
      // Source ended (signal aborted): store what is complete (a flush that
      // splits around a checkpoint leaves the rest for the next). An open
      // transaction is dropped; the source replays it on the next start.
      while (this.#pending.length > 0 || this.#pendingCheckpoint !== null) await this.#flush();
      await this.#inflight;
      this.#throwIfFailed();
    } finally {
      // Nothing is acknowledged after run returns: wait for what is in flight.
      await this.#inflight?.catch(() => undefined);
      await this.#tx?.dispose();
      this.#tx = null;
      this.#o.signal.removeEventListener('abort', forward);
      stop.abort();
      await iterator.return?.();
    }
    this.#log.info({ ...this.#stats }, 'pipeline stopped');
    return this.#stats;
  }

  /** Handles one message; returns a promise only when there is something to wait for (most messages are synchronous). */
  #handle(msg: SourceMessage): Promise<void> | undefined {
    switch (msg.kind) {
      case 'begin':
        if (this.#tx !== null) {
          throw new DbwitnessError('E_PIPELINE_PROTOCOL', `source ${this.#o.source.source.id} began transaction ${msg.txId} inside ${this.#tx.txId}`, 'this is a bug in the source adapter; restart resumes from the last durable checkpoint');
        }
        // A commit is coming whose checkpoint supersedes any idle position held back.
        this.#deferredIdle = null;
        this.#tx = new TxBuffer(msg.txId, { memoryLimit: this.#o.txMemoryLimit ?? 5000, spillDir: this.#o.spillDir });
        return;
      case 'identity':
        this.#requireTx('identity').setIdentity(msg.identity);
        return;
      case 'change':
        return this.#requireTx('change').add(msg.change);
      case 'commit':
        return this.#commit(this.#requireTx('commit'), msg);
      case 'idle':
        return this.#idle(msg.checkpoint);
      case 'alert':
        this.#pending.push(alertDraft(this.#source, msg.position, msg.time, null, msg.code, { ...(msg.detail ?? {}), message: msg.message }));
        this.#pendingWeight += CHANGE_OVERHEAD;
        this.#stats.alerts++;
        return this.#batchFull() ? this.#flush() : undefined;
    }
  }

  #requireTx(kind: string): TxBuffer {
    if (this.#tx === null) {
      throw new DbwitnessError('E_PIPELINE_PROTOCOL', `source ${this.#o.source.source.id} sent ${kind} outside a transaction`, 'this is a bug in the source adapter; restart resumes from the last durable checkpoint');
    }
    return this.#tx;
  }

  async #commit(tx: TxBuffer, msg: Extract<SourceMessage, { kind: 'commit' }>): Promise<void> {
    this.#tx = null;
    try {
      const commit: CommitInfo = { txId: tx.txId, position: msg.position, commitTime: msg.commitTime, count: tx.count };
      const source = this.#source;
      const skipThrough = this.#skipThrough(commit);
      const tally = new UnattributedTally();
      let index = 0;
      /** Adds one change's draft; true when the batch is full. */
      const take = ({ change, identity, weight }: BufferedChange): boolean => {
        if (identity === null) tally.note(change);
        if (index > skipThrough) {
          this.#push(changeDraft(source, commit, index, change, identity));
          this.#pendingWeight += weight;
        }
        index++;
        return this.#batchFull();
      };
      // A transaction larger than a batch is stored in parts, without a checkpoint.
      const inMemory = tx.inMemory();
      if (inMemory !== null) {
        for (const entry of inMemory) if (take(entry)) await this.#flush();
      } else {
        for await (const chunk of tx.chunks()) for (const entry of chunk) if (take(entry)) await this.#flush();
      }
      if (tally.total > 0) {
        this.#pending.push(unattributedAlert(source, commit, tally));
        this.#pendingWeight += CHANGE_OVERHEAD;
        this.#stats.unattributed += tally.total;
        this.#stats.alerts++;
      }
      this.#pendingCheckpoint = msg.checkpoint;
      this.#covered = this.#pending.length;
      this.#stats.transactions++;
      if (this.#batchFull()) await this.#flush();
    } finally {
      await tx.dispose();
    }
  }

  /** Index through which this transaction's events are already stored (crash mid-transaction), else -1. */
  #skipThrough(commit: CommitInfo): number {
    const tail = this.#tail;
    if (tail === null) return -1;
    this.#tail = null; // only the first replayed transaction can be the cut one
    if (tail.position === commit.position && tail.txId === commit.txId && tail.txIndex !== null) {
      this.#log.info({ position: commit.position, stored: tail.txIndex + 1, count: commit.count }, 'resuming a transaction cut by a crash');
      return tail.txIndex;
    }
    return -1;
  }

  /**
   * Resolves once the event loop has run its pending I/O callbacks, i.e.
   * once data that already arrived has been delivered. One marker serves
   * every message handled in the same turn (a setImmediate per message was
   * measurable at 1 row per transaction).
   */
  #endOfTurn(): Promise<typeof NOT_READY> {
    this.#turn ??= new Promise((resolve) =>
      setImmediate(() => {
        this.#turn = null;
        resolve(NOT_READY);
      }),
    );
    return this.#turn;
  }

  #batchFull(): boolean {
    return this.#pending.length >= this.#batchMax || this.#pendingWeight >= this.#batchMaxWeight;
  }

  #push(draft: DraftEvent): void {
    this.#pending.push(this.#o.transform ? this.#o.transform(draft) : draft);
  }

  async #idle(checkpoint: string): Promise<void> {
    if (this.#pending.length > 0 || this.#pendingCheckpoint !== null) {
      // Idle arrives between transactions: every pending draft is complete.
      this.#deferredIdle = null;
      this.#pendingCheckpoint = checkpoint;
      this.#covered = this.#pending.length;
      return;
    }
    if (checkpoint === this.#stats.lastCheckpoint) return;
    // At most one idle checkpoint per interval; the newest one is held back until then.
    this.#deferredIdle = checkpoint;
    if (Date.now() - this.#lastIdleWrite >= this.#idleIntervalMs) await this.#writeDeferredIdle();
  }

  async #writeDeferredIdle(): Promise<void> {
    const checkpoint = this.#deferredIdle;
    if (checkpoint === null || this.#tx !== null) return;
    this.#deferredIdle = null;
    this.#lastIdleWrite = Date.now();
    // Between transactions every pending draft (e.g. a source alert) is complete: the position covers them all.
    this.#pendingCheckpoint = checkpoint;
    this.#covered = this.#pending.length;
    await this.#flush();
  }

  /**
   * Hands the pending drafts to the chain and returns once what is still
   * outstanding, these included, fits the bound (the newest append is
   * always let through, so a batch larger than the bound still moves).
   */
  async #flush(): Promise<void> {
    const drafts = this.#pending;
    const checkpoint = this.#pendingCheckpoint;
    const covered = this.#covered;
    const weight = this.#pendingWeight;
    if (drafts.length === 0 && checkpoint === null) return;
    this.#throwIfFailed();
    this.#pending = [];
    this.#pendingWeight = 0;
    this.#pendingCheckpoint = null;
    this.#covered = 0;
    if (checkpoint === null) {
      this.#append(drafts, undefined, weight);
    } else if (covered === drafts.length) {
      this.#append(drafts, checkpoint, weight);
    } else {
      // The checkpoint line must follow exactly the events it covers, so that
      // events stored after it are recognisably the cut transaction (`tail`).
      // The rest (the start of a transaction still being stored, or alerts
      // after the position) stays pending for the next flush: a refusal of
      // this append is only seen once its rejection has run, and nothing
      // may be stored after events that were refused. The weight is shared
      // by count: only the sum bounds anything.
      const first = Math.round((weight * covered) / drafts.length);
      this.#append(drafts.slice(0, covered), checkpoint, first);
      this.#pending = drafts.slice(covered);
      this.#pendingWeight = weight - first;
    }
    // What a split left pending counts too: it is held as surely as what is outstanding.
    while ((this.#outstandingEvents + this.#pending.length > this.#maxOutstanding || this.#outstandingWeight + this.#pendingWeight > this.#maxOutstandingWeight) && this.#outstanding.length > 1) {
      // Completions run in order, so waiting for the oldest frees the most.
      await (this.#outstanding[0] as { done: Promise<void> }).done.catch(() => undefined);
    }
    this.#throwIfFailed();
  }

  /**
   * Starts one append now (the chain assigns seq and builds lines in call
   * order) and chains its completion after the previous one's: stats,
   * `onDurable`, then the acknowledgement of its checkpoint.
   */
  #append(drafts: DraftEvent[], checkpoint: string | undefined, weight: number): void {
    const appended = this.#o.chain.append(drafts, checkpoint);
    // Recorded at once, not when the completions before it are done: no
    // append may be issued after a failed one, or its events (and its
    // checkpoint) could become durable past events that never were.
    appended.catch((error: unknown) => {
      this.#failure ??= { error };
      this.#stop.abort();
    });
    const previous = this.#inflight;
    const done = (async (): Promise<void> => {
      await previous;
      const stored = await appended;
      this.#stats.appends++;
      this.#stats.events += stored.length;
      if (stored.length > 0) this.#o.onDurable?.(stored);
      if (checkpoint !== undefined) {
        // Durable: the append resolved after the fsync of these events and this checkpoint.
        await this.#o.source.acknowledge(checkpoint);
        this.#stats.lastCheckpoint = checkpoint;
      }
    })();
    this.#inflight = done;
    // A checkpoint-only append counts as one: a stuck one must still hold the loop back.
    const entry = { done, events: Math.max(1, drafts.length), weight };
    this.#outstanding.push(entry);
    this.#outstandingEvents += entry.events;
    this.#outstandingWeight += entry.weight;
    const settle = (): void => {
      // In order: `done` waits for the one before it.
      if (this.#outstanding[0] === entry) this.#outstanding.shift();
      else this.#outstanding.splice(this.#outstanding.indexOf(entry), 1);
      this.#outstandingEvents -= entry.events;
      this.#outstandingWeight -= entry.weight;
    };
    done.then(
      () => {
        settle();
        if (this.#inflight === done) this.#inflight = null;
      },
      (error: unknown) => {
        settle();
        this.#failure ??= { error };
        // The loop may be waiting for a quiet source: stopping it ends the wait.
        this.#stop.abort();
      },
    );
  }

  #throwIfFailed(): void {
    if (this.#failure !== null) throw this.#failure.error;
  }
}

const NOT_READY = Symbol('not-ready');

function isBatch(v: SourceMessage | readonly SourceMessage[]): v is readonly SourceMessage[] {
  return Array.isArray(v);
}
const notReady = (): typeof NOT_READY => NOT_READY;

/** `next`'s result, or NOT_READY if `ms` pass first (the timer is cleared either way). */
async function raceTimer<T>(next: Promise<T>, ms: number): Promise<T | typeof NOT_READY> {
  let timer: NodeJS.Timeout | undefined;
  const due = new Promise<typeof NOT_READY>((resolve) => (timer = setTimeout(() => resolve(NOT_READY), Math.max(0, ms))));
  try {
    return await Promise.race([next, due]);
  } finally {
    clearTimeout(timer);
  }
}
