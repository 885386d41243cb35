/**
 * The edge's `Chain`: publishes a source's events to JetStream and records
 * its checkpoint in a KV bucket of the same cluster.
 *
 * Durability contract (the same as the file store's, with JetStream as the
 * durable medium): `append` resolves only after JetStream acknowledged every
 * event (a PubAck means the stream stored it on its replicas) AND then the
 * checkpoint put was acknowledged. The checkpoint is written strictly after
 * its events, so a stored checkpoint never exists without every event
 * before it; the pipeline acknowledges the database only after `append`
 * resolves.
 *
 * Backpressure: a publish that fails (JetStream down, no quorum, stream
 * full with discard=new, timeout) is retried with backoff until it is
 * acknowledged or the chain is closed. `append` does not resolve meanwhile,
 * so the pipeline stops pulling, the source stops reading, and the slot /
 * binlog position holds: nothing is dropped and nothing is acknowledged.
 *
 * A crash between publish and checkpoint replays from the older checkpoint;
 * JetStream drops the republished ids within its duplicate window and the
 * archive drops the rest by id.
 */
import type { JetStreamClient, KV, PubAck } from 'nats';
import { GENESIS_HASH, type AuditEvent, type DraftEvent, type Source } from '../core/event.js';
import { DbwitnessError } from '../core/errors.js';
import { nowMicros } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import type { Chain, ChainHead, ChainTail, StoredCheckpoint } from '../core/ports.js';
import { eventSubject } from './jetstream-config.js';
import { backoffMs, pause } from './nats-connect.js';
import { edgeReceipt, encodeDraft } from './wire-event.js';

export interface EdgeChainSettings {
  readonly js: JetStreamClient;
  readonly checkpoints: KV;
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly publishTimeoutMs: number;
  readonly maxInflight: number;
  /** The server's max_payload (bytes), learned at connect. */
  readonly maxPayload: () => number;
  readonly logger: Logger;
  /** Called once the chain is closed (the store forgets it, so the source can be opened again). */
  readonly onClose?: () => void;
}

/** The value stored under the source id in the checkpoint bucket. */
export interface EdgeCheckpointValue {
  readonly checkpoint: string;
  readonly at: string;
  /** Stream sequence of the last event published before the checkpoint (0 if none yet). */
  readonly stream_seq: number;
}

/** Counters for metrics (`/metrics`) and tests. */
export interface EdgeChainStats {
  /** Events acknowledged by JetStream (first publishes and republished duplicates). */
  published: number;
  /** Publishes JetStream reported as duplicates (already in the stream within the duplicate window). */
  duplicates: number;
  /** Publish attempts that failed and were retried. */
  retries: number;
  checkpoints: number;
}

export class JetStreamChain implements Chain {
  readonly source: Source;
  readonly stats: EdgeChainStats = { published: 0, duplicates: 0, retries: 0, checkpoints: 0 };
  /** Appends run one after another, each with a checkpoint put: large batches keep those round trips rare. */
  readonly preferredBatchEvents = 1000;
  readonly #s: EdgeChainSettings;
  readonly #log: Logger;
  readonly #subject: string;
  readonly #closing = new AbortController();
  #checkpoint: StoredCheckpoint | null;
  #lastSeq = 0;
  /** Appends run one after another so the stream receives a source's events in order. */
  #queue: Promise<unknown> = Promise.resolve();
  /** The error of the first append that failed; no append runs after it. */
  #failed: unknown = null;

  constructor(source: Source, checkpoint: EdgeCheckpointValue | null, settings: EdgeChainSettings) {
    this.source = source;
    this.#s = settings;
    this.#log = settings.logger.child({ component: 'jetstream-edge', source: source.id });
    this.#subject = eventSubject(settings.subjectPrefix, source.id);
    this.#checkpoint = checkpoint === null ? null : { checkpoint: checkpoint.checkpoint, seq: checkpoint.stream_seq, at: checkpoint.at };
    this.#lastSeq = checkpoint?.stream_seq ?? 0;
  }

