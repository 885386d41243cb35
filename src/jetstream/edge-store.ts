/**
 * Edge mode: an `AuditStore` that sends every source's events to a
 * JetStream stream instead of local files. The central archiver
 * (`dbwitness archive`) builds the hash-chained, sealed store from it.
 *
 * @example
 *   const store = await openJetStreamStore({ config: JetStreamOutputConfig.parse(raw), logger });
 *   const chain = await store.openChain(source);   // reads the source's newest checkpoint back
 *   await runPipeline({ source, chain, logger, signal });
 */
import { NatsError, type JetStreamClient, type KV, type NatsConnection } from 'nats';
import type { Source } from '../core/event.js';
import { DbwitnessError, usageError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { AuditStore } from '../core/ports.js';
import { JetStreamChain, errText, type EdgeCheckpointValue } from './edge-chain.js';
import { durationMs, type JetStreamOutputConfig } from './jetstream-config.js';
import { backoffMs, connectNats, pause } from './nats-connect.js';

export interface JetStreamStoreOptions {
  readonly config: JetStreamOutputConfig;
  readonly logger?: Logger;
  readonly env?: NodeJS.ProcessEnv;
  /** Connection name shown in the server's monitoring. */
  readonly name?: string;
}

export async function openJetStreamStore(options: JetStreamStoreOptions): Promise<JetStreamStore> {
  const logger = options.logger ?? silentLogger();
  const config = options.config;
  const nc = await connectNats(config, { logger, name: options.name ?? 'dbwitness-edge', ...(options.env ? { env: options.env } : {}) });
  try {
    const js = nc.jetstream();
    await whileUnavailable(() => assertStream(nc, config.stream), logger);
    const checkpoints = await whileUnavailable(() => bindBucket(js, config.checkpoint_bucket), logger);
    return new JetStreamStore(nc, js, checkpoints, config, logger);
  } catch (e) {
    await nc.close();
    throw e;
  }
}

export class JetStreamStore implements AuditStore {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #checkpoints: KV;
  readonly #config: JetStreamOutputConfig;
  readonly #logger: Logger;
  readonly #chains = new Map<string, JetStreamChain>();

  constructor(nc: NatsConnection, js: JetStreamClient, checkpoints: KV, config: JetStreamOutputConfig, logger: Logger) {
    this.#nc = nc;
    this.#js = js;
    this.#checkpoints = checkpoints;
    this.#config = config;
    this.#logger = logger;
  }

  async openChain(source: Source): Promise<JetStreamChain> {
    if (this.#chains.has(source.id)) {
      throw usageError('E_STORE_CHAIN_OPEN', `the output of source ${source.id} is already open`, 'open each source once; share the Chain object');
    }
    const checkpoint = await this.#readCheckpoint(source.id);
    const chain = new JetStreamChain(source, checkpoint, {
      js: this.#js,
      checkpoints: this.#checkpoints,
      stream: this.#config.stream,
      subjectPrefix: this.#config.subject_prefix,
      publishTimeoutMs: durationMs(this.#config.publish_timeout),
      maxInflight: this.#config.max_inflight,
      maxPayload: () => this.#nc.info?.max_payload ?? 1024 * 1024,
      logger: this.#logger,
      // A supervisor retrying a failed source closes its chain and opens it again.
      onClose: () => {
        if (this.#chains.get(source.id) === chain) this.#chains.delete(source.id);
      },
    });
    this.#chains.set(source.id, chain);
    return chain;
  }

  async close(): Promise<void> {
    const chains = [...this.#chains.values()];
    this.#chains.clear();
    await Promise.all(chains.map((c) => c.close()));
    await this.#nc.close();
  }

  /** The newest checkpoint of the source; retried while JetStream is unavailable (about a minute). */
  async #readCheckpoint(sourceId: string): Promise<EdgeCheckpointValue | null> {
    for (let attempt = 0; ; attempt++) {
      try {
        const entry = await this.#checkpoints.get(sourceId);
        if (entry === null || entry.operation !== 'PUT') return null;
        return parseCheckpoint(entry.value, sourceId);
      } catch (e) {
        if (e instanceof DbwitnessError || attempt >= 15) {
          throw e instanceof DbwitnessError ? e : new DbwitnessError('E_JETSTREAM_UNAVAILABLE', `cannot read the checkpoint of ${sourceId} from JetStream: ${errText(e)}`, 'check that the NATS cluster is up and has a JetStream quorum; dbwitness retries on restart');
        }
        this.#logger.warn({ source: sourceId, attempt: attempt + 1, err: errText(e) }, 'reading the checkpoint from JetStream failed; retrying');
        await pause(backoffMs(attempt));
      }
    }
  }
}

function parseCheckpoint(value: Uint8Array, sourceId: string): EdgeCheckpointValue {
  try {
    const v = JSON.parse(Buffer.from(value).toString('utf8')) as Partial<EdgeCheckpointValue>;
    if (typeof v.checkpoint === 'string' && typeof v.at === 'string' && typeof v.stream_seq === 'number') return { checkpoint: v.checkpoint, at: v.at, stream_seq: v.stream_seq };
  } catch {
    // reported below
  }
  throw new DbwitnessError('E_JETSTREAM_CHECKPOINT', `the checkpoint of ${sourceId} in JetStream is not readable`, 'something other than dbwitness wrote it; delete the key only if you accept a restart from the source\'s own position (nats kv del BUCKET SOURCE)');
}

/**
 * Start-up while JetStream does not answer (a restart, a lost quorum):
 * wait for it with backoff, as publishes do, for up to a minute. A stream
 * or bucket that does not exist fails at once.
 */
async function whileUnavailable<T>(attempt: () => Promise<T>, logger: Logger): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof DbwitnessError) || e.code !== 'E_JETSTREAM_UNAVAILABLE' || Date.now() >= deadline) throw e;
      logger.warn({ attempt: n, err: e.message }, 'JetStream did not answer while starting; retrying');
      await pause(backoffMs(n));
    }
  }
}

