/**
 * Store benchmark: `npx tsx bench/store/run.ts [--runs N] [--batches N] [--verify-events N] [--small-commit-events N]`
 *
 * 1. Append: events/s through chain.append with fsync'd group commit, batches
 *    of 1,000 events, vs the baseline of appending the same bytes with
 *    FileHandle.appendFile and one fdatasync per batch. Runs alternate
 *    (baseline, store, baseline, ...) and medians are compared, because the
 *    machine is shared and noisy.
 *    Also with two appends in flight (the next batch is serialized and
 *    hashed while the previous one is being fsync'd).
 *    And a second reference: JSON.stringify each draft (no key sorting, no
 *    hash) + appendFile + fdatasync, the cheapest serialization possible.
 * 2. Concurrency: 1,000 concurrent single-event appends: events per fsync.
 * 3. Verify: events/s of verifyStore over a store of N events, vs a floor
 *    baseline (read the files and SHA-256 every line) and a naive verifier
 *    (JSON.parse + canonical re-serialization + SHA-256 per line).
 * 4. Verify of a store written one event per commit (a signed head record
 *    per event, as at low load).
 */
import { mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventHash } from '../../src/core/canonical.js';
import type { AuditEvent, DraftEvent } from '../../src/core/event.js';
import { GENESIS_HASH } from '../../src/core/event.js';
import { openStore } from '../../src/store/index.js';
import { buildEvent } from '../../src/store/event-line.js';
import { generateSigningKeyPair } from '../../src/store/keys.js';
import { readLineBatches } from '../../src/store/line-reader.js';
import { verifyStore } from '../../src/store/verify-store.js';
import { BENCH_SOURCE, benchDraft } from './fixture.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i] as string, process.argv[i + 1] as string);
const RUNS = Number(args.get('--runs') ?? 5);
const BATCHES = Number(args.get('--batches') ?? 20);
const BATCH = 1000;
const VERIFY_EVENTS = Number(args.get('--verify-events') ?? 200_000);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

const root = await mkdtemp(join(tmpdir(), 'dbw-bench-store-'));
const keys = generateSigningKeyPair();
const keyFile = join(root, 'key.pem');
await writeFile(keyFile, keys.privatePem, { mode: 0o600 });

const total = BATCHES * BATCH;
const drafts: DraftEvent[] = Array.from({ length: total }, (_, i) => benchDraft(i));
// Baseline bytes: exactly the event lines the store writes (same events, same hashes).
const batchBytes: Buffer[] = [];
{
  let prev = GENESIS_HASH;
  for (let b = 0; b < BATCHES; b++) {
    const lines: string[] = [];
    for (let k = 0; k < BATCH; k++) {
      const built = buildEvent(drafts[b * BATCH + k] as DraftEvent, b * BATCH + k + 1, '2026-11-26T10:00:00.000000Z', prev);
      prev = built.event.hash;
      lines.push(built.line);
    }
    batchBytes.push(Buffer.from(lines.join('\n') + '\n'));
  }
}
const bytesPerEvent = batchBytes.reduce((a, b) => a + b.length, 0) / total;

