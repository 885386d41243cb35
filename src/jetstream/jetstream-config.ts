/**
 * Config of the JetStream output (edge), the archiver (central) and the
 * NATS setup plan. The main config file embeds these schemas:
 *
 * @example
 *   output:
 *     kind: jetstream
 *     servers: [nats://nats-1:4222, nats://nats-2:4222, nats://nats-3:4222]
 *     creds_file: /etc/dbwitness/edge.creds
 *     tls: { ca_file: /etc/dbwitness/nats-ca.pem }
 *   archive:
 *     servers: [nats://nats-1:4222]
 *     lease_ttl: 15s
 *
 * Secrets never sit in the file: a password comes from the environment
 * variable named by `password_env`, credentials from `creds_file`.
 */
import { z } from 'zod';
import { durationMs } from '../config/config-schema.js';

const Duration = z.union([z.number().int().positive(), z.string().regex(/^\d+(ms|s|m|h|d)$/, 'a duration like 500ms, 30s, 15m, 6h or 7d')]);

/** NATS names (streams, consumers, buckets) may not hold '.', '*', '>' or whitespace. */
const NatsName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "-" and "_" only (NATS names cannot contain ".", "*", ">" or spaces)');

/** A subject prefix of one or more tokens, e.g. `dbwitness` or `hospital-a.dbwitness`. */
const SubjectPrefix = z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens of letters, digits, "-" and "_" (no wildcards)');

export const NatsTlsConfig = z
  .object({
    /** CA bundle (PEM) that signed the NATS servers' certificates. */
    ca_file: z.string().min(1).optional(),
    /** Client certificate (PEM) for mutual TLS. */
    cert_file: z.string().min(1).optional(),
    /** Private key of the client certificate (PEM). */
    key_file: z.string().min(1).optional(),
  })
  .strict()
  .refine((t) => (t.cert_file === undefined) === (t.key_file === undefined), { message: 'cert_file and key_file go together (mutual TLS needs both)' });
export type NatsTlsConfig = z.infer<typeof NatsTlsConfig>;

/** How to reach NATS: shared by the edge output, the archiver and `setup nats`. */
export const NatsConnectionConfig = z
  .object({
    /** nats:// or tls:// URLs of the cluster's servers (credentials do not belong in them). */
    servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((s) => (typeof s === 'string' ? s.split(',').map((x) => x.trim()).filter((x) => x !== '') : s)),
    /** NATS decentralized-auth credentials file (JWT + nkey seed). */
    creds_file: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    /** Environment variable holding the password of `user`. */
    password_env: z.string().min(1).optional(),
    /** `true` requires TLS with the system CAs; an object names CA and client certificate files. */
    tls: z.union([z.boolean(), NatsTlsConfig]).optional(),
    /** Subjects are `<prefix>.events.<source-id>`. */
    subject_prefix: SubjectPrefix.default('dbwitness'),
    /** The stream holding the events (created by `dbwitness setup nats`). */
    stream: NatsName.default('DBWITNESS'),
    /** KV bucket holding each edge source's newest durable checkpoint. */
    checkpoint_bucket: NatsName.default('dbwitness_checkpoints'),
  })
  .strict();
export type NatsConnectionConfig = z.infer<typeof NatsConnectionConfig>;

/** `output:` of an edge `run`: publish events to JetStream instead of a local store. */
export const JetStreamOutputConfig = NatsConnectionConfig.extend({
  kind: z.literal('jetstream'),
  /** How long one publish waits for JetStream's acknowledgement before it is retried. */
  publish_timeout: Duration.default('5s'),
  /** Publishes in flight per append (pipelined on one connection). */
  max_inflight: z.number().int().min(1).max(65_536).default(1024),
}).strict();
export type JetStreamOutputConfig = z.infer<typeof JetStreamOutputConfig>;
export type JetStreamOutputInput = z.input<typeof JetStreamOutputConfig>;

/** `archive:` of the central archiver. */
export const ArchiveConfig = NatsConnectionConfig.extend({
  /** Durable pull consumer the archivers share. */
  consumer: NatsName.default('dbwitness-archiver'),
  /** KV bucket holding the archiver lease (its TTL is the lease TTL). */
  lease_bucket: NatsName.default('dbwitness_archiver'),
  /** Lease name: archivers writing the same store directory must use the same name. */
  lease_name: NatsName.default('archive'),
  /** Must equal the lease bucket's TTL (set by `setup nats`). */
  lease_ttl: Duration.default('15s'),
  /** Messages fetched per batch (one store append per source per batch). */
  batch: z.number().int().min(1).max(10_000).default(1000),
}).strict();
export type ArchiveConfig = z.infer<typeof ArchiveConfig>;
export type ArchiveInput = z.input<typeof ArchiveConfig>;

/** What `dbwitness setup nats` creates. */
export const NatsSetupConfig = NatsConnectionConfig.extend({
  /** Copies of every message across the cluster (1, 3 or 5; 3 survives one lost server). */
  replicas: z.number().int().min(1).max(5).default(3),
  /** Republished messages with an id seen within this window are dropped by the server. */
  duplicate_window: Duration.default('10m'),
  /** Oldest events kept in the stream; the archive is the long-term record. */
  max_age: Duration.default('7d'),
  /** Stream size limit in bytes; when reached, publishes are refused (edges pause), never dropped. */
  max_bytes: z.number().int().positive().default(10 * 1024 ** 3),
  consumer: NatsName.default('dbwitness-archiver'),
  /** How long a delivered, unacknowledged message waits before redelivery. */
  ack_wait: Duration.default('60s'),
  max_ack_pending: z.number().int().positive().default(20_000),
  lease_bucket: NatsName.default('dbwitness_archiver'),
  lease_ttl: Duration.default('15s'),
}).strict();
export type NatsSetupConfig = z.infer<typeof NatsSetupConfig>;
export type NatsSetupInput = z.input<typeof NatsSetupConfig>;

export function eventSubject(prefix: string, sourceId: string): string {
  return `${prefix}.events.${sourceId}`;
}

export function eventsFilter(prefix: string): string {
  return `${prefix}.events.>`;
}

/** The source id named by an event subject, or null when the subject is not one. */
export function sourceIdOfSubject(prefix: string, subject: string): string | null {
  const head = `${prefix}.events.`;
  if (!subject.startsWith(head)) return null;
  const id = subject.slice(head.length);
  return id === '' || id.includes('.') ? null : id;
}

export { durationMs };
