/**
 * JetStream benchmark: `npx tsx bench/jetstream/run.ts [--runs N] [--tx N] [--per-tx N] [--paced-tps N]`
 *
 * Same workload (a scripted source of N transactions of K row changes,
 * through the real pipeline) into:
 *   local  the file store directly (signed, fsync'd group commit): the baseline;
 *   js     the JetStream output (private nats-server -js, R1) with the
 *          archiver (`dbwitness archive`, its own process as in production,
 *          from dist/: build first) running at the same time, writing a
 *          signed file store.
 * 1. Throughput: events/s until the last event is durable in the local store
 *    (baseline) vs until it is durable in the archive (end to end), and the
 *    edge alone (until the source's last transaction is acknowledged).
 * 2. Latency: the source paced at --paced-tps; the duration of every
 *    `Chain.append` (commit handed over -> durable, i.e. when the database may
 *    be acknowledged), p50/p99, local vs edge.
 * Runs alternate local/js; medians are reported, because the machine is shared.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AuditEvent, DraftEvent } from '../../src/core/event.js';
import { silentLogger } from '../../src/core/logger.js';
import type { AuditStore, Chain } from '../../src/core/ports.js';
import { connect } from 'nats';
import { runPipeline } from '../../src/pipeline/index.js';
import { generateSigningKeyPair, openStore, readEvents } from '../../src/store/index.js';
import { JetStreamOutputConfig, openJetStreamStore } from '../../src/jetstream/index.js';
import { cliEntry, startNats, tempDir, waitFor } from '../../test/harness/index.js';
import { ScriptedSource } from '../../test/integration/fixtures/jetstream-scripted-source.js';
import { setupNats } from '../../test/integration/jetstream-helpers.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, tx: { type: 'string', default: '4000' }, 'per-tx': { type: 'string', default: '4' }, 'paced-tps': { type: 'string', default: '300' }, 'paced-seconds': { type: 'string', default: '5' } } });
const RUNS = Number(values.runs);
const TX = Number(values.tx);
const PER_TX = Number(values['per-tx']);
const PACED_TPS = Number(values['paced-tps']);
const PACED_TX = PACED_TPS * Number(values['paced-seconds']);

const base = await tempDir('bench-js-');
const keyFile = join(base, 'key.pem');
await writeFile(keyFile, generateSigningKeyPair().privatePem, { mode: 0o600 });
const nats = await startNats();
const nc = await connect({ servers: nats.url() });
const jsm = await nc.jetstreamManager();

interface Sample {
  seconds: number;
  edgeSeconds: number;
  latencies: number[];
}

/** Times every append of the chain (ms). */
function timed(chain: Chain, into: number[]): Chain {
  return {
    source: chain.source,
    head: () => chain.head(),
    checkpoint: () => chain.checkpoint(),
    tail: () => chain.tail(),
    close: () => chain.close(),
    append: async (drafts: readonly DraftEvent[], cp?: string): Promise<readonly AuditEvent[]> => {
      const t = performance.now();
      const r = await chain.append(drafts, cp);
      into.push(performance.now() - t);
      return r;
    },
  };
}

async function countEvents(dir: string): Promise<number> {
  let n = 0;
  try {
    for await (const _ of readEvents(dir)) n++;
  } catch {
    return 0;
  }
  return n;
}

let runNo = 0;