async function baselineRun(n: number): Promise<number> {
  const file = join(root, `baseline-${n}.jsonl`);
  const fh = await open(file, 'a', 0o600);
  const t0 = process.hrtime.bigint();
  for (const buf of batchBytes) {
    await fh.appendFile(buf);
    await fh.datasync();
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await fh.close();
  await rm(file);
  return total / s;
}

/** Cheapest serialization: JSON.stringify each draft (no sorting, no hash) + appendFile + fdatasync per batch. */
async function stringifyRun(n: number): Promise<number> {
  const file = join(root, `stringify-${n}.jsonl`);
  const fh = await open(file, 'a', 0o600);
  const t0 = process.hrtime.bigint();
  for (let b = 0; b < BATCHES; b++) {
    let text = '';
    for (let k = b * BATCH; k < (b + 1) * BATCH; k++) text += JSON.stringify(drafts[k]) + '\n';
    await fh.appendFile(text);
    await fh.datasync();
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await fh.close();
  await rm(file);
  return total / s;
}

/**
 * JSON.stringify of every draft and nothing else: no sorting, no hash, no
 * I/O. A store that must serialize each event on its thread cannot append
 * faster than this, however well it overlaps its writes.
 */
function stringifyOnly(): number {
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  for (const d of drafts) bytes += JSON.stringify(d).length;
  if (bytes === 0) throw new Error('unreachable');
  return total / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function storeRun(n: number): Promise<{ rate: number; fsyncs: number }> {
  const dir = join(root, `store-${n}`);
  const store = await openStore(dir, { signingKeyFile: keyFile });
  const chain = await store.openChain(BENCH_SOURCE);
  const t0 = process.hrtime.bigint();
  for (let b = 0; b < BATCHES; b++) await chain.append(drafts.slice(b * BATCH, (b + 1) * BATCH), `cp-${b}`);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const fsyncs = chain.stats.fsyncs;
  await store.close();
  await rm(dir, { recursive: true });
  return { rate: total / s, fsyncs };
}

/** Two appends in flight, as a pipeline that reads ahead while the previous batch syncs. */
async function pipelinedRun(n: number): Promise<number> {
  const dir = join(root, `pipe-${n}`);
  const store = await openStore(dir, { signingKeyFile: keyFile });
  const chain = await store.openChain(BENCH_SOURCE);
  const t0 = process.hrtime.bigint();
  let inflight: Promise<unknown> | null = null;
  for (let b = 0; b < BATCHES; b++) {
    const p = chain.append(drafts.slice(b * BATCH, (b + 1) * BATCH), `cp-${b}`);
    if (inflight !== null) await inflight;
    inflight = p;
  }
  await inflight;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await store.close();
  await rm(dir, { recursive: true });
  return total / s;
}

async function concurrencyRun(): Promise<{ eventsPerFsync: number; rate: number }> {
  const dir = join(root, 'store-concurrent');
  const store = await openStore(dir, { signingKeyFile: keyFile });
  const chain = await store.openChain(BENCH_SOURCE);
  const n = 20_000;
  const t0 = process.hrtime.bigint();
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    inflight.push(chain.append([drafts[i] as DraftEvent], `cp-${i}`));
    if (inflight.length >= 1000) await inflight.shift();
  }
  await Promise.all(inflight);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const r = { eventsPerFsync: n / chain.stats.fsyncs, rate: n / s };
  await store.close();
  await rm(dir, { recursive: true });
  return r;
}

/** Runs `f` and records CPU microseconds (user + system) per event into `into`. */
async function cpu<T>(into: number[], f: () => Promise<T>): Promise<T> {
  const c0 = process.cpuUsage();
  const r = await f();
  const c = process.cpuUsage(c0);
  into.push((c.user + c.system) / total);
  return r;
}

// --- append ---------------------------------------------------------------
const base: number[] = [];
const mine: number[] = [];
const piped: number[] = [];
const strung: number[] = [];
const serializeOnly: number[] = [];
const cpuBase: number[] = [];
const cpuMine: number[] = [];
const cpuStrung: number[] = [];
let fsyncsPerRun = 0;
await baselineRun(-1); // warm-up (page cache, JIT)
await storeRun(-1);
for (let r = 0; r < RUNS; r++) {
  base.push(await cpu(cpuBase, () => baselineRun(r)));
  const s = await cpu(cpuMine, () => storeRun(r));
  mine.push(s.rate);
  fsyncsPerRun = s.fsyncs;
  piped.push(await pipelinedRun(r));
  strung.push(await cpu(cpuStrung, () => stringifyRun(r)));
  serializeOnly.push(stringifyOnly());
}
const conc = await concurrencyRun();

// --- verify ---------------------------------------------------------------
const vdir = join(root, 'verify-store');
{
  const store = await openStore(vdir, { signingKeyFile: keyFile, segmentMaxBytes: 64 * 1024 * 1024 });
  const chain = await store.openChain(BENCH_SOURCE);
  for (let i = 0; i < VERIFY_EVENTS; i += BATCH) {
    const slice = Array.from({ length: Math.min(BATCH, VERIFY_EVENTS - i) }, (_, k) => benchDraft(i + k));
    await chain.append(slice, `cp-${i}`);
  }
  await store.close();
}
const chainDir = join(vdir, BENCH_SOURCE.id);
const segFiles = (await readdir(chainDir)).filter((f) => f.endsWith('.jsonl')).sort().map((f) => join(chainDir, f));

async function floorRun(): Promise<number> {
  const t0 = process.hrtime.bigint();
  let n = 0;
  for (const f of segFiles) for await (const batch of readLineBatches(f)) for (const l of batch) {
    createHash('sha256').update(l.bytes).digest('hex');
    n++;
  }
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}
async function naiveRun(): Promise<number> {
  const t0 = process.hrtime.bigint();
  let n = 0;
  let prev = GENESIS_HASH;
  for (const f of segFiles) for await (const batch of readLineBatches(f)) for (const l of batch) {
    const v = JSON.parse(l.bytes.toString('utf8')) as AuditEvent & { '@'?: string };
    if (v['@'] !== undefined) continue;
    if (v.prev !== prev || eventHash(v) !== v.hash) throw new Error('naive verify failed');
    prev = v.hash;
    n++;
  }
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}
/** Events per CPU-second of this process (user + system): less distorted than wall time on a shared machine. */
let lastVerifyCpuRate = 0;
async function verifyRun(): Promise<number> {
  const c0 = process.cpuUsage();
  const r = await verifyStore(vdir);
  const c = process.cpuUsage(c0);
  if (!r.ok) throw new Error('bench store does not verify');
  lastVerifyCpuRate = r.events / ((c.user + c.system) / 1e6);
  return r.events / r.seconds;
}
const vFloor: number[] = [];
const vNaive: number[] = [];
const vMine: number[] = [];
const vMineCpu: number[] = [];
await verifyRun();
for (let r = 0; r < RUNS; r++) {
  vFloor.push(await floorRun());
  vMine.push(await verifyRun());
  vMineCpu.push(lastVerifyCpuRate);
  vNaive.push(await naiveRun());
}
// --- verify, small commits -------------------------------------------------
// A store written at low load: one event per group commit, so one signed
// head record (and one checkpoint record) per event. Segments of 4 MiB,
// so most of them are sealed, as most of a real store is.
const SMALL_EVENTS = Number(args.get('--small-commit-events') ?? 20_000);
const sdir = join(root, 'verify-small-commits');
{
  const store = await openStore(sdir, { signingKeyFile: keyFile, segmentMaxBytes: 4 * 1024 * 1024 });
  const chain = await store.openChain(BENCH_SOURCE);
  for (let i = 0; i < SMALL_EVENTS; i++) await chain.append([benchDraft(i)], `cp-${i}`);
  await store.close();
}
const vSmall: number[] = [];
let smallSealed = 0;
for (let r = 0; r < RUNS; r++) {
  const v = await verifyStore(sdir);
  if (!v.ok) throw new Error('small-commit bench store does not verify');
  vSmall.push(v.events / v.seconds);
  smallSealed = v.sources[0]?.sealed ?? 0;
}
await rm(root, { recursive: true, force: true });

const out = {
  date: new Date().toISOString(),
  loadavg: loadavg(),
  node: process.version,
  runs: RUNS,
  append: {
    events: total,
    batch: BATCH,
    bytesPerEvent: Math.round(bytesPerEvent),
    baselineEventsPerSec: median(base),
    storeEventsPerSec: median(mine),
    ratio: median(mine) / median(base),
    stringifyEventsPerSec: median(strung),
    stringifyOnlyEventsPerSec: median(serializeOnly),
    /** The ratio no store that serializes each event on one thread can pass: JSON.stringify alone ÷ the baseline. */
    serializingStoreBound: Math.min(1, median(serializeOnly) / median(base)),
    pipelinedEventsPerSec: median(piped),
    pipelinedRatio: median(piped) / median(base),
    fsyncsPerRun,
    cpuMicrosPerEvent: { baseline: median(cpuBase), store: median(cpuMine), stringify: median(cpuStrung) },
    all: { baseline: base.map(Math.round), store: mine.map(Math.round), pipelined: piped.map(Math.round), stringify: strung.map(Math.round) },
  },
  concurrency: conc,
  verify: {
    events: VERIFY_EVENTS,
    storeEventsPerSec: median(vMine),
    storeEventsPerCpuSec: median(vMineCpu),
    floorEventsPerSec: median(vFloor),
    naiveEventsPerSec: median(vNaive),
    all: { store: vMine.map(Math.round), floor: vFloor.map(Math.round), naive: vNaive.map(Math.round) },
  },
  verifySmallCommits: { events: SMALL_EVENTS, sealedSegments: smallSealed, storeEventsPerSec: median(vSmall), all: vSmall.map(Math.round) },
};
console.log(JSON.stringify(out, null, 2));
console.log(`
append (batches of ${BATCH}, ${Math.round(bytesPerEvent)} B/event, median of ${RUNS}):
  baseline appendFile+fdatasync : ${fmt(out.append.baselineEventsPerSec)} events/s
  store chain.append, awaited   : ${fmt(out.append.storeEventsPerSec)} events/s  ratio ${out.append.ratio.toFixed(2)} (target >= 0.80)
  store, 2 appends in flight    : ${fmt(out.append.pipelinedEventsPerSec)} events/s  ratio ${out.append.pipelinedRatio.toFixed(2)}
  JSON.stringify+append+fsync   : ${fmt(out.append.stringifyEventsPerSec)} events/s  (cheapest possible serialization; store/this ${(out.append.storeEventsPerSec / out.append.stringifyEventsPerSec).toFixed(2)})
  JSON.stringify alone, no I/O  : ${fmt(out.append.stringifyOnlyEventsPerSec)} events/s  (bound for any store that serializes each event on one thread: ratio <= ${out.append.serializingStoreBound.toFixed(2)})
  CPU us/event (median)         : baseline ${out.append.cpuMicrosPerEvent.baseline.toFixed(2)}, stringify ${out.append.cpuMicrosPerEvent.stringify.toFixed(2)}, store ${out.append.cpuMicrosPerEvent.store.toFixed(2)}
concurrent single-event appends : ${conc.eventsPerFsync.toFixed(0)} events per fsync, ${fmt(conc.rate)} events/s
verify (${fmt(VERIFY_EVENTS)} events, median of ${RUNS}):
  store verify                  : ${fmt(out.verify.storeEventsPerSec)} events/s wall, ${fmt(out.verify.storeEventsPerCpuSec)} events per CPU-second (target >= 300,000/s)
  floor (read + sha256 per line): ${fmt(out.verify.floorEventsPerSec)} events/s  ratio ${(out.verify.storeEventsPerSec / out.verify.floorEventsPerSec).toFixed(2)}
  naive (JSON.parse + canonical): ${fmt(out.verify.naiveEventsPerSec)} events/s  ratio ${(out.verify.storeEventsPerSec / out.verify.naiveEventsPerSec).toFixed(2)}
verify, one event per commit (${fmt(SMALL_EVENTS)} events, a signed head each, ${smallSealed} sealed segments of 4 MiB and the open one):
  store verify                  : ${fmt(out.verifySmallCommits.storeEventsPerSec)} events/s wall  (${(out.verifySmallCommits.storeEventsPerSec / out.verify.storeEventsPerSec).toFixed(2)} of the batched store's rate)`);
