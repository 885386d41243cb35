/**
 * (a) Drain of a pre-built backlog: row changes per second that dbwitness
 * turns into durable events ÷ what pg_recvlogical (the server's own client,
 * writing pgoutput to /dev/null) streams from the same slot state.
 *
 * Every run drains a fresh copy (pg_copy_logical_replication_slot) of a
 * template slot created just before the backlog, so all consumers read the
 * identical WAL. Consumers: pg_recvlogical (baseline); `dbwitness run`
 * (decode, pipeline, hash chain, fsync'd store, acknowledge), timed until
 * the slot confirms the backlog's end; and the adapter alone
 * (PostgresChangeSource, decode and translate only) for the breakdown.
 */
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgServer } from '../../test/harness/index.js';
import { tempDir } from '../../test/harness/index.js';
import { PostgresChangeSource } from '../../adapters/postgres/index.js';
import { parseLsn } from '../../adapters/postgres/lsn.js';
import { silentLogger } from '../../src/core/logger.js';
import { applySetup, pgConfig } from '../../test/integration/postgres-fixture.js';
import { benchNodeArgs, currentLsn, dropSlotWhenReleased, DEPLOYED_ENV, DEPLOYED_NODE_FLAGS, env, exited, median, run, sql, waitConfirmed } from './bench-common.js';

export type Consumer = 'pg_recvlogical' | 'dbwitness run' | 'adapter only';
export interface DrainShape {
  rowsPerTx: number;
  rows: number;
  seconds: Record<Consumer, number[]>;
  rowsPerSecond: Record<Consumer, number>;
}

const CONSUMERS: Consumer[] = ['pg_recvlogical', 'dbwitness run', 'adapter only'];
const PUB = 'bench_drain';
const TABLE = 'clinic.drain';

export async function drain(server: PgServer, db: string, repoRoot: string): Promise<DrainShape[]> {
  const rows = env('PG_BENCH_DRAIN_ROWS', 1_000_000);
  const runs = env('PG_BENCH_DRAIN_RUNS', 3);
  await sql(server, db, 'CREATE SCHEMA IF NOT EXISTS clinic');
  await sql(server, db, `CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, patient_id bigint NOT NULL, note text, seen_at timestamptz NOT NULL, amount numeric(12,2))`);
  await applySetup(pgConfig(server, db, { tables: [TABLE], slot: 'drain_tpl_100', publication: PUB }));
  await sql(server, db, `CREATE PROCEDURE clinic.fill(first bigint, total bigint, per_tx int, INOUT last_lsn pg_lsn DEFAULT NULL) LANGUAGE plpgsql AS $$
    DECLARE i bigint := first;
    BEGIN
      -- Backlog generation only: the server's own commit latency is not what is measured.
      PERFORM pg_catalog.set_config('synchronous_commit', 'off', false);
      WHILE i < first + total LOOP
        INSERT INTO ${TABLE} SELECT g, g % 1000, 'note ' || g, '2026-11-26 10:00:00.123456+00'::timestamptz + g * interval '1 microsecond', g / 100.0
          FROM generate_series(i, i + per_tx - 1) g;
        -- Inside the transaction, after its rows: any confirmed position at or
        -- past this one means the last transaction was delivered and stored.
        last_lsn := pg_catalog.pg_current_wal_insert_lsn();
        COMMIT;
        i := i + per_tx;
      END LOOP;
    END $$`);
  const shapes: Array<{ perTx: number; tpl: string; end: string }> = [];
  for (const perTx of [100, 1]) {
    const tpl = `drain_tpl_${perTx}`;
    if (perTx !== 100) await sql(server, db, `SELECT pg_create_logical_replication_slot('${tpl}', 'pgoutput')`);
    const first = perTx === 100 ? 1 : rows + 1;
    process.stderr.write(`  building backlog: ${rows} rows, ${perTx} per transaction\n`);
    const [filled] = await sql<{ last_lsn: string }>(server, db, `CALL clinic.fill(${first}, ${rows}, ${perTx})`);
    shapes.push({ perTx, tpl, end: filled?.last_lsn ?? (await currentLsn(server, db)) });
  }
  const results: DrainShape[] = [];
  for (const shape of shapes) {
    const seconds: Record<Consumer, number[]> = { pg_recvlogical: [], 'dbwitness run': [], 'adapter only': [] };
    for (let r = 0; r < runs; r++) {
      const order = r % 2 === 0 ? CONSUMERS : [...CONSUMERS].reverse();
      for (const consumer of order) {
        const slot = `drain_${shape.perTx}_${r}_${consumer.replace(/\W/g, '')}`;
        await sql(server, db, `SELECT pg_copy_logical_replication_slot('${shape.tpl}', '${slot}')`);
        const s = await drainOnce(consumer, server, db, slot, shape.end, repoRoot);
        await dropSlotWhenReleased(server, db, slot);
        seconds[consumer].push(s);
        process.stderr.write(`  ${shape.perTx} rows/tx, ${consumer}: ${s.toFixed(2)} s\n`);
      }
    }
    const rowsPerSecond = Object.fromEntries(CONSUMERS.map((c) => [c, rows / median(seconds[c])])) as Record<Consumer, number>;
    results.push({ rowsPerTx: shape.perTx, rows, seconds, rowsPerSecond });
  }
  return results;
}

