import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { ConfigFile } from '../../config/config-schema.js';
import { loadConfigFile } from '../../config/load-config.js';
import { usageError } from '../../core/errors.js';
import { Supervisor, type SourceSpec } from '../../daemon/supervisor.js';
import { addGlobalOptions, loadContext, type GlobalFlags } from '../command-context.js';
import { addSourceOptions, sourceEntryFrom, type SourceFlags } from '../source-options.js';
import { adapterForUrl, parseSourceConfig } from '../source-resolution.js';
import { addStoreOptions, openStoreFrom, storeEncryptionKey, type StoreFlags } from '../store-options.js';
import { addPolicyOptions, policyTransform, type PolicyFlags } from '../policy-options.js';
import type { DaemonServices } from '../../daemon/daemon-services.js';
import type { WorkerHeap } from '../../index/index-worker.js';
import type { AuditStore } from '../../core/ports.js';
import { loadSigningKey } from '../../store/keys.js';
import { validate } from '../../config/load-config.js';
import type { SubjectFallback } from '../../policy/index.js';

interface RunFlags extends GlobalFlags, SourceFlags, StoreFlags, PolicyFlags {
  http?: string;
}

export function registerRun(program: Command): void {
  const cmd = program
    .command('run')
    .description('tail databases and write their changes, with the session that made them, to the store')
    .addHelpText(
      'after',
      `
A source position is acknowledged to the database (PostgreSQL slot flush
LSN) or persisted (binlog GTID / file:offset) only after every event up to
it is fsync'd in the store. After a crash, run resumes from the store's own
checkpoint and drops replayed events by id.

One source (from flags, or a config file listing one): an error the adapter
cannot recover from (slot missing or invalidated, binlog purged) ends run
with exit code 2. Several sources (config file): each has its own chain and
checkpoint; a failing source is retried with backoff while the others flow.

Health, metrics, alerts, anchors: see docs/operations.md (http, alerts,
anchors sections of the config file).

Signals: SIGTERM or Ctrl-C drains (complete transactions are stored and
acknowledged) and exits 0; SIGHUP re-reads --config and starts, stops or
restarts the sources that changed.

Examples:
  dbwitness run --source postgres://dbwitness_daemon@db:5432/clinic --password-env DBWITNESS_PG_PASSWORD \\
                --tables clinic.patients,clinic.encounters --store /var/lib/dbwitness --signing-key /etc/dbwitness/signing.key
  dbwitness run --config /etc/dbwitness/dbwitness.yaml`,
    );
  addSourceOptions(cmd, '--source');
  addStoreOptions(cmd);
  addPolicyOptions(cmd);
  addGlobalOptions(cmd);
  cmd.option('--http <host:port>', 'serve /healthz, /readyz and /metrics here (http.listen; off by default; a bare port binds 127.0.0.1)');
  cmd.action(async (flags: RunFlags) => {
    // Signal handlers first: a SIGTERM while starting must end in a clean
    // exit after start-up (nothing acknowledged yet), not in the default
    // kill. The daemon services (metrics, alerts) load only now, so other
    // commands do not pay for them.
    let stopping = false;
    let resolveStop: () => void = () => undefined;
    const stopped = new Promise<void>((r) => (resolveStop = r));
    let logger: Logger | null = null;
    let supervisor: Supervisor | null = null;
    let services: DaemonServices | null = null;
    let store: AuditStore | null = null;
    let stopIndex: () => Promise<void> = async () => undefined;
    const onStop = (name: NodeJS.Signals): void => {
      if (stopping) {
        // Nothing is acknowledged before it is durable, so leaving now loses nothing.
        logger?.warn({ signal: name }, 'second signal: exiting without draining');
        process.exit(130);
      }
      stopping = true;
      logger?.info({ signal: name }, 'draining: storing complete transactions, then exiting');
      resolveStop();
    };
    const onReload = (): void => {
      if (logger === null || supervisor === null || services === null) return;
      if (flags.config === undefined) {
        logger.warn('SIGHUP ignored: run was started without --config');
        return;
      }
      void reload(flags, supervisor, services, logger);
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    process.on('SIGHUP', onReload);
    try {
      const ctx = await loadContext(flags);
      const config = ctx.config;
      logger = ctx.logger;
      const specs = await sourceSpecs(flags, config);
      const output = await openOutput(flags, config, logger);
      store = output.store;
      stopIndex = output.stopIndex;
      const transform = policyTransform(flags, config, output.lookupFallback, logger);
      const signingKeyFile = flags.signingKey ?? config.store?.signing_key;
      const { DaemonServices } = await import('../../daemon/daemon-services.js');
      services = new DaemonServices({ config, logger, signingKey: signingKeyFile === undefined ? null : await loadSigningKey(signingKeyFile), httpListen: flags.http, indexWorkerHeap: output.indexWorkerHeap });
      supervisor = new Supervisor({ store: services.wrapStore(store), logger, transform, hooks: services.hooks(), failFast: specs.length === 1 });
      await services.start();
      if (!stopping) await supervisor.apply(services.wrapSpecs(specs));
      await Promise.race([stopped, supervisor.fatal()]);
    } finally {
      await supervisor?.stopAll();
      // After the drain: the final heads are anchored and queued alerts get a last chance.
      await services?.stop();
      await store?.close();
      await stopIndex();
      process.off('SIGTERM', onStop);
      process.off('SIGINT', onStop);
      process.off('SIGHUP', onReload);
    }
  });
}

interface Output {
  readonly store: AuditStore;
  /** Patient lookups through the local index (null at the edge or before the first reindex). */
  readonly lookupFallback: SubjectFallback | null;
  readonly stopIndex: () => Promise<void>;
  /** The index worker's heap for /metrics (absent at the edge). */
  readonly indexWorkerHeap?: () => WorkerHeap | null;
}

/**
 * Where events go: the local store (kept indexed in the background), or,
 * with `output: { kind: jetstream }`, JetStream (edge mode: the central
 * archiver assigns the chain, so there is nothing to index here).
 */
async function openOutput(flags: RunFlags, config: ConfigFile, logger: Logger): Promise<Output> {
  if (config.output !== undefined) {
    const { JetStreamOutputConfig } = await import('../../jetstream/jetstream-config.js');
    const { openJetStreamStore } = await import('../../jetstream/index.js');
    const output = validate(JetStreamOutputConfig, config.output, 'config output');
    if (flags.store !== undefined) throw usageError('E_OUTPUT_CONFLICT', 'both --store and an `output: jetstream` section were given', 'use one: --store writes a local store; the output section publishes to JetStream for a central `dbwitness archive`');
    return { store: await openJetStreamStore({ config: output, logger }), lookupFallback: null, stopIndex: async () => undefined };
  }
  const store = await openStoreFrom(flags, config, logger);
  const dir = (flags.store ?? config.store?.dir)!;
  const { openSubjectFallback, startIndexUpdater } = await import('../../index/index.js');
  const lookup = openSubjectFallback(dir);
  const encryptionKey = await storeEncryptionKey(flags, config);
  const updater = startIndexUpdater(dir, { logger, encryptionKey });
  return {
    store,
    lookupFallback: lookup?.fallback ?? null,
    indexWorkerHeap: () => updater.workerHeap(),
    stopIndex: async () => {
      await updater.stop();
      lookup?.close();
    },
  };
}

async function sourceSpecs(flags: RunFlags, config: ConfigFile): Promise<SourceSpec[]> {
  const fromFlags = flags.source !== undefined || flags.url !== undefined || flags.sourceId !== undefined || config.sources.length <= 1;
  const entries = fromFlags ? [sourceEntryFrom(flags, config)] : config.sources.map((s) => ({ ...s }) as Record<string, unknown>);
  const specs: SourceSpec[] = [];
  for (const [i, entry] of entries.entries()) {
    const adapter = await adapterForUrl(String(entry.url));
    const parsed = parseSourceConfig(adapter, entry, fromFlags ? `source ${String(entry['id'])}` : `config sources[${i}]`);
    specs.push({ id: String(entry.id), adapter, config: parsed, fingerprint: JSON.stringify(entry) });
  }
  const ids = specs.map((s) => s.id);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) {
    throw usageError('E_SOURCE_DUPLICATE', `two sources share the id "${dup}"`, 'give every source its own id: the id names its chain in the store');
  }
  return specs;
}

async function reload(flags: RunFlags, supervisor: Supervisor, services: DaemonServices, logger: Logger): Promise<void> {
  try {
    const config = await loadConfigFile(flags.config!);
    const { source: _source, url: _url, ...rest } = flags;
    const specs = await sourceSpecs(rest, config);
    services.reloadRules(config);
    await supervisor.apply(services.wrapSpecs(specs));
    logger.info({ sources: specs.map((s) => s.id) }, 'configuration reloaded');
  } catch (e) {
    // A bad edit must not stop capture: keep running with the previous sources.
    logger.error({ err: e instanceof Error ? e.message : String(e) }, 'SIGHUP reload failed; keeping the running configuration');
  }
}
