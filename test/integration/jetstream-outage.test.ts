/**
 * JetStream unavailable for a while (nats-server killed with SIGKILL, then
 * started again on the same store): the edge keeps retrying, acknowledges
 * nothing to the source meanwhile and stops pulling from it (backpressure),
 * and once JetStream is back every change arrives in the archive exactly
 * once while the archiver rides out the same outage.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createLogger, silentLogger } from '../../src/core/logger.js';
import { runPipeline } from '../../src/pipeline/index.js';
import { openStore } from '../../src/store/index.js';
import { ArchiveConfig, JetStreamOutputConfig, openJetStreamStore, runArchiver } from '../../src/jetstream/index.js';
import { startNats, tempDir, waitFor, type NatsServer } from '../harness/index.js';
import { ScriptedSource } from './fixtures/jetstream-scripted-source.js';
import { assertChainValid, capturingLogger, exactlyOnceProblems, readChain, setupNats } from './jetstream-helpers.js';

const TX = 300;
const PER_TX = 2;
const BATCH = 20;

describe('JetStream outage', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNats();
    await setupNats(nats.url());
  });
  afterAll(async () => {
    await nats?.close();
  });

  it('pauses capture while JetStream is down and loses nothing', async () => {
    const storeDir = join(await tempDir('js-outage-'), 'store');
    const lines: string[] = [];
    const output = JetStreamOutputConfig.parse({ kind: 'jetstream', servers: nats.url(), publish_timeout: '500ms' });
    const edge = await openJetStreamStore({ config: output, logger: capturingLogger(lines) });
    const source = new ScriptedSource({ id: 'edge-out', transactions: TX, changesPerTx: PER_TX, txPerSecond: 150 });
    const chain = await edge.openChain(source.source);
    const stopEdge = new AbortController();
    // A small batch and outstanding bound make the bound visible: while an
    // append is stuck the pipeline builds at most one more batch, then stops
    // pulling the source.
    const piping = runPipeline({ source, chain, logger: silentLogger(), signal: stopEdge.signal, batchMaxEvents: BATCH, maxOutstandingEvents: BATCH });
    const stopArchive = new AbortController();
    const archiving = runArchiver({
      config: ArchiveConfig.parse({ servers: nats.url(), lease_ttl: '3s', batch: 100 }),
      openStore: () => openStore(storeDir, { unsigned: true }),
      logger: process.env.JS_TEST_DEBUG ? createLogger('info') : silentLogger(),
      signal: stopArchive.signal,
    });
    try {
      await waitFor(() => source.acknowledged >= 60, { what: '60 transactions acknowledged before the outage' });
      await nats.stop('immediate');
      const ackedAtOutage = source.acknowledged;
      const yieldedAtOutage = source.yielded;
      // Barrier: the edge has failed to publish several times in a row.
      // The outage can hit an append while it publishes events or while it
      // stores the checkpoint after them: either retries (attempt 4 or later;
      // /[4-9]|\d\d/ also admits 10+, which a loaded machine can reach first).
      const retrying = (l: string): boolean => (l.includes('JetStream did not acknowledge') || l.includes('checkpoint not stored in JetStream')) && /"attempt":([4-9]|\d\d)/.test(l);
      await waitFor(() => lines.some(retrying), { what: 'the edge retrying publishes or its checkpoint', timeoutMs: 60_000 });
      expect(source.acknowledged).toBe(ackedAtOutage); // nothing acknowledged to the database while JetStream is down
      expect(source.yielded - yieldedAtOutage).toBeLessThanOrEqual(BATCH / PER_TX + 3); // and capture paused after one batch instead of buffering the source
      expect(lines.join('\n')).not.toContain('patient '); // no row values in the logs

      await nats.start();
      if (process.env.JS_TEST_DEBUG) process.stderr.write(`restarted at ack ${source.acknowledged}\n`);
      await waitFor(() => source.acknowledged === TX, { what: 'every transaction acknowledged after JetStream came back', timeoutMs: 60_000 });
      await waitFor(async () => (await readChain(storeDir, 'edge-out')).length >= TX * PER_TX, { what: 'every event archived', timeoutMs: 60_000 });
    } finally {
      stopEdge.abort();
      stopArchive.abort();
      // close() also ends the retries of an append still waiting for JetStream.
      await Promise.all([piping.catch(() => undefined), edge.close()]);
      await archiving.catch(() => undefined);
    }
    const events = await readChain(storeDir, 'edge-out');
    assertChainValid(events);
    expect(exactlyOnceProblems(events, TX, PER_TX)).toEqual([]);
  }, 150_000);
});
