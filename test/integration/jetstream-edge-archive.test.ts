/**
 * Edge pipeline -> real JetStream (private nats-server -js) -> archiver ->
 * real file store: every change stored once, chain valid and sealed with a
 * signing key, the edge's checkpoint read back from JetStream, republishing
 * deduplicated by the server, and a restarted archiver adding nothing twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'nats';
import { silentLogger } from '../../src/core/logger.js';
import type { AuditEvent } from '../../src/core/event.js';
import { runPipeline } from '../../src/pipeline/index.js';
import { generateSigningKeyPair, openStore } from '../../src/store/index.js';
import { ArchiveConfig, JetStreamOutputConfig, openJetStreamStore, runArchiver, type ArchiverStats } from '../../src/jetstream/index.js';
import { runCli, startNats, tempDir, waitFor, type NatsServer } from '../harness/index.js';
import { ScriptedSource } from './fixtures/jetstream-scripted-source.js';
import { assertChainValid, exactlyOnceProblems, readChain, setupNats } from './jetstream-helpers.js';

const TX = 120;
const PER_TX = 3;

describe('JetStream edge -> archive', () => {
  let nats: NatsServer;
  let storeDir: string;
  let keyFile: string;

  beforeAll(async () => {
    nats = await startNats();
    await setupNats(nats.url());
    const dir = await tempDir('js-archive-');
    storeDir = join(dir, 'store');
    keyFile = join(dir, 'store-key.pem');
    await writeFile(keyFile, generateSigningKeyPair().privatePem, { mode: 0o600 });
  });
  afterAll(async () => {
    await nats?.close();
  });

  async function archiveUntil(events: number): Promise<ArchiverStats> {
    const stop = new AbortController();
    const config = ArchiveConfig.parse({ servers: nats.url(), lease_ttl: '3s', batch: 50 });
    const run = runArchiver({ config, openStore: () => openStore(storeDir, { signingKeyFile: keyFile }), logger: silentLogger(), signal: stop.signal });
    try {
      await waitFor(async () => (await readChain(storeDir, 'edge-a')).length >= events, { what: `${events} archived events`, timeoutMs: 30_000 });
    } finally {
      stop.abort();
    }
    return run;
  }

  it('publishes, acknowledges only after JetStream, and archives every change once', async () => {
    const output = JetStreamOutputConfig.parse({ kind: 'jetstream', servers: [nats.url()] });
    const store = await openJetStreamStore({ config: output });
    const chain = await store.openChain(new ScriptedSource({ id: 'edge-a', transactions: 0, changesPerTx: 0 }).source);
    expect(chain.checkpoint()).toBeNull();
    const source = new ScriptedSource({ id: 'edge-a', transactions: TX, changesPerTx: PER_TX });
    const receipts: AuditEvent[] = [];
    const stop = new AbortController();
    const piping = runPipeline({ source, chain, logger: silentLogger(), signal: stop.signal, batchMaxEvents: 40, onDurable: (e) => receipts.push(...e) });
    await waitFor(() => source.acknowledged === TX, { what: 'the last transaction acknowledged' });
    stop.abort();
    await piping;
    await store.close();

    // Receipts carry the stream sequence: unique, increasing, one per event.
    expect(receipts).toHaveLength(TX * PER_TX);
    const seqs = receipts.map((r) => r.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);

    // The stream holds exactly the events; the checkpoint is read back on open.
    const nc = await connect({ servers: nats.url() });
    const jsm = await nc.jetstreamManager();
    expect((await jsm.streams.info('DBWITNESS')).state.messages).toBe(TX * PER_TX);
    const reopened = await openJetStreamStore({ config: output });
    const once = await reopened.openChain(source.source);
    await expect(reopened.openChain(source.source)).rejects.toMatchObject({ code: 'E_STORE_CHAIN_OPEN' });
    // A closed chain can be opened again (a supervisor retrying the source does this).
    await once.close();
    const again = await reopened.openChain(source.source);
    expect(again.checkpoint()?.checkpoint).toBe(String(TX));

    // A replay from the beginning (lost checkpoint) is dropped by the server's duplicate window.
    const replay = new ScriptedSource({ id: 'edge-a', transactions: TX, changesPerTx: PER_TX });
    const dupReceipts: AuditEvent[] = [];
    const stop2 = new AbortController();
    // The same chain, but claiming no checkpoint: the pipeline replays from the first transaction.
    const forged = { source: again.source, checkpoint: () => null, tail: () => null, head: () => again.head(), append: again.append.bind(again), close: again.close.bind(again) };
    const piping2 = runPipeline({ source: replay, chain: forged, logger: silentLogger(), signal: stop2.signal, onDurable: (e) => dupReceipts.push(...e) });
    await waitFor(() => replay.acknowledged === TX, { what: 'the replay acknowledged' });
    stop2.abort();
    await piping2;
    await reopened.close();
    expect((await jsm.streams.info('DBWITNESS')).state.messages).toBe(TX * PER_TX);
    expect(dupReceipts.map((r) => r.seq)).toEqual(seqs);
    expect(again.stats.duplicates).toBe(TX * PER_TX);
    await nc.close();

    // Central archive: signed store, one chain, every change once, valid hashes.
    const stats = await archiveUntil(TX * PER_TX);
    expect(stats.appended).toBe(TX * PER_TX);
    const events = await readChain(storeDir, 'edge-a');
    assertChainValid(events);
    expect(exactlyOnceProblems(events, TX, PER_TX)).toEqual([]);
    // Transaction order survives: positions never go backwards along the chain.
    const txIds = events.filter((e) => e.action === 'insert').map((e) => Number(e.tx!.id));
    expect([...txIds].sort((a, b) => a - b)).toEqual(txIds);
  }, 90_000);

  it('names a missing stream or bucket and how to create it', async () => {
    await expect(openJetStreamStore({ config: JetStreamOutputConfig.parse({ kind: 'jetstream', servers: nats.url(), stream: 'NOPE' }) })).rejects.toMatchObject({ code: 'E_JETSTREAM_NO_STREAM', fix: expect.stringContaining('dbwitness setup nats') });
    await expect(openJetStreamStore({ config: JetStreamOutputConfig.parse({ kind: 'jetstream', servers: nats.url(), checkpoint_bucket: 'nope' }) })).rejects.toMatchObject({ code: 'E_JETSTREAM_NO_BUCKET' });
    const stop = new AbortController();
    const config = ArchiveConfig.parse({ servers: nats.url(), lease_bucket: 'nope' });
    await expect(runArchiver({ config, openStore: () => openStore(storeDir, { signingKeyFile: keyFile }), logger: silentLogger(), signal: stop.signal })).rejects.toMatchObject({ code: 'E_JETSTREAM_NO_BUCKET' });
  });

  it('refuses an event above the server\'s max_payload with a clear error instead of stalling', async () => {
    const output = JetStreamOutputConfig.parse({ kind: 'jetstream', servers: [nats.url()] });
    const store = await openJetStreamStore({ config: output });
    const chain = await store.openChain({ id: 'edge-big', engine: 'postgres', server: 'db:5432', database: 'clinic' });
    const big = 'x'.repeat(1024 * 1024 + 10);
    const draft = { v: 1 as const, id: 'bb'.repeat(16), time: '2026-11-26T10:00:00.000001Z', source: chain.source, position: '0/2', tx: null, actor: { db_user: null, role: null, app_user: null, client_addr: null, client_port: null, application: null, session_id: null, identity: 'unattributed' as const }, action: 'insert' as const, outcome: 'success' as const, object: null, subject: null, changes: { columns: ['doc'], before: null, after: { doc: big } }, statement: null, detail: null };
    // The pipeline issues the next append before the previous one resolved:
    // the one queued behind the failure must not publish or store its checkpoint.
    const small = { ...draft, id: 'cc'.repeat(16), position: '0/3', changes: { columns: ['doc'], before: null, after: { doc: 'small' } } };
    const [err, laterErr] = await Promise.all([chain.append([draft], 'cp').catch((e: unknown) => e), chain.append([small], 'cp-later').catch((e: unknown) => e)]);
    expect(err).toMatchObject({ code: 'E_JETSTREAM_EVENT_TOO_LARGE' });
    expect((err as Error).message).not.toContain('xxxx');
    expect(laterErr).toMatchObject({ code: 'E_JETSTREAM_FAILED' });
    expect(chain.checkpoint()).toBeNull();
    await store.close();
  });

  it('dbwitness archive exits 2 with the store problem instead of retrying it forever', async () => {
    const r = await runCli(['archive', '--from', nats.url(), '--store', join(await tempDir('js-cli-'), 'store'), '--lease-ttl', '3s'], { timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('E_STORE_NO_SIGNING_KEY');
    const help = await runCli(['archive', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--lease-name');
  }, 40_000);

  it('a restarted archiver resumes after its acknowledged floor and stores nothing twice', async () => {
    // Everything is archived and acknowledged: a new archiver acquires the lease, resets, finds nothing.
    const output = JetStreamOutputConfig.parse({ kind: 'jetstream', servers: [nats.url()] });
    const store = await openJetStreamStore({ config: output });
    const source = new ScriptedSource({ id: 'edge-a', transactions: TX + 10, changesPerTx: PER_TX });
    const chain = await store.openChain(source.source);
    const stop = new AbortController();
    const piping = runPipeline({ source, chain, logger: silentLogger(), signal: stop.signal });
    await waitFor(() => source.acknowledged === TX + 10, { what: 'ten more transactions acknowledged' });
    stop.abort();
    await piping;
    await store.close();
    expect(source.yielded).toBe(10); // resumed after the checkpoint read back from JetStream

    const stats = await archiveUntil((TX + 10) * PER_TX);
    expect(stats.appended).toBe(10 * PER_TX);
    const events = await readChain(storeDir, 'edge-a');
    assertChainValid(events);
    expect(exactlyOnceProblems(events, TX + 10, PER_TX)).toEqual([]);
  }, 90_000);
});
