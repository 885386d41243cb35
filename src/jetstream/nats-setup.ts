/**
 * `dbwitness setup nats`: the stream, buckets and consumer the edges and the
 * archiver need, printed for review (as `nats` CLI commands and the JSON the
 * JetStream API receives) and created by `applyNatsSetup`.
 *
 * Choices that matter for an audit trail:
 * - retention `limits` with `discard: new`: when the stream is full, new
 *   publishes are refused, so edges pause capture (the database keeps the
 *   WAL/binlog) instead of JetStream silently dropping unarchived events.
 * - `duplicate_window`: a republish after an edge crash carries the same
 *   `Nats-Msg-Id` (the event id) and is dropped by the server.
 * - The archiver resets its consumer to the acknowledged floor when it takes
 *   the lease (delete + create), which is safe only under `limits`
 *   retention: under `interest`/`workqueue` deleting a consumer drops messages.
 */
import { AckPolicy, DeliverPolicy, DiscardPolicy, ReplayPolicy, RetentionPolicy, StorageType, nanos, type ConsumerConfig, type StreamConfig } from 'nats';
import { redactUrl } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { SetupPlan } from '../core/ports.js';
import { durationMs, eventsFilter, type NatsSetupConfig } from './jetstream-config.js';
import { connectNats } from './nats-connect.js';

export function streamConfig(c: NatsSetupConfig): Partial<StreamConfig> & { name: string } {
  return {
    name: c.stream,
    description: 'dbwitness audit events from the edges, until the archiver stores them',
    subjects: [`${c.subject_prefix}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: c.replicas,
    duplicate_window: nanos(durationMs(c.duplicate_window)),
    max_age: nanos(durationMs(c.max_age)),
    max_bytes: c.max_bytes,
    max_msgs: -1,
    max_msgs_per_subject: -1,
    discard: DiscardPolicy.New,
  };
}

export function consumerConfig(c: Pick<NatsSetupConfig, 'consumer' | 'subject_prefix' | 'ack_wait' | 'max_ack_pending'>, startSeq = 1): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: c.consumer,
    description: 'dbwitness archiver: acknowledged only after the event is fsync\'d in the archive',
    filter_subject: eventsFilter(c.subject_prefix),
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(durationMs(c.ack_wait)),
    max_ack_pending: c.max_ack_pending,
    // Redelivery must never stop: an event dropped after N tries would be a silent gap.
    max_deliver: -1,
    replay_policy: ReplayPolicy.Instant,
    ...(startSeq > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq } : { deliver_policy: DeliverPolicy.All }),
  };
}

export function planNatsSetup(c: NatsSetupConfig): SetupPlan {
  const s = streamConfig(c);
  const filter = eventsFilter(c.subject_prefix);
  const dup = durationMs(c.duplicate_window) / 1000;
  const age = durationMs(c.max_age) / 1000;
  const leaseTtl = durationMs(c.lease_ttl) / 1000;
  const ackWait = durationMs(c.ack_wait) / 1000;
  return {
    engine: 'nats',
    steps: [
      {
        title: `Create stream ${c.stream} for ${c.subject_prefix}.> (${c.replicas} replica${c.replicas === 1 ? '' : 's'})`,
        why: `Edges publish every event to ${c.subject_prefix}.events.<source-id> and acknowledge their database only after this stream stored it on its replicas. discard=new makes a full stream refuse publishes (edges pause, the database keeps its WAL/binlog) instead of dropping unarchived events; the ${dup}s duplicate window drops events republished after an edge crash.`,
        sql: [],
        config: [
          `nats stream add ${c.stream} --subjects '${c.subject_prefix}.>' --storage file --retention limits --discard new --replicas ${c.replicas} --dupe-window ${dup}s --max-age ${age}s --max-bytes ${c.max_bytes} --max-msgs=-1 --max-msgs-per-subject=-1 --max-msg-size=-1 --no-allow-rollup --no-deny-delete --no-deny-purge --defaults`,
          `# JetStream API ($JS.API.STREAM.CREATE.${c.stream}):`,
          JSON.stringify(s),
        ],
      },
      {
        title: `Create KV bucket ${c.checkpoint_bucket} for edge checkpoints`,
        why: 'Each edge source records its newest durable checkpoint here after JetStream acknowledged the events it covers, and reads it back on start. It has no TTL: an idle source must not lose its resume position.',
        sql: [],
        config: [`nats kv add ${c.checkpoint_bucket} --history 1 --replicas ${c.replicas} --storage file`],
      },
      {
        title: `Create KV bucket ${c.lease_bucket} for the archiver lease (TTL ${leaseTtl}s)`,
        why: `Only the archiver holding the lease writes the store; a standby takes over once the holder stopped renewing for ${leaseTtl}s. Two processes writing one store directory would corrupt it. Set the archivers' lease_ttl to the same value.`,
        sql: [],
        config: [`nats kv add ${c.lease_bucket} --history 1 --ttl ${leaseTtl}s --replicas ${c.replicas} --storage file`],
      },
      {
        title: `Create durable pull consumer ${c.consumer} on ${filter}`,
        why: `The archiver acknowledges a message only after the store's fsync; unacknowledged messages are redelivered after ${ackWait}s, forever (max_deliver -1), and the store drops a redelivered event by id.`,
        sql: [],
        config: [
          `nats consumer add ${c.stream} ${c.consumer} --pull --filter '${filter}' --ack explicit --deliver all --replay instant --wait ${ackWait}s --max-pending ${c.max_ack_pending} --max-deliver=-1 --defaults`,
          `# JetStream API ($JS.API.CONSUMER.DURABLE.CREATE.${c.stream}.${c.consumer}):`,
          JSON.stringify(consumerConfig(c)),
        ],
      },
      {
        title: 'Restrict who may publish events (server accounts)',
        why: 'Anyone who can publish to the events subjects can inject events; the archiver refuses malformed ones but cannot tell a forged valid one. Give each edge its own user limited to its sources.',
        sql: [],
        config: [
          `# edge user of source <id>: publish ${c.subject_prefix}.events.<id>, $KV.${c.checkpoint_bucket}.<id>, $JS.API.> (lookup); subscribe _INBOX.>`,
          `# archiver user: subscribe _INBOX.>; publish $JS.API.>, $JS.ACK.${c.stream}.${c.consumer}.>, $KV.${c.lease_bucket}.>`,
        ],
      },
    ],
  };
}

