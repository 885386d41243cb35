/**
 * (c) Commit-to-durable latency under steady load: pgbench at a fixed rate
 * (-R) while `dbwitness run` audits the four pgbench tables. Each event
 * carries the source commit time (`time`) and `recorded_at`, which the
 * store sets when it builds the batch, just before its write and
 * fdatasync; their difference is reported as p50/p99 over all events. The latency up to durability itself comes from the daemon's
 * commit-to-durable histogram, read from /metrics before and after.
 *
 * The load is TPC-B (4 row changes per transaction), or with
 * PG_BENCH_LAT_ROWS_PER_TX=N a script of one N-row INSERT per transaction:
 * the same row-change rate in fewer transactions, for a machine whose
 * pgbench cannot reach the TPC-B rate asked for (every transaction costs
 * the server a commit and a client round trip on the same two cores).
 */
import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgServer } from '../../test/harness/index.js';
import { freePort, tempDir, waitFor } from '../../test/harness/index.js';
import { applySetup, pgConfig } from '../../test/integration/postgres-fixture.js';
import { readEvents } from '../../src/store/reader.js';
import { benchNodeArgs, DEPLOYED_ENV, DEPLOYED_NODE_FLAGS, env, exited, PGBENCH_TABLES, run, sql, waitConfirmed, currentLsn } from './bench-common.js';

export interface LatencyResult {
  tps: number;
  /** Row changes per transaction: 4 for TPC-B, else the N of PG_BENCH_LAT_ROWS_PER_TX. */
  rowsPerTx: number;
  /** TPC-B, or one N-row INSERT per transaction. */
  load: 'tpcb' | 'insert';
  /** What pgbench reported it reached (it falls behind -R when the machine cannot keep up). */
  reachedTps: number | null;
  /** `dbwitness run` with deploy/'s memory settings (PG_BENCH_LAT_DEPLOYED=1) or Node's defaults. */
  deployed: boolean;
  /** What wrote the identity messages on the source (PG_BENCH_LAT_EMITTER). */
  identityEmitter: 'plpgsql' | 'native';
  seconds: number;
  events: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** p50/p99/max per slice of commit time (5 s; PG_BENCH_LAT_SLICE_S): tells a warm-up or a stall from a steady tail. */
  slices: { fromS: number; events: number; p50Ms: number; p99Ms: number; maxMs: number }[];
  /** p50/p99 of events committed after the first 5 s (the daemon's code is optimized by then). */
  steady: { events: number; p50Ms: number; p99Ms: number; maxMs: number };
  /**
   * The same up to durability: the daemon's dbwitness_commit_to_durable_seconds
   * histogram (commit until fdatasync done, one observation per transaction),
   * over the whole run and after its first 5 s. recorded_at is set when a
   * batch is built, before its write and fdatasync, so the figures above
   * stop short of durability; these do not.
   */
  durable: { all: DurableSummary; steady: DurableSummary } | null;
}

export interface DurableSummary {
  transactions: number;
  /** Share of transactions durable within 25 ms (exact: 0.025 is a bucket bound). */
  within25Ms: number;
  /** Interpolated within buckets, as Prometheus' histogram_quantile does. */
  p50Ms: number;
  p99Ms: number;
}

const DURABLE_METRIC = 'dbwitness_commit_to_durable_seconds';

/** Cumulative bucket counts (le in seconds -> count) of the daemon's histogram for source `lat`. */
async function durableBuckets(port: number): Promise<Map<number, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<number, number>();
  const re = new RegExp(`^${DURABLE_METRIC}_bucket\\{le="([^"]+)",source="lat"\\} (\\S+)$`, 'gm');
  for (const m of text.matchAll(re)) out.set(m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2]));
  return out;
}

function summarize(end: Map<number, number>, start: Map<number, number> | null): DurableSummary {
  const bounds = [...end.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (end.get(b) ?? 0) - (start?.get(b) ?? 0));
  const total = counts.at(-1) ?? 0;
  const quantile = (q: number): number => {
    const rank = q * total;
    for (let i = 0; i < bounds.length; i++) {
      if (counts[i]! >= rank) {
        const lo = i === 0 ? 0 : bounds[i - 1]!;
        const hi = bounds[i]!;
        if (hi === Infinity) return lo * 1000;
        const below = i === 0 ? 0 : counts[i - 1]!;
        const inBucket = counts[i]! - below;
        return (lo + (hi - lo) * (inBucket === 0 ? 0 : (rank - below) / inBucket)) * 1000;
      }
    }
    return NaN;
  };
  const i25 = bounds.indexOf(0.025);
  return { transactions: total, within25Ms: total === 0 || i25 < 0 ? NaN : counts[i25]! / total, p50Ms: quantile(0.5), p99Ms: quantile(0.99) };
}

const TABLES = PGBENCH_TABLES;

