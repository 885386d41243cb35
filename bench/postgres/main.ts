/**
 * PostgreSQL benchmarks. Run: `npx tsc -p tsconfig.build.json && npx tsx bench/postgres/main.ts [tps] [trigcpu] [drain] [latency] [rss]`
 * (all by default). Writes bench/postgres/RESULTS.md.
 * Sizes: PG_BENCH_DRAIN_ROWS, PG_BENCH_DRAIN_RUNS, PG_BENCH_TPS_RUNS,
 * PG_BENCH_TPS_SECONDS, PG_BENCH_TPS_CLIENTS, PG_BENCH_TPS_SCALE, PG_BENCH_RSS_ROWS,
 * PG_BENCH_RSS_WIDTH (characters per row: wide rows), PG_BENCH_TRIGCPU_ROUNDS, PG_BENCH_TRIGCPU_TX,
 * PG_BENCH_LAT_TPS, PG_BENCH_LAT_ROWS (row changes/s when no drain ran), PG_BENCH_LAT_ROWS_PER_TX (N-row INSERT
 * transactions instead of TPC-B), PG_BENCH_LAT_DEPLOYED=1, PG_BENCH_LAT_SECONDS, PG_BENCH_LAT_EMITTER=native.
 * PG_BENCH_DRAIN_DEPLOYED=1|flags|env runs the drained daemon with the deployed V8 and malloc settings (or one of them).
 * Profiling: PG_BENCH_NODE_ARGS (extra node flags for the daemon), PG_BENCH_DAEMON_STDOUT (file for its stdout, e.g. --trace-gc).
 * tps and trigcpu also measure the native identity emitter (built for Debian's PostgreSQL 15 from
 * native/postgres-emitter, which needs postgresql-server-dev-15); PG_BENCH_NATIVE=0 skips it.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgres } from '../../test/harness/index.js';
import { buildNativeEmitter, nativeEmitterConfig } from '../../test/harness/native-emitter.js';
import { fmt, median } from './bench-common.js';
import { drain, type DrainShape } from './drain.js';
import { peakRss, type RssResult } from './peak-rss.js';
import { latency, type LatencyResult } from './latency.js';
import { triggerCost, type TriggerCostResult } from './trigger-cost.js';
import { triggerCpu, type TriggerCpuResult } from './trigger-cpu.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const PARTS = ['tps', 'trigcpu', 'drain', 'latency', 'rss'];
const wanted = new Set(process.argv.slice(2).length > 0 ? process.argv.slice(2) : PARTS);
const unknown = [...wanted].filter((w) => !PARTS.includes(w));
if (unknown.length > 0) {
  // Before anything runs: an unknown part must not end with RESULTS.md rewritten empty.
  process.stderr.write(`unknown part(s): ${unknown.join(' ')}\nusage: npx tsx bench/postgres/main.ts [${PARTS.join('] [')}]  (PG_BENCH_OUT=FILE writes elsewhere)\n`);
  process.exit(2);
}
const SERVER_CONFIG = { max_replication_slots: '40', max_wal_senders: '20', shared_buffers: '256MB', max_wal_size: '4GB', checkpoint_timeout: '15min' };

let tps: TriggerCostResult | null = null;
let trigcpu: TriggerCpuResult | null = null;
let drains: DrainShape[] = [];
let rss: RssResult[] | null = null;
let lat: LatencyResult | null = null;

// The native emitter is measured too where it can be built (PostgreSQL 15 server headers); PG_BENCH_NATIVE=0 skips it.
// PG_BENCH_LAT_EMITTER=native runs the latency part with it (the default there is the PL/pgSQL emitter).
const latNative = process.env['PG_BENCH_LAT_EMITTER'] === 'native';
const nativeDir = (!wanted.has('tps') && !wanted.has('trigcpu') && !(wanted.has('latency') && latNative)) || process.env['PG_BENCH_NATIVE'] === '0' ? null : await buildNativeEmitter().catch((err: unknown) => {
  process.stderr.write(`  native emitter not measured: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n`);
  return null;
});
const TRIGGER_CONFIG = nativeDir === null ? SERVER_CONFIG : { ...SERVER_CONFIG, ...nativeEmitterConfig(nativeDir) };

if (wanted.has('tps')) {
  await using server = await startPostgres({ version: 15, database: 'bench', config: TRIGGER_CONFIG });
  process.stderr.write('(b) identity trigger cost\n');
  tps = await triggerCost(server, 'bench', { native: nativeDir !== null });
}
if (wanted.has('trigcpu')) {
  await using server = await startPostgres({ version: 15, database: 'bench', config: TRIGGER_CONFIG });
  process.stderr.write("(b') identity trigger cost per transaction on the server\n");
  trigcpu = await triggerCpu(server, 'bench', { native: nativeDir !== null });
}
if (wanted.has('drain')) {
  await using server = await startPostgres({ version: 15, database: 'bench', config: SERVER_CONFIG });
  process.stderr.write('(a) backlog drain\n');
  drains = await drain(server, 'bench', repoRoot);
}
if (wanted.has('latency')) {
  if (latNative && nativeDir === null) throw new Error('PG_BENCH_LAT_EMITTER=native: the native emitter could not be built (see above)');
  await using server = await startPostgres({ version: 15, database: 'bench', config: latNative ? TRIGGER_CONFIG : SERVER_CONFIG });
  // Half the drain rate of `dbwitness run` at 1 row per transaction, in row changes per second (PG_BENCH_LAT_ROWS
  // gives it without a drain run; PG_BENCH_LAT_TPS gives the transaction rate itself), in transactions of
  // 4 row changes (TPC-B) or of PG_BENCH_LAT_ROWS_PER_TX.
  const drain1 = drains.find((d) => d.rowsPerTx === 1)?.rowsPerSecond['dbwitness run'];
  const perTx = Number(process.env['PG_BENCH_LAT_ROWS_PER_TX'] ?? 0) || 4;
  const rowRate = drain1 !== undefined ? drain1 / 2 : process.env['PG_BENCH_LAT_ROWS'] !== undefined ? Number(process.env['PG_BENCH_LAT_ROWS']) : null;
  const tpsTarget = Math.max(10, Math.round(rowRate !== null ? rowRate / perTx : Number(process.env['PG_BENCH_LAT_TPS'] ?? 200)));
  process.stderr.write(`(c) commit-to-durable latency at ${tpsTarget} tps of ${perTx} row changes\n`);
  lat = await latency(server, 'bench', repoRoot, tpsTarget, { identityEmitter: latNative ? 'native' : 'plpgsql' });
}
if (wanted.has('rss')) {
  await using server = await startPostgres({ version: 15, database: 'bench', config: SERVER_CONFIG });
  process.stderr.write('(d) peak RSS of one large transaction\n');
  rss = await peakRss(server, 'bench', repoRoot);
}

const lines: string[] = [
  '# PostgreSQL benchmarks',
  '',
  `Measured ${new Date().toISOString()} on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, PostgreSQL 15 (private server, fsync on), Node ${process.version}.`,
  'The machine is shared and noisy: every number is the median of several runs, and each ratio compares against a baseline measured in the same run.',
  'Reproduce: `npx tsc -p tsconfig.build.json && npx tsx bench/postgres/main.ts [tps] [trigcpu] [drain] [latency] [rss]`.',
  '',
];
if (tps !== null) {
  lines.push(
    '## (b) Identity trigger cost (pgbench TPC-B)',
    '',
    `pgbench -M prepared -c ${tps.clients} -j 2 -T ${tps.seconds}, scale ${tps.scale}; the four pgbench tables audited (REPLICA IDENTITY FULL, publication, slot); pg_recvlogical attached as the consumer in both variants; variants alternate, ${tps.runs} runs each.`,
    '',
    '| variant | TPS (median) | runs |',
    '|---|---:|---|',
    `| triggers disabled (baseline) | ${fmt(median(tps.without))} | ${tps.without.map((x) => fmt(x)).join(', ')} |`,
    `| identity triggers enabled | ${fmt(median(tps.withTriggers))} | ${tps.withTriggers.map((x) => fmt(x)).join(', ')} |`,
    `| empty statement triggers instead (PL/pgSQL, RETURN NULL; the floor) | ${fmt(median(tps.emptyTriggers))} | ${tps.emptyTriggers.map((x) => fmt(x)).join(', ')} |`,
    ...(tps.nativeTriggers.length > 0 ? [`| native emitter's triggers instead (\`identity_emitter: native\`, C) | ${fmt(median(tps.nativeTriggers))} | ${tps.nativeTriggers.map((x) => fmt(x)).join(', ')} |`] : []),
    '',
    `**Ratio with ÷ without: ${tps.pairedRatio.toFixed(3)}** as the median of the ${tps.runs} back-to-back pair ratios (${((1 - tps.pairedRatio) * 100).toFixed(1)}% fewer TPS); ratio of the medians ${tps.ratio.toFixed(3)}. One identity message per transaction (four statements per TPC-B transaction).`,
    '',
    `Floor: empty statement triggers ÷ none, median of pair ratios, **${tps.emptyPairedRatio.toFixed(3)}**. No identity trigger built on PL/pgSQL statement triggers can cost less.`,
    '',
    ...(tps.nativePairedRatio !== null ? [`**Native emitter ÷ without: ${tps.nativePairedRatio.toFixed(3)}** (median of pair ratios; ratio of the medians ${(median(tps.nativeTriggers) / median(tps.without)).toFixed(3)}): the same message written by the C trigger function.`, ''] : []),
  );
}
if (trigcpu !== null) {
  const c = trigcpu;
  lines.push(
    "## (b') Identity trigger cost on the server, per transaction",
    '',
    `A procedure runs pgbench's TPC-B writes (4 statements) and COMMITs, ${fmt(c.txPerRound)} times per round in a new session, synchronous_commit off, pg_recvlogical attached; triggers disabled and enabled alternately, ${c.rounds} rounds each. No client round trips and no fsync waits: what the trigger adds to the server's own work.`,
    '',
    '| variant | µs per transaction (median) | rounds |',
    '|---|---:|---|',
    `| triggers disabled (baseline) | ${fmt(median(c.without), 1)} | ${c.without.map((x) => fmt(x, 1)).join(', ')} |`,
    `| identity triggers enabled | ${fmt(median(c.withTriggers), 1)} | ${c.withTriggers.map((x) => fmt(x, 1)).join(', ')} |`,
    ...(c.native.length > 0 ? [`| native emitter's triggers instead (C) | ${fmt(median(c.native), 1)} | ${c.native.map((x) => fmt(x, 1)).join(', ')} |`] : []),
    '',
    `**Added by the identity: ${fmt(c.addedMicros, 1)} µs per transaction; rate kept ${c.ratio.toFixed(3)}** (medians over rounds, each against the same round's baseline).`,
    ...(c.nativeAddedMicros !== null && c.nativeRatio !== null ? ['', `**Native emitter: ${fmt(c.nativeAddedMicros, 1)} µs per transaction; rate kept ${c.nativeRatio.toFixed(3)}.**`] : []),
    '',
  );
}
for (const d of drains) {
  const base = d.rowsPerSecond['pg_recvlogical'];
  lines.push(
    `## (a) Backlog drain: ${fmt(d.rows)} row changes, ${d.rowsPerTx} row(s) per transaction`,
    '',
    '| consumer | rows/s (median) | ratio vs pg_recvlogical | seconds per run |',
    '|---|---:|---:|---|',
    ...(['pg_recvlogical', 'dbwitness run', 'adapter only'] as const).map(
      (c) => `| ${c}${c === 'pg_recvlogical' ? ' (baseline)' : ''} | ${fmt(d.rowsPerSecond[c])} | ${(d.rowsPerSecond[c] / base).toFixed(3)} | ${d.seconds[c].map((s) => s.toFixed(2)).join(', ')} |`,
    ),
    '',
  );
}
if (drains.length > 0) {
  lines.push(
    '`dbwitness run` is timed from process start until the slot\'s confirmed_flush_lsn reaches the backlog\'s end, i.e. until every event is fsync\'d in the store (unsigned store, `--redaction keep`); it includes Node start-up (about 0.3 s). "adapter only" decodes and translates in-process without storing. pg_recvlogical writes the raw pgoutput stream to /dev/null.',
    '',
  );
}
if (rss !== null) {
  lines.push(
    `## (d) Memory for one ${fmt(rss[0]?.rows ?? 0)}-row transaction`,
    '',
    `| daemon settings | idle RSS | peak RSS (VmHWM) | peak − idle | WAL of the transaction |`,
    '|---|---:|---:|---:|---:|',
    ...rss.map((r) => `| ${settingsLabel(r)} | ${fmt(r.idleMb, 1)} MiB | ${fmt(r.peakMb, 1)} MiB | **${fmt(r.peakMb - r.idleMb, 1)} MiB** | ${fmt(r.walMb, 1)} MiB |`),
    '',
  );
}
if (lat !== null) {
  lines.push(
    '## (c) Commit-to-durable latency under steady load',
    '',
    `pgbench ${lat.load === 'tpcb' ? 'TPC-B' : `with one ${lat.rowsPerTx}-row INSERT per transaction`} at a fixed ${lat.tps} tps (-R), ${fmt(lat.tps * lat.rowsPerTx)} row changes/s${drains.length > 0 ? ' (half of the 1-row-per-transaction drain rate of `dbwitness run` measured above)' : ''}; pgbench reached ${lat.reachedTps === null ? 'an unknown rate' : `${lat.reachedTps.toFixed(0)} tps (${fmt(Math.round(lat.reachedTps * lat.rowsPerTx))} row changes/s)`}. ${lat.seconds} s, audited by \`dbwitness run\` (${lat.deployed ? "deploy/'s memory settings" : "Node's defaults"}), identity written by the ${lat.identityEmitter === 'native' ? 'native (C)' : 'PL/pgSQL'} emitter. First, recorded_at − time of each of the ${fmt(lat.events)} row events (when the store built the event's batch, before its write and fdatasync, minus the source commit; same host clock):`,
    '',
    '| events | p50 | p99 | max |',
    '|---|---:|---:|---:|',
    `| all ${fmt(lat.events)} | ${lat.p50Ms.toFixed(1)} ms | ${lat.p99Ms.toFixed(1)} ms | ${lat.maxMs.toFixed(1)} ms |`,
    `| after the first 5 s (${fmt(lat.steady.events)}) | ${lat.steady.p50Ms.toFixed(1)} ms | **${lat.steady.p99Ms.toFixed(1)} ms** | ${lat.steady.maxMs.toFixed(1)} ms |`,
    '',
    ...(lat.durable === null
      ? []
      : [
          'Up to durability (the daemon\'s `dbwitness_commit_to_durable_seconds` histogram: commit until the fdatasync is done, one observation per transaction; quantiles interpolated within buckets; the rows above take recorded_at, which is set before the write and fdatasync):',
          '',
          '| transactions | within 25 ms | p50 | p99 |',
          '|---|---:|---:|---:|',
          ...([['all', lat.durable.all], ['after the first 5 s', lat.durable.steady]] as const).map(
            ([label, d]) => `| ${label} (${fmt(d.transactions)}) | ${(100 * d.within25Ms).toFixed(2)}% | ${d.p50Ms.toFixed(1)} ms | **${d.p99Ms.toFixed(1)} ms** |`,
          ),
          '',
        ]),
    `Per ${lat.slices.length > 1 ? lat.slices[1]!.fromS - lat.slices[0]!.fromS : 5}-second slice of commit time:`,
    '',
    '| from | events | p50 | p99 | max |',
    '|---:|---:|---:|---:|---:|',
    ...lat.slices.map((x) => `| ${x.fromS} s | ${fmt(x.events)} | ${x.p50Ms.toFixed(1)} ms | ${x.p99Ms.toFixed(1)} ms | ${x.maxMs.toFixed(1)} ms |`),
    '',
  );
}
// PG_BENCH_OUT: write elsewhere (e.g. one section re-measured at another size).
const out = process.env['PG_BENCH_OUT'] ?? join(here, 'RESULTS.md');
writeFileSync(out, lines.join('\n'));
process.stderr.write(`wrote ${out}\n`);

function settingsLabel(r: RssResult): string {
  if (r.flags.length === 0 && Object.keys(r.env).length === 0) return "Node's defaults";
  const env = Object.entries(r.env).map(([k, v]) => `${k}=${v}`);
  return `\`${[...env, ...r.flags].join(' ')}\`${env.length > 0 ? ' (as deployed)' : ' (V8 limits only)'}`;
}
