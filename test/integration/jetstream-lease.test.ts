/**
 * One writer per store: a standby archiver never opens (never repairs,
 * never writes) the store while another holds the lease; a holder whose
 * lease is taken over stops writing; a released lease is taken over at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { silentLogger } from '../../src/core/logger.js';
import type { AuditStore } from '../../src/core/ports.js';
import { openStore } from '../../src/store/index.js';
import { ArchiveConfig, JetStreamOutputConfig, openJetStreamStore, runArchiver } from '../../src/jetstream/index.js';
import { ArchiveLease } from '../../src/jetstream/archive-lease.js';
import { changeDraft } from '../../src/pipeline/index.js';
import { startNats, tempDir, waitFor, type NatsServer } from '../harness/index.js';
import { ScriptedSource, scriptedTx } from './fixtures/jetstream-scripted-source.js';
import { assertChainValid, exactlyOnceProblems, readChain, setupNats } from './jetstream-helpers.js';

describe('archiver lease', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await startNats();
    await setupNats(nats.url());
    nc = await connect({ servers: nats.url() });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.close();
  });

  /** Publishes transactions from..to of the scripted source through the edge output. */
  async function publish(from: number, to: number): Promise<void> {
    const edge = await openJetStreamStore({ config: JetStreamOutputConfig.parse({ kind: 'jetstream', servers: nats.url() }) });
    const source = new ScriptedSource({ id: 'edge-l', transactions: 0, changesPerTx: 0 }).source;
    const chain = await edge.openChain(source);
    for (let n = from; n <= to; n++) {
      const msgs = scriptedTx(n, 2);
      const commit = msgs.at(-1) as { position: string; commitTime: string; checkpoint: string };
      const drafts = msgs.flatMap((m, i) => (m.kind === 'change' ? [changeDraft(source, { txId: String(1000 + n), position: commit.position, commitTime: commit.commitTime, count: 2 }, i - 2, m.change, null)] : []));
      await chain.append(drafts, commit.checkpoint);
    }
    await edge.close();
  }

  it('keeps the standby out of the store until the holder lets go', async () => {
    const storeDir = join(await tempDir('js-lease-'), 'store');
    const opens = { a: 0, b: 0 };
    const opener = (who: 'a' | 'b') => (): Promise<AuditStore> => {
      opens[who]++;
      return openStore(storeDir, { unsigned: true });
    };
    const config = ArchiveConfig.parse({ servers: nats.url(), lease_ttl: '3s', batch: 20 });
    const stopA = new AbortController();
    const stopB = new AbortController();
    const a = runArchiver({ config, openStore: opener('a'), logger: silentLogger(), signal: stopA.signal });
    await waitFor(() => opens.a === 1, { what: 'archiver A active' });
    const b = runArchiver({ config, openStore: opener('b'), logger: silentLogger(), signal: stopB.signal });
    try {
      await publish(1, 50);
      await waitFor(async () => (await readChain(storeDir, 'edge-l')).length === 100, { what: 'A archived the first 50 transactions' });
      // Barrier: A renewed its lease several times, i.e. more than one TTL passed with B standing by.
      const kv = await nc.jetstream().views.kv('dbwitness_archiver', { bindOnly: true });
      expect((await kv.status()).ttl).toBe(3000); // the archiver takes its TTL from here (milliseconds)
      await waitFor(async () => ((await kv.get('archive'))?.revision ?? 0) >= 5, { what: 'several lease renewals', timeoutMs: 20_000 });
      expect(opens.b).toBe(0);

      stopA.abort();
      const statsA = await a;
      await waitFor(() => opens.b === 1, { what: 'B taking over after A released the lease', timeoutMs: 2_000 });
      await publish(51, 80);
      await waitFor(async () => (await readChain(storeDir, 'edge-l')).length === 160, { what: 'B archived the rest' });
      expect(statsA.appended).toBe(100);
    } finally {
      stopA.abort();
      stopB.abort();
      await Promise.allSettled([a, b]);
    }
    const events = await readChain(storeDir, 'edge-l');
    assertChainValid(events);
    expect(exactlyOnceProblems(events, 80, 2)).toEqual([]);
  }, 90_000);

  it('refuses a message that is not a dbwitness event, without acknowledging it', async () => {
    await setupNats(nats.url(), { stream: 'BAD', subject_prefix: 'bad', consumer: 'bad-archiver', checkpoint_bucket: 'bad_cp', lease_bucket: 'bad_lease' });
    await nc.jetstream().publish('bad.events.edge-x', Buffer.from('{"v":1,"note":"forged"}'));
    const storeDir = join(await tempDir('js-bad-'), 'store');
    const config = ArchiveConfig.parse({ servers: nats.url(), stream: 'BAD', subject_prefix: 'bad', consumer: 'bad-archiver', lease_bucket: 'bad_lease', lease_ttl: '3s' });
    const stop = new AbortController();
    const run = runArchiver({ config, openStore: () => openStore(storeDir, { unsigned: true }), logger: silentLogger(), signal: stop.signal });
    await expect(run).rejects.toMatchObject({ code: 'E_ARCHIVE_BAD_MESSAGE', message: expect.stringContaining('message 1 of stream BAD') });
    const info = await (await nc.jetstreamManager()).consumers.info('BAD', 'bad-archiver');
    expect(info.ack_floor.stream_seq).toBe(0);
    expect(await readChain(storeDir, 'edge-x')).toEqual([]);
  }, 30_000);

  it('refuses a lease bucket without a TTL (a crashed holder would keep the lease forever)', async () => {
    await nc.jetstream().views.kv('no_ttl_lease', { history: 1 });
    const stop = new AbortController();
    const config = ArchiveConfig.parse({ servers: nats.url(), lease_bucket: 'no_ttl_lease' });
    await expect(runArchiver({ config, openStore: () => Promise.reject(new Error('the store must not be opened')), logger: silentLogger(), signal: stop.signal })).rejects.toMatchObject({ code: 'E_ARCHIVE_LEASE_TTL' });
  });

  it('a holder whose lease was taken over refuses to write', async () => {
    const kv = await nc.jetstream().views.kv('dbwitness_archiver', { bindOnly: true });
    const first = new ArchiveLease(kv, 'fence-test', 3000, silentLogger());
    expect(await first.acquire(AbortSignal.timeout(5000))).toBe(true);
    expect(() => first.assertHeld()).not.toThrow();
    // Someone (an operator, or a standby after a long pause of this process) takes the key.
    await kv.delete('fence-test');
    const second = new ArchiveLease(kv, 'fence-test', 3000, silentLogger());
    expect(await second.acquire(AbortSignal.timeout(5000))).toBe(true);
    await waitFor(() => first.lost.aborted, { what: 'the first holder noticing the takeover', timeoutMs: 5000 });
    expect(() => first.assertHeld()).toThrow(/lease expired or was taken over/);
    expect(second.held()).toBe(true);
    await first.release();
    expect((await kv.get('fence-test'))?.operation).toBe('PUT'); // releasing a lost lease must not delete the new holder's key
    await second.release();
    expect((await kv.get('fence-test'))?.operation).not.toBe('PUT');
  }, 30_000);
});