function isoMicros(iso: string): number {
  // 2026-11-26T10:00:00.123456Z -> microseconds since the epoch (exact to the microsecond within double range).
  return Date.parse(`${iso.slice(0, 23)}Z`) * 1000 + Number(iso.slice(23, 26));
}

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export async function latency(server: PgServer, db: string, repoRoot: string, tps: number, opts: { identityEmitter?: 'plpgsql' | 'native' } = {}): Promise<LatencyResult> {
  const seconds = env('PG_BENCH_LAT_SECONDS', 30);
  const url = server.url({ database: db });
  const pgbench = join(server.clientBinDir, 'pgbench');
  const init = await run(pgbench, ['-i', '-q', '-s', '4', url]);
  if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
  await applySetup(pgConfig(server, db, { tables: TABLES, slot: 'bench_lat', publication: 'bench_lat', identity_emitter: opts.identityEmitter ?? 'plpgsql' }));
  const store = await tempDir('dbw-bench-lat-');
  const rowsPerTx = env('PG_BENCH_LAT_ROWS_PER_TX', 0);
  const script = join(store, '..', `dbw-bench-lat-${process.pid}.sql`);
  if (rowsPerTx > 0) {
    // One statement: one identity message and one commit per N audited rows.
    await writeFile(script, `\\set aid random(1, 400000)\nINSERT INTO pgbench_history (tid, bid, aid, delta, mtime) SELECT 1 + g % 40, 1 + g % 4, :aid, g, CURRENT_TIMESTAMP FROM pg_catalog.generate_series(1, ${rowsPerTx}) AS g;\n`);
  }
  const deployed = process.env['PG_BENCH_LAT_DEPLOYED'] === '1';
  const nodeArgs = deployed ? [...DEPLOYED_NODE_FLAGS, ...benchNodeArgs()] : benchNodeArgs();
  const httpPort = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, join(repoRoot, 'bin', 'dbwitness.js'), 'run', '--http', `127.0.0.1:${httpPort}`, '--source', url, '--tables', TABLES.join(','), '--slot', 'bench_lat', '--publication', 'bench_lat', '--id', 'lat', '--store', store, '--unsigned', '--redaction', 'keep', '--log-level', 'error'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: deployed ? { ...process.env, ...DEPLOYED_ENV } : process.env,
  });
  let reachedTps: number | null = null;
  let durable: LatencyResult['durable'] = null;
  try {
    await waitConfirmed(server, db, 'bench_lat', await currentLsn(server, db), 60_000);
    // The slot was confirmed at its creation, so that alone does not mean the
    // daemon is up: until it streams (Node start-up, connect; about 0.3 s)
    // the first transactions waited for it, a start-up cost that read as a
    // 0.3 s tail in the first second of every run.
    await waitFor(async () => (await sql<{ a: boolean }>(server, db, "SELECT active AS a FROM pg_replication_slots WHERE slot_name = 'bench_lat'"))[0]?.a === true, { what: 'dbwitness streaming from the slot', timeoutMs: 60_000 });
    const atStart = await durableBuckets(httpPort);
    let afterWarmUp: Promise<Map<number, number>> | null = null;
    const warmUp = setTimeout(() => (afterWarmUp = durableBuckets(httpPort)), 5_000);
    const r = await run(pgbench, ['-n', '-M', 'prepared', '-c', '4', '-j', '2', '-R', String(tps), '-T', String(seconds), ...(rowsPerTx > 0 ? ['-f', script] : []), url]);
    clearTimeout(warmUp);
    if (r.code !== 0) throw new Error(`pgbench failed: ${r.stderr}`);
    const reached = /tps = ([0-9.]+)/.exec(r.stdout);
    reachedTps = reached ? Number(reached[1]) : null;
    const [last] = await sql<{ l: string }>(server, db, "SELECT max(pg_current_wal_insert_lsn())::text AS l");
    await sql(server, db, 'SELECT 1');
    await waitConfirmed(server, db, 'bench_lat', last?.l ?? '0/0', 300_000).catch(() => undefined);
    const atEnd = await durableBuckets(httpPort);
    const warm = afterWarmUp as Promise<Map<number, number>> | null;
    durable = { all: summarize(atEnd, atStart), steady: summarize(atEnd, warm === null ? atStart : await warm) };
  } finally {
    child.kill('SIGTERM');
    await exited(child);
    await rm(script, { force: true });
  }
  const lat: number[] = [];
  const steady: number[] = [];
  const bySlice = new Map<number, number[]>();
  const sliceS = env('PG_BENCH_LAT_SLICE_S', 5);
  let first: number | null = null;
  for await (const ref of readEvents(store)) {
    const e = ref.event;
    if (e.action !== 'update' && e.action !== 'insert') continue;
    const committed = isoMicros(e.time);
    first ??= committed;
    const ms = (isoMicros(e.recorded_at) - committed) / 1000;
    lat.push(ms);
    if (committed - first >= 5_000_000) steady.push(ms);
    const slice = Math.floor((committed - first) / (sliceS * 1_000_000)) * sliceS;
    let list = bySlice.get(slice);
    if (list === undefined) bySlice.set(slice, (list = []));
    list.push(ms);
  }
  await rm(store, { recursive: true, force: true });
  lat.sort((a, b) => a - b);
  steady.sort((a, b) => a - b);
  const slices = [...bySlice.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([fromS, xs]) => {
      xs.sort((a, b) => a - b);
      return { fromS, events: xs.length, p50Ms: pct(xs, 50), p99Ms: pct(xs, 99), maxMs: xs.at(-1) ?? 0 };
    });
  return { tps, rowsPerTx: rowsPerTx > 0 ? rowsPerTx : 4, load: rowsPerTx > 0 ? 'insert' : 'tpcb', reachedTps, deployed, durable, identityEmitter: opts.identityEmitter ?? 'plpgsql', seconds, events: lat.length, p50Ms: pct(lat, 50), p99Ms: pct(lat, 99), maxMs: lat.at(-1) ?? 0, slices, steady: { events: steady.length, p50Ms: pct(steady, 50), p99Ms: pct(steady, 99), maxMs: steady.at(-1) ?? 0 } };
}
