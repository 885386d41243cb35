/**
 * (b) Identity trigger cost: pgbench TPC-B TPS with the identity triggers
 * enabled ÷ TPS with them disabled, the same logical consumer
 * (pg_recvlogical on the same publication, messages on) attached in both.
 * Variants alternate; the ratio of medians is reported.
 */
import { join } from 'node:path';
import type { PgServer } from '../../test/harness/index.js';
import { applySetup, pgConfig } from '../../test/integration/postgres-fixture.js';
import { attachConsumer, env, exited, median, PGBENCH_TABLES, run, setIdentityTriggers } from './bench-common.js';

export interface TriggerCostResult {
  runs: number;
  seconds: number;
  clients: number;
  scale: number;
  withTriggers: number[];
  without: number[];
  /** Ratio of the medians. */
  ratio: number;
  /** Median of the ratios of back-to-back pairs: robust to the machine's load drifting between pairs. */
  pairedRatio: number;
}

export async function triggerCost(server: PgServer, db: string): Promise<TriggerCostResult> {
  const runs = env('PG_BENCH_TPS_RUNS', 12);
  const seconds = env('PG_BENCH_TPS_SECONDS', 5);
  const clients = env('PG_BENCH_TPS_CLIENTS', 4);
  const scale = env('PG_BENCH_TPS_SCALE', 4);
  const url = server.url({ database: db });
  const pgbench = join(server.clientBinDir, 'pgbench');
  const init = await run(pgbench, ['-i', '-q', '-s', String(scale), url]);
  if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
  const slot = 'bench_tps';
  await applySetup(pgConfig(server, db, { tables: PGBENCH_TABLES, slot, publication: 'bench_tps' }));
  const consumer = attachConsumer(server, url, slot, 'bench_tps');
  const setTriggers = (on: boolean): Promise<void> => setIdentityTriggers(server, db, on);
  const tps = async (): Promise<number> => {
    const r = await run(pgbench, ['-n', '-M', 'prepared', '-c', String(clients), '-j', '2', '-T', String(seconds), url]);
    const m = /tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(r.stdout);
    if (r.code !== 0 || m === null || m[1] === undefined) throw new Error(`pgbench failed: ${r.stderr}${r.stdout}`);
    return Number(m[1]);
  };
  const withTriggers: number[] = [];
  const without: number[] = [];
  try {
    await setTriggers(true);
    await tps(); // warm-up, discarded
    for (let i = 0; i < runs; i++) {
      // Alternate the order so drift on a shared machine hits both variants.
      for (const on of i % 2 === 0 ? [true, false] : [false, true]) {
        await setTriggers(on);
        (on ? withTriggers : without).push(await tps());
        process.stderr.write(`  tps ${on ? 'with' : 'without'} triggers: ${(on ? withTriggers : without).at(-1)}\n`);
      }
    }
  } finally {
    consumer.kill('SIGTERM');
    await exited(consumer);
    await setTriggers(true);
  }
  const pairs = withTriggers.map((w, i) => w / (without[i] as number));
  return { runs, seconds, clients, scale, withTriggers, without, ratio: median(withTriggers) / median(without), pairedRatio: median(pairs) };
}
