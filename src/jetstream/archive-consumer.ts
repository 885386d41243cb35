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
 */
import { AckPolicy, DeliverPolicy, NatsError, ReplayPolicy, type ConsumerConfig, type JetStreamClient, type JetStreamManager, type JsMsg } from 'nats';
import { usageError } from '../core/errors.js';
import { errText } from './edge-chain.js';

export interface OrderedBatch {
  readonly messages: readonly JsMsg[];
  /** True when the batch ended early because the order broke: reset before the next fetch. */
  readonly broken: boolean;
}

export class ArchiveConsumer {
  readonly #jsm: JetStreamManager;
  readonly #js: JetStreamClient;
  readonly #stream: string;
  readonly #name: string;
  #nextDelivery = 1;

  constructor(jsm: JetStreamManager, js: JetStreamClient, stream: string, name: string) {
    this.#jsm = jsm;
    this.#js = js;
    this.#stream = stream;
    this.#name = name;
  }

  /** Recreates the consumer just after its acknowledged floor; returns the first stream sequence it will deliver. */
  async reset(): Promise<number> {
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
    return start;
  }

  /**
   * Up to `max` messages in stream order, waiting at most `expiresMs` for
   * the first. Stops at the first message that breaks the order.
   */
  async fetch(max: number, expiresMs: number): Promise<OrderedBatch> {
    const consumer = await this.#js.consumers.get(this.#stream, this.#name);
    const iter = await consumer.fetch({ max_messages: max, expires: expiresMs });
    const messages: JsMsg[] = [];
    let broken = false;
    try {
      for await (const m of iter) {
        if (broken) continue; // drain the pull; these are redelivered after the reset
        if (m.info.redelivered || m.info.deliverySequence !== this.#nextDelivery) {
          broken = true;
          continue;
        }
        this.#nextDelivery++;
        messages.push(m);
      }
    } catch (e) {
      // A pull cut by a disconnect: keep what arrived in order, reset for the rest.
      if (messages.length === 0) throw new Error(`fetch from ${this.#stream}/${this.#name} failed: ${errText(e)}`);
      broken = true;
    }
    return { messages, broken };
  }
}
