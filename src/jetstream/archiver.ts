/**
 * Central mode: JetStream -> hash-chained, sealed store.
 *
 * One chain per source; seq/prev/hash are assigned by the store. A message
 * is acknowledged to JetStream only after the store append that holds it
 * resolved (fsync'd). Each append carries the checkpoint
 * `jetstream:<stream>@<created>:<stream-seq>` (the last stored stream
 * sequence of that source), so the archive itself says how far it got.
 *
 * Exactly once in the chain:
 * - the edge republishes after a crash with the same `Nats-Msg-Id`:
 *   JetStream drops it within the duplicate window, the store's id window
 *   after it;
 * - a message redelivered to the archiver (crash before its ack) has a
 *   stream sequence at or below the chain's checkpoint and is skipped, or
 *   was stored after the checkpoint (torn batch) and is dropped by id;
 * - consumption is kept in stream order (archive-consumer.ts), which is what
 *   makes the checkpoint comparison sound;
 * - only the lease holder writes (archive-lease.ts).
 */
import type { JetStreamClient, JsMsg, NatsConnection } from 'nats';
import { DbwitnessError } from '../core/errors.js';
import type { DraftEvent, Source } from '../core/event.js';
import type { Logger } from '../core/logger.js';
import type { AuditStore, Chain } from '../core/ports.js';
import { ArchiveConsumer } from './archive-consumer.js';
import { ArchiveLease } from './archive-lease.js';
import { errText } from './edge-chain.js';
import { bindBucket } from './edge-store.js';
import { durationMs, sourceIdOfSubject, type ArchiveConfig } from './jetstream-config.js';
import { backoffMs, connectNats, pause } from './nats-connect.js';
import { decodeDraft } from './wire-event.js';

export interface ArchiverOptions {
  readonly config: ArchiveConfig;
  /** Opens the store; called only while this archiver holds the lease. */
  readonly openStore: () => Promise<AuditStore>;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly env?: NodeJS.ProcessEnv;
  /** Called after each batch is stored and acknowledged (metrics, tests). Must not throw. */
  readonly onBatch?: (stats: Readonly<ArchiverStats>) => void;
}

export interface ArchiverStats {
  /** Events appended to the store (before the store's own id dedupe). */
  appended: number;
  /** Messages acknowledged without storing: already in the chain by stream sequence. */
  skipped: number;
  acked: number;
  batches: number;
  resets: number;
  leaseTerms: number;
}

export async function runArchiver(o: ArchiverOptions): Promise<ArchiverStats> {
  const log = o.logger.child({ component: 'archiver' });
  const nc = await connectNats(o.config, { logger: o.logger, name: 'dbwitness-archiver', ...(o.env ? { env: o.env } : {}) });
  const stats: ArchiverStats = { appended: 0, skipped: 0, acked: 0, batches: 0, resets: 0, leaseTerms: 0 };
  try {
    const js = nc.jetstream();
    const jsm = await nc.jetstreamManager({ timeout: 10_000 });
    const ttlMs = await leaseTtl(js, o.config, log);
    // A renewal must answer well within the lease's validity, or it cannot help.
    const leaseKv = await bindBucket(js, o.config.lease_bucket, Math.max(250, Math.min(5000, ttlMs / 4)));
    const lease = new ArchiveLease(leaseKv, o.config.lease_name, ttlMs, o.logger);
    const consumer = new ArchiveConsumer(jsm, js, o.config.stream, o.config.consumer, o.config.batch * 2);
    while (!o.signal.aborted) {
      if (!(await lease.acquire(o.signal))) break;
      stats.leaseTerms++;
      try {
        await activeTerm(o, nc, consumer, lease, stats, log);
      } catch (e) {
        if (e instanceof Fatal) throw e.cause;
        log.warn({ err: errText(e) }, 'archiver term ended (lease lost or store write failed); standing by');
        await pause(backoffMs(stats.leaseTerms), o.signal);
      } finally {
        await lease.release();
      }
    }
  } finally {
    await nc.close();
  }
  log.info({ ...stats }, 'archiver stopped');
  return stats;
}

/**
 * The bucket's TTL is what expires a lease, so it is authoritative: a
 * configured TTL longer than the bucket's would let a standby take over
 * while the holder still believes it holds the lease.
 */
async function leaseTtl(js: JetStreamClient, config: ArchiveConfig, log: Logger): Promise<number> {
  const configured = durationMs(config.lease_ttl);
  const bucketTtl = (await (await bindBucket(js, config.lease_bucket)).status()).ttl;
  if (bucketTtl <= 0) {
    throw new DbwitnessError('E_ARCHIVE_LEASE_TTL', `the lease bucket ${config.lease_bucket} has no TTL, so a crashed archiver's lease would never expire`, 'recreate it with a TTL: `nats kv del ' + config.lease_bucket + '` then `dbwitness setup nats --apply` (or `nats kv add ' + config.lease_bucket + ' --history 1 --ttl 15s`)');
  }
  if (bucketTtl !== configured) log.warn({ configured, bucket: bucketTtl }, 'lease_ttl differs from the lease bucket\'s TTL; using the bucket\'s');
  return bucketTtl;
}