export interface ApplyNatsOptions {
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
}

/** Creates (or updates) the stream, buckets and consumer of `planNatsSetup`. Idempotent. */
export async function applyNatsSetup(c: NatsSetupConfig, options: ApplyNatsOptions): Promise<void> {
  const nc = await connectNats(c, { logger: options.logger, name: 'dbwitness-setup', ...(options.env ? { env: options.env } : {}) });
  try {
    const jsm = await nc.jetstreamManager({ timeout: 10_000 });
    const sc = streamConfig(c);
    const exists = await jsm.streams.info(c.stream).then(() => true, () => false);
    if (exists) await jsm.streams.update(c.stream, sc);
    else await jsm.streams.add(sc);
    const js = nc.jetstream();
    await js.views.kv(c.checkpoint_bucket, { history: 1, replicas: c.replicas, storage: StorageType.File });
    await js.views.kv(c.lease_bucket, { history: 1, replicas: c.replicas, storage: StorageType.File, ttl: durationMs(c.lease_ttl) });
    const hasConsumer = await jsm.consumers.info(c.stream, c.consumer).then(() => true, () => false);
    if (!hasConsumer) await jsm.consumers.add(c.stream, consumerConfig(c));
    options.logger.info({ stream: c.stream, consumer: c.consumer }, 'NATS setup applied');
  } finally {
    await nc.close();
  }
}

/**
 * The plan as a reviewable shell script: each step's title and reason as
 * comments, then its `nats` commands (JSON definitions stay commented).
 */
export function formatNatsPlan(plan: SetupPlan, servers: readonly string[]): string {
  const out = ['#!/bin/sh', `# dbwitness setup nats: review, then run with the nats CLI (or: dbwitness setup nats --apply)`, `# servers: ${servers.map(redactUrl).join(', ')}`, 'set -e', ''];
  plan.steps.forEach((step, i) => {
    out.push(`# ${i + 1}. ${step.title}`);
    out.push(...wrap(step.why, 76).map((l) => `#    ${l}`));
    for (const line of step.config ?? []) out.push(line.startsWith('nats ') || line.startsWith('#') ? line : `# ${line}`);
    out.push('');
  });
  return out.join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(/\s+/)) {
    if (cur !== '' && cur.length + 1 + word.length > width) {
      lines.push(cur);
      cur = word;
    } else cur = cur === '' ? word : `${cur} ${word}`;
  }
  if (cur !== '') lines.push(cur);
  return lines;
}
