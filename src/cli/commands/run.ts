import type { Command } from 'commander';
import { redactUrl } from '../../core/errors.js';
import { runPipeline } from '../../pipeline/index.js';
import { addGlobalOptions, loadContext, type GlobalFlags } from '../command-context.js';
import { addSourceOptions, sourceEntryFrom, type SourceFlags } from '../source-options.js';
import { adapterForUrl, parseSourceConfig } from '../source-resolution.js';
import { addStoreOptions, openStoreFrom, type StoreFlags } from '../store-options.js';

interface RunFlags extends GlobalFlags, SourceFlags, StoreFlags {}

export function registerRun(program: Command): void {
  const cmd = program
    .command('run')
    .description('tail a database and write its changes, with the session that made them, to the store')
    .addHelpText(
      'after',
      `
A source position is acknowledged to the database (PostgreSQL slot flush
LSN) or persisted (binlog GTID / file:offset) only after every event up to
it is fsync'd in the store. After a crash, run resumes from the store's own
checkpoint and drops replayed events by id.

SIGTERM or Ctrl-C drains: complete transactions are stored and acknowledged,
then run exits 0.

Examples:
  dbwitness run --source postgres://dbwitness_daemon@db:5432/clinic --password-env DBWITNESS_PG_PASSWORD \\
                --tables clinic.patients,clinic.encounters --store /var/lib/dbwitness --signing-key /etc/dbwitness/signing.key
  dbwitness run --config /etc/dbwitness/dbwitness.yaml`,
    );
  addSourceOptions(cmd, '--source');
  addStoreOptions(cmd);
  addGlobalOptions(cmd);
  cmd.action(async (flags: RunFlags) => {
    const { config, logger } = await loadContext(flags);
    const entry = sourceEntryFrom(flags, config);
    const adapter = await adapterForUrl(String(entry.url));
    const sourceConfig = parseSourceConfig(adapter, entry, 'source');
    const store = await openStoreFrom(flags, config, logger);
    const controller = new AbortController();
    let signals = 0;
    const onSignal = (name: NodeJS.Signals): void => {
      signals++;
      if (signals === 1) {
        logger.info({ signal: name }, 'draining: storing complete transactions, then exiting');
        controller.abort();
      } else {
        // Nothing is acknowledged before it is durable, so leaving now loses nothing.
        logger.warn({ signal: name }, 'second signal: exiting without draining');
        process.exit(130);
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    try {
      const source = await adapter.openSource(sourceConfig, { logger });
      try {
        const chain = await store.openChain(source.source);
        logger.info({ source: source.source.id, target: redactUrl(String(entry.url)) }, 'streaming');
        await runPipeline({ source, chain, logger, signal: controller.signal });
        await chain.close();
      } finally {
        await source.close();
      }
    } finally {
      await store.close();
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  });
}