async function runOnce(kind: 'local' | 'js', tx: number, tps: number | undefined): Promise<Sample> {
  runNo++;
  const id = `bench-${runNo}`;
  const storeDir = join(base, `store-${runNo}`);
  const latencies: number[] = [];
  const source = new ScriptedSource({ id, transactions: tx, changesPerTx: PER_TX, ...(tps ? { txPerSecond: tps } : {}) });
  const stop = new AbortController();
  let store: AuditStore;
  let archiver: ReturnType<typeof spawn> | null = null;
  let stream = '';
  if (kind === 'local') {
    store = await openStore(storeDir, { signingKeyFile: keyFile });
  } else {
    stream = `BENCH${runNo}`;
    await setupNats(nats.url(), { stream, subject_prefix: `bench${runNo}`, consumer: `arch${runNo}`, checkpoint_bucket: `cp${runNo}`, lease_bucket: `lease${runNo}`, duplicate_window: '2m' });
    store = await openJetStreamStore({ config: JetStreamOutputConfig.parse({ kind: 'jetstream', servers: nats.url(), stream, subject_prefix: `bench${runNo}`, checkpoint_bucket: `cp${runNo}` }) });
    archiver = spawn(process.execPath, [cliEntry, 'archive', '--from', nats.url(), '--stream', stream, '--subject-prefix', `bench${runNo}`, '--consumer', `arch${runNo}`, '--store', storeDir, '--signing-key', keyFile, '--lease-bucket', `lease${runNo}`, '--lease-name', 'bench', '--lease-ttl', '3s', '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] });
    // Started before the clock: its process start and lease are not part of the workload.
    const leases = await nc.jetstream().views.kv(`lease${runNo}`, { bindOnly: true });
    await waitFor(async () => (await leases.get('bench'))?.operation === 'PUT', { what: 'the archiver holding its lease', timeoutMs: 30_000 });
  }
  const chain = timed(await store.openChain(source.source), latencies);
  const t0 = performance.now();
  const piping = runPipeline({ source, chain, logger: silentLogger(), signal: stop.signal });
  await waitFor(() => source.acknowledged === tx, { what: 'all acknowledged', timeoutMs: 600_000, intervalMs: 5 });
  const edgeSeconds = (performance.now() - t0) / 1000;
  if (kind === 'js') {
    const last = (await jsm.streams.info(stream)).state.last_seq;
    // Acknowledged by the archiver = fsync'd in the archive.
    await waitFor(async () => (await jsm.consumers.info(stream, `arch${runNo}`)).ack_floor.stream_seq >= last, { what: 'all archived', timeoutMs: 600_000, intervalMs: 10 });
  }
  const seconds = (performance.now() - t0) / 1000;
  stop.abort();
  await piping;
  await store.close();
  if (archiver !== null) {
    const exited = new Promise((r) => archiver!.once('exit', r));
    archiver.kill('SIGTERM');
    await exited;
  }
  if (kind === 'js') {
    if ((await countEvents(storeDir)) !== tx * PER_TX) throw new Error(`run ${runNo}: the archive does not hold exactly ${tx * PER_TX} events`);
    await jsm.streams.delete(stream);
  }
  return { seconds, edgeSeconds, latencies };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const events = TX * PER_TX;
const thr = { local: [] as number[], js: [] as number[], edge: [] as number[] };
const lat = { localP50: [] as number[], localP99: [] as number[], jsP50: [] as number[], jsP99: [] as number[] };
try {
  for (let r = 0; r < RUNS; r++) {
    const l = await runOnce('local', TX, undefined);
    const j = await runOnce('js', TX, undefined);
    thr.local.push(events / l.seconds);
    thr.js.push(events / j.seconds);
    thr.edge.push(events / j.edgeSeconds);
    const lp = await runOnce('local', PACED_TX, PACED_TPS);
    const jp = await runOnce('js', PACED_TX, PACED_TPS);
    lat.localP50.push(pct(lp.latencies, 50));
    lat.localP99.push(pct(lp.latencies, 99));
    lat.jsP50.push(pct(jp.latencies, 50));
    lat.jsP99.push(pct(jp.latencies, 99));
    if (process.env.BENCH_DEBUG) console.log("slow js appends (index, ms):", JSON.stringify(jp.latencies.map((v, i) => [i, Math.round(v)]).filter(([, v]) => v! > 50)), "of", jp.latencies.length);
    console.log(`run ${r + 1}: local ${Math.round(events / l.seconds)} ev/s, js end-to-end ${Math.round(events / j.seconds)} ev/s (edge ${Math.round(events / j.edgeSeconds)}); append p99 local ${pct(lp.latencies, 99).toFixed(2)} ms, edge ${pct(jp.latencies, 99).toFixed(2)} ms`);
  }
  const m = { local: median(thr.local), js: median(thr.js), edge: median(thr.edge) };
  console.log(`\nworkload: ${TX} transactions x ${PER_TX} changes = ${events} events; ${RUNS} runs, medians`);
  console.log(`throughput  local store (baseline) ${Math.round(m.local)} ev/s | JetStream end to end ${Math.round(m.js)} ev/s (ratio ${(m.js / m.local).toFixed(2)}) | edge publish ${Math.round(m.edge)} ev/s (ratio ${(m.edge / m.local).toFixed(2)})`);
  console.log(`latency at ${PACED_TPS} tx/s (commit -> durable, per append)  local p50 ${median(lat.localP50).toFixed(2)} ms p99 ${median(lat.localP99).toFixed(2)} ms | edge p50 ${median(lat.jsP50).toFixed(2)} ms p99 ${median(lat.jsP99).toFixed(2)} ms | added p99 ${(median(lat.jsP99) - median(lat.localP99)).toFixed(2)} ms`);
} finally {
  await nc.close();
  await nats.close();
}
