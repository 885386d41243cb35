/**
 * The archiver's view of its durable consumer: strictly in stream order.
 *
 * JetStream redelivers an unacknowledged message after `ack_wait` while
 * newer messages keep flowing, and a pull whose messages were lost with a
 * connection leaves a gap in the consumer sequence. Storing out of order
 * would let the archive's checkpoint (the last stored stream sequence of a
 * source) pass an event that is not stored yet. So whenever the order
 * breaks (a redelivery or a consumer-sequence gap) and whenever an archiver
 * takes the lease, the consumer is reset: deleted and created again,
 * starting just after its acknowledged floor (every message up to the floor
 * was acknowledged, hence stored). nats-server 2.9 has no reset call;
 * delete + create is safe on a `limits` stream, where consumers do not own
 * messages.
 *
 * Messages arrive through a continuous pull (`consume`) into a buffer, so a
 * batch is whatever has arrived (up to a maximum) instead of waiting for a
 * full batch: a caught-up archiver stores each event within milliseconds.
 */
import { AckPolicy, DeliverPolicy, NatsError, ReplayPolicy, type ConsumerConfig, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from 'nats';
import { usageError } from '../core/errors.js';
import { errText } from './edge-chain.js';

export interface OrderedBatch {
  readonly messages: readonly JsMsg[];
  /** True when the batch ended early because the order broke: reset before the next batch. */
  readonly broken: boolean;
}

export class ArchiveConsumer {
  readonly #jsm: JetStreamManager;
  readonly #js: JetStreamClient;
  readonly #stream: string;
  readonly #name: string;
  readonly #prefetch: number;
  #nextDelivery = 1;
  #messages: ConsumerMessages | null = null;
  #buffer: JsMsg[] = [];
  #ended: unknown = null;
  #wake: (() => void) | null = null;

  constructor(jsm: JetStreamManager, js: JetStreamClient, stream: string, name: string, prefetch: number) {
    this.#jsm = jsm;
    this.#js = js;
    this.#stream = stream;
    this.#name = name;
    this.#prefetch = prefetch;
  }

  /** Recreates the consumer just after its acknowledged floor and starts pulling; returns the first stream sequence it will deliver. */
  async reset(): Promise<number> {
    this.stop();
    let info;
    try {
      info = await this.#jsm.consumers.info(this.#stream, this.#name);
    } catch (e) {
      if (e instanceof NatsError && (e.code === '404' || /not found/i.test(e.message))) {
        throw usageError('E_ARCHIVE_NO_CONSUMER', `the durable consumer ${this.#name} of stream ${this.#stream} does not exist`, 'create it with `dbwitness setup nats --apply` (same stream, consumer and subject prefix as the archiver)');
      }
      throw e;
    }
    const start = info.ack_floor.stream_seq + 1;
    const c = info.config;
    const config: Partial<ConsumerConfig> & { durable_name: string } = {
      durable_name: this.#name,
      ack_policy: AckPolicy.Explicit,
      replay_policy: ReplayPolicy.Instant,
      max_deliver: -1,
      ...(c.description !== undefined ? { description: c.description } : {}),
      ...(c.filter_subject !== undefined ? { filter_subject: c.filter_subject } : {}),
      ...(c.ack_wait !== undefined ? { ack_wait: c.ack_wait } : {}),
      ...(c.max_ack_pending !== undefined ? { max_ack_pending: c.max_ack_pending } : {}),
      ...(start > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start } : { deliver_policy: DeliverPolicy.All }),
    };
    await this.#jsm.consumers.delete(this.#stream, this.#name);
    await this.#jsm.consumers.add(this.#stream, config);
    this.#nextDelivery = 1;
    const consumer = await this.#js.consumers.get(this.#stream, this.#name);
    const messages = await consumer.consume({ max_messages: this.#prefetch, expires: 5000 });
    this.#messages = messages;
    this.#ended = null;
    void this.#pump(messages);
    return start;
  }

  /** Stops pulling and forgets buffered messages (they are redelivered after the next reset). */
  stop(): void {
    this.#messages?.stop();
    this.#messages = null;
    this.#buffer = [];
  }

  /**
   * What has arrived, in stream order, up to `max` messages; waits at most
   * `waitMs` for the first. Stops at the first message that breaks the order.
   */
  async nextBatch(max: number, waitMs: number): Promise<OrderedBatch> {
    if (this.#buffer.length === 0 && this.#ended === null) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, waitMs);
        function done(): void {
          clearTimeout(t);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = null;
    }
    if (this.#buffer.length === 0 && this.#ended !== null) {
      throw new Error(`pulling from ${this.#stream}/${this.#name} stopped: ${errText(this.#ended)}`);
    }
    const messages: JsMsg[] = [];
    let broken = false;
    while (messages.length < max && this.#buffer.length > 0) {
      const m = this.#buffer.shift()!;
      if (m.info.redelivered || m.info.deliverySequence !== this.#nextDelivery) {
        broken = true;
        this.stop();
        break;
      }
      this.#nextDelivery++;
      messages.push(m);
    }
    return { messages, broken };
  }

  async #pump(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const m of messages) {
        if (this.#messages !== messages) break;
        this.#buffer.push(m);
        this.#wake?.();
      }
      if (this.#messages === messages) this.#ended = new Error('the pull ended');
    } catch (e) {
      if (this.#messages === messages) this.#ended = e;
    }
    if (this.#messages === messages) this.#wake?.();
  }
}