/** Ends the archiver: retrying cannot help (bad message, missing consumer, unusable store settings). */
class Fatal extends Error {
  override readonly cause: unknown;
  constructor(cause: unknown) {
    super(errText(cause));
    this.cause = cause;
  }
}

/** Ends the term: the store is reopened (which repairs a partial write) in the next term. */
class StoreWriteFailed extends Error {}

async function activeTerm(o: ArchiverOptions, nc: NatsConnection, consumer: ArchiveConsumer, lease: ArchiveLease, stats: ArchiverStats, log: Logger): Promise<void> {
  const store = await o.openStore().catch((e: unknown) => {
    throw new Fatal(e);
  });
  const chains = new Map<string, Chain>();
  const streamTag = await streamIdentity(nc, o.config.stream);
  try {
    let needReset = true;
    let failures = 0;
    while (!o.signal.aborted && !lease.lost.aborted) {
      try {
        if (needReset) {
          const start = await consumer.reset();
          stats.resets++;
          log.info({ start }, 'consumer reset to its acknowledged floor');
          needReset = false;
        }
        const batch = await consumer.nextBatch(o.config.batch, 1000);
        if (batch.messages.length > 0) await storeBatch(batch.messages, o.config.subject_prefix, streamTag, store, chains, lease, stats);
        if (batch.broken) needReset = true;
        if (batch.messages.length > 0) {
          stats.batches++;
          o.onBatch?.(stats);
        }
        failures = 0;
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        if (code === 'E_ARCHIVE_BAD_MESSAGE' || code === 'E_ARCHIVE_NO_CONSUMER') throw new Fatal(e);
        if (code === 'E_ARCHIVE_LEASE_LOST' || e instanceof StoreWriteFailed || e instanceof Fatal) throw e;
        // NATS down or restarting: nothing was acknowledged past what is stored.
        failures++;
        log.warn({ err: errText(e), attempt: failures }, 'archiving paused: JetStream unavailable; retrying');
        needReset = true;
        await pause(backoffMs(failures), o.signal);
      }
    }
  } finally {
    consumer.stop();
    await store.close();
  }
}

async function storeBatch(messages: readonly JsMsg[], prefix: string, streamTag: string, store: AuditStore, chains: Map<string, Chain>, lease: ArchiveLease, stats: ArchiverStats): Promise<void> {
  const bySource = new Map<string, { source: Source; drafts: DraftEvent[]; seqs: number[] }>();
  for (const m of messages) {
    const where = `message ${m.info.streamSequence} of stream ${m.info.stream} (${m.subject})`;
    const sourceId = sourceIdOfSubject(prefix, m.subject);
    const draft = decodeDraft(m.data, where, sourceId ?? '(not an event subject)');
    let group = bySource.get(draft.source.id);
    if (group === undefined) bySource.set(draft.source.id, (group = { source: draft.source, drafts: [], seqs: [] }));
    group.drafts.push(draft);
    group.seqs.push(m.info.streamSequence);
  }
  lease.assertHeld();
  await Promise.all(
    [...bySource.values()].map(async (g) => {
      let chain = chains.get(g.source.id);
      if (chain === undefined) {
        chain = await store.openChain(g.source).catch((e: unknown) => {
          throw new Fatal(e);
        });
        chains.set(g.source.id, chain);
      }
      const done = storedThrough(chain, streamTag);
      const fresh = g.drafts.filter((_, i) => g.seqs[i]! > done);
      stats.skipped += g.drafts.length - fresh.length;
      const last = g.seqs[g.seqs.length - 1]!;
      if (last <= done) return;
      lease.assertHeld();
      // Resolves after the fsync of these events and the checkpoint: only then ack below.
      await chain.append(fresh, `${streamTag}:${last}`).catch((e: unknown) => {
        throw new StoreWriteFailed(`store write for ${g.source.id} failed: ${errText(e)}`);
      });
      stats.appended += fresh.length;
    }),
  );
  // Durable in the archive: acknowledging now cannot lose an event.
  await ackAll(messages);
  stats.acked += messages.length;
}

/**
 * Acks in stream order; the last one waits for the server's confirmation
 * (acks travel in order on the connection), so a crash right after a batch
 * leaves little to redeliver. A lost ack only causes a harmless redelivery.
 */
async function ackAll(messages: readonly JsMsg[]): Promise<void> {
  for (let i = 0; i < messages.length - 1; i++) messages[i]!.ack();
  const last = messages[messages.length - 1];
  if (last !== undefined) await last.ackAck({ timeout: 5000 }).catch(() => false);
}

/** Highest stream sequence of this stream already stored in the chain (0 if none or another stream). */
function storedThrough(chain: Chain, streamTag: string): number {
  const cp = chain.checkpoint()?.checkpoint;
  if (cp === undefined || !cp.startsWith(`${streamTag}:`)) return 0;
  const n = Number(cp.slice(streamTag.length + 1));
  return Number.isSafeInteger(n) ? n : 0;
}

/**
 * The stream's name and creation time: a stream deleted and created again
 * restarts its sequences at 1, so a checkpoint of the old one must not
 * make the archiver skip the new one's messages.
 */
async function streamIdentity(nc: NatsConnection, stream: string): Promise<string> {
  const jsm = await nc.jetstreamManager({ timeout: 10_000 });
  const info = await jsm.streams.info(stream);
  return `jetstream:${stream}@${info.created}`;
}