async function drainOnce(consumer: Consumer, server: PgServer, db: string, slot: string, end: string, repoRoot: string): Promise<number> {
  const url = server.url({ database: db });
  const t0 = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
  if (consumer === 'pg_recvlogical') {
    const r = await run(join(server.clientBinDir, 'pg_recvlogical'), ['-d', url, '--slot', slot, '--start', '--endpos', end, '-o', 'proto_version=1', '-o', `publication_names=${PUB}`, '-o', 'messages=true', '-f', '/dev/null']);
    if (r.code !== 0) throw new Error(`pg_recvlogical failed: ${r.stderr}`);
    return elapsed();
  }
  if (consumer === 'adapter only') {
    const config = pgConfig(server, db, { tables: [TABLE], slot, publication: PUB });
    const source = new PostgresChangeSource(config, silentLogger());
    const abort = new AbortController();
    const target = parseLsn(end);
    try {
      for await (const m of source.messages(null, abort.signal)) {
        if ((m.kind === 'commit' || m.kind === 'idle') && parseLsn(m.checkpoint) > target) break;
      }
      return elapsed();
    } finally {
      abort.abort();
      await source.close();
    }
  }
  const store = await tempDir('dbw-bench-store-');
  // PG_BENCH_DRAIN_DEPLOYED: the daemon as deploy/ starts it, to show what its memory settings cost in
  // throughput: `1` (V8 limits and malloc settings), `flags` (V8 limits only), `env` (malloc settings only).
  const deployed = process.env['PG_BENCH_DRAIN_DEPLOYED'] ?? '';
  const withFlags = deployed === '1' || deployed === 'flags';
  const withEnv = deployed === '1' || deployed === 'env';
  const nodeArgs = withFlags ? [...DEPLOYED_NODE_FLAGS, ...benchNodeArgs()] : benchNodeArgs();
  // PG_BENCH_DAEMON_STDOUT: append the daemon's stdout to this file (e.g. with PG_BENCH_NODE_ARGS=--trace-gc).
  const stdoutPath = process.env['PG_BENCH_DAEMON_STDOUT'];
  const stdout = stdoutPath === undefined ? 'ignore' : openSync(stdoutPath, 'a');
  const child = spawn(process.execPath, [...nodeArgs, join(repoRoot, 'bin', 'dbwitness.js'), 'run', '--source', url, '--tables', TABLE, '--slot', slot, '--publication', PUB, '--id', 'bench', '--store', store, '--unsigned', '--redaction', 'keep', '--log-level', 'error'], {
    stdio: ['ignore', stdout, 'inherit'],
    env: withEnv ? { ...process.env, ...DEPLOYED_ENV } : process.env,
  });
  try {
    await waitConfirmed(server, db, slot, end);
    return elapsed();
  } finally {
    child.kill('SIGTERM');
    await exited(child);
    await rm(store, { recursive: true, force: true });
  }
}
