/**
 * An edge that starts while NATS answers but JetStream does not (a server
 * restarting, a cluster without quorum): it waits with backoff, as its
 * publishes do, instead of failing at once or calling the stream or bucket
 * missing, and goes on once JetStream is back. Made on demand here with a
 * NATS server started without JetStream on the same port and store, then
 * restarted with it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamOutputConfig, openJetStreamStore } from '../../src/jetstream/index.js';
import { startNats, waitFor, type NatsServer } from '../harness/index.js';
import { capturingLogger, setupNats } from './jetstream-helpers.js';

describe('JetStream edge start-up', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNats();
    await setupNats(nats.url());
  });
  afterAll(async () => {
    await nats?.close();
  });

  it('waits for JetStream while it does not answer, then opens the stream and the checkpoint bucket', async () => {
    await nats.stop();
    await nats.start({ jetstream: false });
    const lines: string[] = [];
    const output = JetStreamOutputConfig.parse({ kind: 'jetstream', servers: nats.url() });
    let settled: 'open' | Error | null = null;
    const opening = openJetStreamStore({ config: output, logger: capturingLogger(lines) }).then(
      (store) => {
        settled = 'open';
        return store;
      },
      (e: unknown) => {
        settled = e as Error;
        throw e;
      },
    );
    opening.catch(() => undefined);
    await waitFor(() => lines.filter((l) => l.includes('JetStream did not answer while starting; retrying')).length >= 2, { what: 'the edge retrying its start-up', timeoutMs: 30_000 });
    expect(settled).toBeNull();
    expect(lines.join('\n')).not.toMatch(/does not exist/);

    await nats.stop();
    await nats.start({ jetstream: true });
    const store = await opening;
    try {
      const chain = await store.openChain({ id: 'startup-edge', engine: 'postgres', server: 'db:5432', database: 'ehr' });
      expect(chain.checkpoint()).toBeNull();
    } finally {
      await store.close();
    }
  });
});
