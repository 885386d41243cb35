/**
 * (b′) What the identity trigger costs the server per transaction, without
 * the client round trips and fsync waits that dominate pgbench's TPS (and
 * its noise): a procedure runs TPC-B's four writes per transaction and
 * COMMITs, N times, with synchronous_commit off, triggers disabled and
 * enabled alternately on the same server. pg_recvlogical stays attached
 * so the slot keeps decoding as in production. Where the server can load
 * it, the native emitter's triggers are a third variant in every round.
 */
import { join } from 'node:path';
import type { PgServer } from '../../test/harness/index.js';
import { applySetup, pgConfig } from '../../test/integration/postgres-fixture.js';
import { attachConsumer, dropNativeBenchTriggers, env, exited, installNativeBenchTriggers, median, PGBENCH_TABLES, run, setIdentityTriggers, setNativeBenchTriggers, sql } from './bench-common.js';

export interface TriggerCpuResult {
  rounds: number;
  txPerRound: number;
  /** Microseconds per transaction, one entry per round. */
  without: number[];
  withTriggers: number[];
  /** Median over rounds of (with − without), each pair measured back to back. */
  addedMicros: number;
  /** Median over rounds of without ÷ with: the server's transaction rate kept. */
  ratio: number;
  /** The native emitter's triggers instead, per round; empty when not measured. */
  native: number[];
  nativeAddedMicros: number | null;
  nativeRatio: number | null;
}

const LOOP = `CREATE OR REPLACE PROCEDURE public.bench_tpcb_loop(n int, INOUT us double precision DEFAULT 0) LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); a int; t int; b int;
BEGIN
  FOR i IN 1..n LOOP
    a := 1 + (i * 7919) % 400000; t := 1 + i % 40; b := 1 + i % 4;
    UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = a;
    UPDATE pgbench_tellers SET tbalance = tbalance + 1 WHERE tid = t;
    UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = b;
    INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (t, b, a, 1, CURRENT_TIMESTAMP);
    COMMIT;
  END LOOP;
  us := extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
END $$`;

export async function triggerCpu(server: PgServer, db: string, opts: { native: boolean }): Promise<TriggerCpuResult> {
  const rounds = env('PG_BENCH_TRIGCPU_ROUNDS', 9);
  const txPerRound = env('PG_BENCH_TRIGCPU_TX', 20000);
  const url = server.url({ database: db });
  const init = await run(join(server.clientBinDir, 'pgbench'), ['-i', '-q', '-s', '4', url]);
  if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
  await applySetup(pgConfig(server, db, { tables: PGBENCH_TABLES, slot: 'bench_cpu', publication: 'bench_cpu' }));
  await sql(server, db, LOOP);
  if (opts.native) await installNativeBenchTriggers(server, db);
  const consumer = attachConsumer(server, url, 'bench_cpu', 'bench_cpu');
  const psql = join(server.clientBinDir, 'psql');
  type Variant = 'with' | 'without' | 'native';
  const setTriggers = async (v: Variant): Promise<void> => {
    await setIdentityTriggers(server, db, v === 'with');
    if (opts.native) await setNativeBenchTriggers(server, db, v === 'native');
  };
  // A fresh session per measurement, as an application's first transactions would be.
  const measure = async (): Promise<number> => {
    const r = await run(psql, ['-qAt', '-d', url, '-c', `CALL public.bench_tpcb_loop(${txPerRound})`], { env: { ...process.env, PGOPTIONS: '-c synchronous_commit=off' } });
    if (r.code !== 0) throw new Error(`bench loop failed: ${r.stderr}`);
    return Number(r.stdout.trim());
  };
  const results: Record<Variant, number[]> = { with: [], without: [], native: [] };
  const variants: Variant[] = opts.native ? ['with', 'without', 'native'] : ['with', 'without'];
  try {
    await setTriggers('with');
    await measure(); // warm-up
    for (let i = 0; i < rounds; i++) {
      // A different rotation each round, so drift hits every variant in every position.
      const k = i % variants.length;
      for (const v of [...variants.slice(k), ...variants.slice(0, k)]) {
        await setTriggers(v);
        results[v].push(await measure());
      }
      process.stderr.write(`  µs/tx ${variants.map((v) => `${v} ${results[v].at(-1)?.toFixed(1)}`).join(', ')}\n`);
    }
  } finally {
    consumer.kill('SIGTERM');
    await exited(consumer);
    await setTriggers('with');
    await dropNativeBenchTriggers(server, db);
  }
  const { with: withTriggers, without, native } = results;
  const added = (xs: number[]): number => median(xs.map((w, i) => w - (without[i] as number)));
  const kept = (xs: number[]): number => median(xs.map((w, i) => (without[i] as number) / w));
  return {
    rounds,
    txPerRound,
    without,
    withTriggers,
    addedMicros: added(withTriggers),
    ratio: kept(withTriggers),
    native,
    nativeAddedMicros: native.length > 0 ? added(native) : null,
    nativeRatio: native.length > 0 ? kept(native) : null,
  };
}