function notFound(e: unknown): boolean {
  return e instanceof NatsError && (e.code === '404' || /not found/i.test(e.message));
}

async function assertStream(nc: NatsConnection, stream: string): Promise<void> {
  try {
    const jsm = await nc.jetstreamManager({ timeout: 10_000 });
    await jsm.streams.info(stream);
  } catch (e) {
    if (notFound(e)) {
      throw usageError('E_JETSTREAM_NO_STREAM', `the JetStream stream ${stream} does not exist`, 'create it (and the buckets) with `dbwitness setup nats --apply`, or review the plan first without --apply');
    }
    throw new DbwitnessError('E_JETSTREAM_UNAVAILABLE', `JetStream did not answer for stream ${stream}: ${errText(e)}`, 'check that the NATS servers run with JetStream enabled and have a quorum');
  }
}

export async function bindBucket(js: JetStreamClient, bucket: string, timeoutMs?: number): Promise<KV> {
  try {
    const kv = await js.views.kv(bucket, { bindOnly: true, ...(timeoutMs !== undefined ? { timeout: timeoutMs } : {}) });
    // bindOnly does not look the bucket up; status() does (its stream info).
    await kv.status();
    return kv;
  } catch (e) {
    if (notFound(e)) throw usageError('E_JETSTREAM_NO_BUCKET', `the JetStream KV bucket ${bucket} does not exist (${errText(e)})`, 'create it with `dbwitness setup nats --apply`');
    // A timeout is JetStream not answering (restarting, no quorum), not a missing bucket.
    throw new DbwitnessError('E_JETSTREAM_UNAVAILABLE', `JetStream did not answer for KV bucket ${bucket}: ${errText(e)}`, 'check that the NATS servers run with JetStream enabled and have a quorum');
  }
}
