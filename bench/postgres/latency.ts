/**
 * (c) Commit-to-durable latency under steady load: pgbench TPC-B at a fixed
 * rate (-R) while `dbwitness run` audits the four pgbench tables. Each event
 * carries the source commit time (`time`) and when the store made it
 * durable (`recorded_at`); their difference is the latency (same host
 * clock). Reported as p50/p99 over all events.
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgServer } from '../../test/harness/index.js';
import { tempDir, waitFor } from '../../test/harness/index.js';
import { applySetup, pgConfig } from '../../test/integration/postgres-fixture.js';
import { readEvents } from '../../src/store/reader.js';
import { env, exited, PGBENCH_TABLES, run, sql, waitConfirmed, currentLsn } from './bench-common.js';

export interface LatencyResult {
  tps: number;
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
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'dbwitness.js'), 'run', '--source', url, '--tables', TABLES.join(','), '--slot', 'bench_lat', '--publication', 'bench_lat', '--id', 'lat', '--store', store, '--unsigned', '--redaction', 'keep', '--log-level', 'error'], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await waitConfirmed(server, db, 'bench_lat', await currentLsn(server, db), 60_000);
    // The slot was confirmed at its creation, so that alone does not mean the
    // daemon is up: until it streams (Node start-up, connect; about 0.3 s)
    // the first transactions waited for it, a start-up cost that read as a
    // 0.3 s tail in the first second of every run.
    await waitFor(async () => (await sql<{ a: boolean }>(server, db, "SELECT active AS a FROM pg_replication_slots WHERE slot_name = 'bench_lat'"))[0]?.a === true, { what: 'dbwitness streaming from the slot', timeoutMs: 60_000 });
    const r = await run(pgbench, ['-n', '-M', 'prepared', '-c', '4', '-j', '2', '-R', String(tps), '-T', String(seconds), url]);
    if (r.code !== 0) throw new Error(`pgbench failed: ${r.stderr}`);
    const [last] = await sql<{ l: string }>(server, db, "SELECT max(pg_current_wal_insert_lsn())::text AS l");
    await sql(server, db, 'SELECT 1');
    await waitConfirmed(server, db, 'bench_lat', last?.l ?? '0/0', 300_000).catch(() => undefined);
  } finally {
    child.kill('SIGTERM');
    await exited(child);
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
  return { tps, identityEmitter: opts.identityEmitter ?? 'plpgsql', seconds, events: lat.length, p50Ms: pct(lat, 50), p99Ms: pct(lat, 99), maxMs: lat.at(-1) ?? 0, slices, steady: { events: steady.length, p50Ms: pct(steady, 50), p99Ms: pct(steady, 99), maxMs: steady.at(-1) ?? 0 } };
}