  /** No chain exists at the edge: `seq` is the stream sequence of the last acknowledged publish. */
  head(): ChainHead {
    return { seq: this.#lastSeq, hash: GENESIS_HASH };
  }

  checkpoint(): StoredCheckpoint | null {
    return this.#checkpoint;
  }

  /**
   * Always null: the edge cannot see which events of a cut transaction made
   * it, so the whole transaction is republished and deduplicated by id.
   */
  tail(): ChainTail | null {
    return null;
  }

  /**
   * Appends queue behind each other. Once one fails, every append queued
   * after it fails too: publishing its events and checkpoint would move the
   * stored checkpoint past events that never reached the stream.
   */
  append(drafts: readonly DraftEvent[], checkpoint?: string): Promise<readonly AuditEvent[]> {
    if (this.#closing.signal.aborted) return Promise.reject(closedError(this.source.id));
    const run = this.#queue.then(() => {
      if (this.#failed !== null) throw failedError(this.source.id, this.#failed);
      return this.#append(drafts, checkpoint);
    });
    this.#queue = run.catch((e: unknown) => {
      this.#failed ??= e;
    });
    return run;
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    await this.#queue;
    this.#s.onClose?.();
  }

  async #append(drafts: readonly DraftEvent[], checkpoint: string | undefined): Promise<readonly AuditEvent[]> {
    const receipts: AuditEvent[] = [];
    for (let i = 0; i < drafts.length; i += this.#s.maxInflight) {
      receipts.push(...(await this.#publishWindow(drafts.slice(i, i + this.#s.maxInflight))));
    }
    if (checkpoint !== undefined) await this.#putCheckpoint(checkpoint);
    return receipts;
  }

  /**
   * Publishes a window of events pipelined on the connection (the server
   * stores them in the order it receives them), then retries the failures
   * in order until every one is acknowledged. A retry of a publish whose
   * ack was lost comes back as `duplicate` with the original sequence.
   */
  async #publishWindow(drafts: readonly DraftEvent[]): Promise<AuditEvent[]> {
    const bodies = drafts.map(encodeDraft);
    const limit = this.#s.maxPayload();
    const tooBig = bodies.findIndex((b) => b.byteLength > limit - 1024); // headers (Nats-Msg-Id, expected stream) travel in the same message
    if (tooBig >= 0) {
      // Retrying cannot help: fail loudly instead of stalling capture forever.
      throw new DbwitnessError(
        'E_JETSTREAM_EVENT_TOO_LARGE',
        `event ${drafts[tooBig]!.id} of ${this.source.id} at ${drafts[tooBig]!.position} is ${bodies[tooBig]!.byteLength} bytes, above the NATS server's max_payload of ${limit}`,
        'raise max_payload in the nats-server configuration (up to 64 MB, same on every server), or redact/hash the large column with the redaction policy',
      );
    }
    const acks: (PubAck | null)[] = new Array<PubAck | null>(drafts.length).fill(null);
    let failing = drafts.map((_, i) => i);
    for (let attempt = 0; failing.length > 0; attempt++) {
      if (attempt > 0) {
        await pause(backoffMs(attempt), this.#closing.signal);
        if (this.#closing.signal.aborted) throw closedError(this.source.id);
      }
      const results = await Promise.allSettled(failing.map((i) => this.#s.js.publish(this.#subject, bodies[i], { msgID: drafts[i]!.id, expect: { streamName: this.#s.stream }, timeout: this.#s.publishTimeoutMs })));
      const still: number[] = [];
      let firstError: unknown = null;
      results.forEach((r, k) => {
        const i = failing[k]!;
        if (r.status === 'fulfilled') acks[i] = r.value;
        else {
          still.push(i);
          firstError ??= r.reason;
        }
      });
      this.stats.retries += still.length;
      if (still.length > 0) {
        // Only positions and counts: the payload holds row values.
        this.#log.warn({ failed: still.length, of: drafts.length, attempt: attempt + 1, err: errText(firstError) }, 'JetStream did not acknowledge; capture waits and retries');
      } else if (attempt > 0) {
        this.#log.info({ events: drafts.length, attempts: attempt + 1 }, 'JetStream acknowledged after retries');
      }
      failing = still;
    }
    const at = nowMicros();
    this.stats.published += drafts.length;
    return drafts.map((d, i) => {
      if (acks[i]!.duplicate) this.stats.duplicates++;
      const seq = acks[i]!.seq;
      if (seq > this.#lastSeq) this.#lastSeq = seq;
      return edgeReceipt(d, bodies[i]!, seq, at);
    });
  }

  async #putCheckpoint(checkpoint: string): Promise<void> {
    const value: EdgeCheckpointValue = { checkpoint, at: nowMicros(), stream_seq: this.#lastSeq };
    const body = Buffer.from(JSON.stringify(value), 'utf8');
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        await pause(backoffMs(attempt), this.#closing.signal);
        if (this.#closing.signal.aborted) throw closedError(this.source.id);
      }
      try {
        // A KV put is a JetStream publish: it resolves once the bucket's replicas stored it.
        await this.#s.checkpoints.put(this.source.id, body);
        this.#checkpoint = { checkpoint: value.checkpoint, seq: value.stream_seq, at: value.at };
        this.stats.checkpoints++;
        return;
      } catch (e) {
        this.#log.warn({ attempt: attempt + 1, err: errText(e) }, 'checkpoint not stored in JetStream; retrying');
      }
    }
  }
}

export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function failedError(sourceId: string, cause: unknown): DbwitnessError {
  return new DbwitnessError('E_JETSTREAM_FAILED', `an earlier append of ${sourceId} to JetStream failed (${errText(cause)})`, 'fix the cause and restart; capture resumes from the last stored checkpoint');
}

function closedError(sourceId: string): DbwitnessError {
  return new DbwitnessError('E_JETSTREAM_CLOSED', `the JetStream output of ${sourceId} is closed`, 'nothing past the last checkpoint was acknowledged to the database; restart to resume');
}
