/**
 * (b) Identity trigger cost: pgbench TPC-B TPS with the identity triggers
 * enabled ÷ TPS with them disabled, the same logical consumer
 * (pg_recvlogical on the same publication, messages on) attached in both.
 * Variants alternate; the ratio of medians is reported.
 *
 * A third variant measures the floor of the mechanism: the same BEFORE ...
 * FOR EACH STATEMENT triggers with an empty PL/pgSQL body (RETURN NULL), no
 * message. No identity trigger built on statement triggers in PL/pgSQL can
 * cost less than that.
 *
 * A fourth variant, when the server can load it (main.ts builds it), is the
 * native emitter (native/postgres-emitter): the same statement triggers
 * calling the C function that `identity_emitter: native` installs as
 * emit_identity().
 */
import { join } from 'node:path';
import type { PgServer } from '../../test/harness/index.js';
import { applySetup, pgConfig } from '../../test/integration/postgres-fixture.js';
import { attachConsumer, dropNativeBenchTriggers, env, exited, installNativeBenchTriggers, median, PGBENCH_TABLES, run, setIdentityTriggers, setNativeBenchTriggers, sql } from './bench-common.js';

export interface TriggerCostResult {
  runs: number;
  seconds: number;
  clients: number;
  scale: number;
  withTriggers: number[];
  without: number[];
  /** Empty statement triggers (PL/pgSQL, RETURN NULL) on the same tables instead. */
  emptyTriggers: number[];
  /** Median of back-to-back pair ratios, empty triggers ÷ none: the floor for any PL/pgSQL statement trigger. */
  emptyPairedRatio: number;
  /** The native (C) emitter's triggers instead; empty when not measured. */
  nativeTriggers: number[];
  /** Median of back-to-back pair ratios, native ÷ none. */
  nativePairedRatio: number | null;
  /** Ratio of the medians. */
  ratio: number;
  /** Median of the ratios of back-to-back pairs: robust to the machine's load drifting between pairs. */
  pairedRatio: number;
}

export async function triggerCost(server: PgServer, db: string, opts: { native: boolean }): Promise<TriggerCostResult> {
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
  await sql(server, db, 'CREATE OR REPLACE FUNCTION public.bench_empty_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$');
  for (const t of PGBENCH_TABLES) {
    await sql(server, db, `CREATE OR REPLACE TRIGGER bench_empty BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${t} FOR EACH STATEMENT EXECUTE FUNCTION public.bench_empty_trigger()`);
  }
  if (opts.native) await installNativeBenchTriggers(server, db);
  const setEmpty = async (on: boolean): Promise<void> => {
    for (const t of PGBENCH_TABLES) await sql(server, db, `ALTER TABLE ${t} ${on ? 'ENABLE ALWAYS' : 'DISABLE'} TRIGGER bench_empty`);
  };
  const setNative = async (on: boolean): Promise<void> => {
    if (opts.native) await setNativeBenchTriggers(server, db, on);
  };
  const consumer = attachConsumer(server, url, slot, 'bench_tps');
  type Variant = 'with' | 'without' | 'empty' | 'native';
  const setVariant = async (v: Variant): Promise<void> => {
    await setIdentityTriggers(server, db, v === 'with');
    await setEmpty(v === 'empty');
    await setNative(v === 'native');
  };
  const tps = async (): Promise<number> => {
    const r = await run(pgbench, ['-n', '-M', 'prepared', '-c', String(clients), '-j', '2', '-T', String(seconds), url]);
    const m = /tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(r.stdout);
    if (r.code !== 0 || m === null || m[1] === undefined) throw new Error(`pgbench failed: ${r.stderr}${r.stdout}`);
    return Number(m[1]);
  };
  const results: Record<Variant, number[]> = { with: [], without: [], empty: [], native: [] };
  const variants: Variant[] = opts.native ? ['with', 'without', 'empty', 'native'] : ['with', 'without', 'empty'];
  // Every rotation of the list, so drift on a shared machine hits every variant in every position.
  const orders: Variant[][] = variants.map((_, k) => [...variants.slice(k), ...variants.slice(0, k)]);
  try {
    await setVariant('with');
    await tps(); // warm-up, discarded
    for (let i = 0; i < runs; i++) {
      // Rotate the order so drift on a shared machine hits every variant.
      for (const v of orders[i % orders.length] as Variant[]) {
        await setVariant(v);
        results[v].push(await tps());
        process.stderr.write(`  tps ${v} triggers: ${results[v].at(-1)}\n`);
      }
    }
  } finally {
    consumer.kill('SIGTERM');
    await exited(consumer);
    await setVariant('with');
    for (const t of PGBENCH_TABLES) await sql(server, db, `DROP TRIGGER IF EXISTS bench_empty ON ${t}`);
    await dropNativeBenchTriggers(server, db);
  }
  const { with: withTriggers, without, empty: emptyTriggers, native: nativeTriggers } = results;
  const pairs = withTriggers.map((w, i) => w / (without[i] as number));
  const emptyPairs = emptyTriggers.map((e, i) => e / (without[i] as number));
  const nativePairs = nativeTriggers.map((n, i) => n / (without[i] as number));
  return {
    runs,
    seconds,
    clients,
    scale,
    withTriggers,
    without,
    emptyTriggers,
    emptyPairedRatio: median(emptyPairs),
    nativeTriggers,
    nativePairedRatio: nativePairs.length > 0 ? median(nativePairs) : null,
    ratio: median(withTriggers) / median(without),
    pairedRatio: median(pairs),
  };
}
