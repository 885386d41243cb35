/**
 * (d) Memory of `dbwitness run` for one 1,000,000-row transaction: peak RSS
 * (VmHWM) after the transaction is durable minus RSS while idle before it.
 * The pipeline spills large transactions to disk and the source pauses the
 * socket, so the difference should stay far below the transaction's size.
 */
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import pg from 'pg';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgServer } from '../../test/harness/index.js';
import { tempDir, waitFor } from '../../test/harness/index.js';
import { applySetup, pgConfig } from '../../test/integration/postgres-fixture.js';
import { benchNodeArgs, currentLsn, DEPLOYED_ENV, DEPLOYED_NODE_FLAGS, env, exited, sql, waitConfirmed } from './bench-common.js';

export interface RssResult {
  /** Node flags of the daemon: none (Node's defaults) or the deployed limits. */
  flags: readonly string[];
  /** Environment added for the daemon (the deployed malloc settings), if any. */
  env: Readonly<Record<string, string>>;
  rows: number;
  idleMb: number;
  peakMb: number;
  walMb: number;
}

function indexedSeq(indexPath: string, source: string): number {
  const db = new Database(indexPath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT seq FROM watermark WHERE source = ?').get(source) as { seq: number } | undefined)?.seq ?? 0;
  } finally {
    db.close();
  }
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

/**
 * Once with Node's defaults and once as deployed (V8 limits and malloc
 * settings), each on its own table and slot; `flags` (the V8 limits alone)
 * and `env` (the malloc settings alone) on request.
 */
export async function peakRss(server: PgServer, db: string, repoRoot: string): Promise<RssResult[]> {
  await sql(server, db, 'CREATE SCHEMA IF NOT EXISTS clinic');
  const out: RssResult[] = [];
  // PG_BENCH_RSS_VARIANTS=deployed measures only the deployed settings (quicker when iterating).
  const variants = (process.env['PG_BENCH_RSS_VARIANTS'] ?? 'defaults,deployed').split(',');
  const all: [string, readonly string[], Readonly<Record<string, string>>][] = [
    ['defaults', [], {}],
    ['deployed', DEPLOYED_NODE_FLAGS, DEPLOYED_ENV],
    ['flags', DEPLOYED_NODE_FLAGS, {}],
    // The malloc settings alone; with PG_BENCH_NODE_ARGS, other V8 limits than the deployed ones.
    ['env', [], DEPLOYED_ENV],
  ];
  for (const [i, [, flags, env]] of all.filter(([n]) => variants.includes(n)).entries()) out.push(await peakRssOnce(server, db, repoRoot, `bulk${i}`, flags, env));
  return out;
}

async function peakRssOnce(server: PgServer, db: string, repoRoot: string, name: string, flags: readonly string[], extraEnv: Readonly<Record<string, string>>): Promise<RssResult> {
  const rows = env('PG_BENCH_RSS_ROWS', 1_000_000);
  // PG_BENCH_RSS_WIDTH: characters of each row's note (default: 'note <n>'), to measure wide rows.
  const width = env('PG_BENCH_RSS_WIDTH', 0);
  const note = width > 0 ? `repeat(md5(g::text), ${Math.ceil(width / 32)})` : `'note ' || g`;
  const table = `clinic.${name}`;
  const slot = `bench_rss_${name}`;
  await sql(server, db, `CREATE TABLE ${table} (id bigint PRIMARY KEY, note text, seen_at timestamptz)`);
  await applySetup(pgConfig(server, db, { tables: [table], slot, publication: slot }));
  const store = await tempDir('dbw-bench-rss-');
  const url = server.url({ database: db });
  const child = spawn(process.execPath, [...flags, ...benchNodeArgs(), join(repoRoot, 'bin', 'dbwitness.js'), 'run', '--source', url, '--tables', table, '--slot', slot, '--publication', slot, '--id', 'rss', '--store', store, '--unsigned', '--redaction', 'keep', '--log-level', 'error'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...extraEnv } });
  try {
    const pid = child.pid as number;
    // Idle: connected and acknowledged the current position.
    await waitConfirmed(server, db, slot, await currentLsn(server, db), 60_000);
    await waitFor(async () => (await sql<{ a: boolean }>(server, db, `SELECT active AS a FROM pg_replication_slots WHERE slot_name = '${slot}'`))[0]?.a, { what: 'run connected' });
    // Idle means the daemon as it runs: its index worker has started and
    // finished its first pass (it does so within the first 10 s), so the
    // worker thread's own baseline is not counted as transaction memory.
    await waitFor(() => existsSync(join(store, 'index.sqlite')), { what: 'first index pass', timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 2000));
    const idle = statusKb(pid, 'VmRSS');
    const before = await currentLsn(server, db);
    // The position inside the transaction after its rows: confirmed past it means stored.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    let end: string;
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${table} SELECT g, ${note}, now() FROM generate_series(1, ${rows}) g`);
      end = (await client.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0]?.l ?? '0/0';
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    await waitConfirmed(server, db, slot, end);
    // The daemon's work for the transaction ends when its index worker has
    // indexed every row too: the peak is read after that, not before.
    await waitFor(() => indexedSeq(join(store, 'index.sqlite'), 'rss') >= rows, { what: 'index caught up', timeoutMs: 600_000, intervalMs: 500 });
    const peak = statusKb(pid, 'VmHWM');
    const [w] = await sql<{ b: string }>(server, db, `SELECT pg_wal_lsn_diff('${end}', '${before}')::bigint::text AS b`);
    return { flags, env: extraEnv, rows, idleMb: idle / 1024, peakMb: peak / 1024, walMb: Number(w?.b ?? 0) / 1024 / 1024 };
  } finally {
    child.kill('SIGTERM');
    await exited(child);
    await rm(store, { recursive: true, force: true });
  }
}
