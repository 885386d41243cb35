/**
 * Helpers shared by the PostgreSQL benchmarks: medians, child processes,
 * waiting on a slot's confirmed position.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { PgServer } from '../../test/harness/index.js';
import { waitFor } from '../../test/harness/index.js';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function env(name: string, fallback: number): number {
  const v = process.env[name];
  return v === undefined ? fallback : Number(v);
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function sql<T = Record<string, unknown>>(server: PgServer, db: string, text: string): Promise<T[]> {
  return server.query<T>(text, [], { database: db });
}

/** Waits until the slot has confirmed `lsn` (the consumer has made everything up to it durable). */
export async function waitConfirmed(server: PgServer, db: string, slot: string, lsn: string, timeoutMs = 600_000): Promise<void> {
  await waitFor(
    async () => {
      const [r] = await sql<{ ok: boolean }>(server, db, `SELECT confirmed_flush_lsn >= '${lsn}'::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = '${slot}'`);
      return r?.ok === true;
    },
    { what: `slot ${slot} confirmed up to ${lsn}`, timeoutMs, intervalMs: 20 },
  );
}

/**
 * Drops a slot once its consumer's walsender has released it: a client that
 * exited can leave its backend holding the slot for a moment, and dropping
 * an active slot fails ("replication slot ... is active").
 */
export async function dropSlotWhenReleased(server: PgServer, db: string, slot: string): Promise<void> {
  await waitFor(
    async () => {
      const [r] = await sql<{ active: boolean }>(server, db, `SELECT active FROM pg_replication_slots WHERE slot_name = '${slot}'`);
      return r?.active === false;
    },
    { what: `slot ${slot} released by its consumer`, timeoutMs: 30_000, intervalMs: 20 },
  );
  await sql(server, db, `SELECT pg_drop_replication_slot('${slot}')`);
}

export async function currentLsn(server: PgServer, db: string): Promise<string> {
  const [r] = await sql<{ l: string }>(server, db, 'SELECT pg_current_wal_lsn()::text AS l');
  return r?.l ?? '0/0';
}

/** The V8 limits deploy/dbwitness.service and the Dockerfile start the daemon with. */
export const DEPLOYED_NODE_FLAGS: readonly string[] = ['--max-old-space-size=128', '--max-semi-space-size=2'];

/** The glibc malloc settings deploy/dbwitness.service and the Dockerfile set. */
export const DEPLOYED_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '131072', MALLOC_MMAP_THRESHOLD_: '131072' };

/** Extra node flags for the daemon from PG_BENCH_NODE_ARGS (space-separated), e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
export function benchNodeArgs(): string[] {
  return (process.env['PG_BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
}

/** pgbench's four tables, audited by the trigger and latency benchmarks. */
export const PGBENCH_TABLES = ['public.pgbench_accounts', 'public.pgbench_branches', 'public.pgbench_tellers', 'public.pgbench_history'];

/** pg_recvlogical streaming a slot's pgoutput (messages on) to /dev/null: the consumer attached while the source is measured. */
export function attachConsumer(server: PgServer, url: string, slot: string, publication: string): ChildProcess {
  return spawn(join(server.clientBinDir, 'pg_recvlogical'), ['-d', url, '--slot', slot, '--start', '-o', 'proto_version=1', '-o', `publication_names=${publication}`, '-o', 'messages=true', '-f', '/dev/null', '-F', '1'], { stdio: 'ignore' });
}

/** Enables (ALWAYS) or disables the identity trigger on pgbench's tables. */
export async function setIdentityTriggers(server: PgServer, db: string, on: boolean): Promise<void> {
  for (const t of PGBENCH_TABLES) await sql(server, db, `ALTER TABLE ${t} ${on ? 'ENABLE ALWAYS' : 'DISABLE'} TRIGGER dbwitness_identity`);
}

/**
 * Statement triggers `bench_native` on the pgbench tables calling the native
 * emitter's C function (the server must load it: test/harness/native-emitter.ts),
 * disabled; the same function `identity_emitter: native` installs as emit_identity().
 */
export async function installNativeBenchTriggers(server: PgServer, db: string): Promise<void> {
  await sql(server, db, `CREATE OR REPLACE FUNCTION dbwitness.bench_native_identity() RETURNS trigger LANGUAGE c AS 'dbwitness_emitter', 'dbwitness_emit_identity'`);
  for (const t of PGBENCH_TABLES) {
    await sql(server, db, `CREATE OR REPLACE TRIGGER bench_native BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${t} FOR EACH STATEMENT EXECUTE FUNCTION dbwitness.bench_native_identity()`);
    await sql(server, db, `ALTER TABLE ${t} DISABLE TRIGGER bench_native`);
  }
}

export async function setNativeBenchTriggers(server: PgServer, db: string, on: boolean): Promise<void> {
  for (const t of PGBENCH_TABLES) await sql(server, db, `ALTER TABLE ${t} ${on ? 'ENABLE ALWAYS' : 'DISABLE'} TRIGGER bench_native`);
}

export async function dropNativeBenchTriggers(server: PgServer, db: string): Promise<void> {
  for (const t of PGBENCH_TABLES) await sql(server, db, `DROP TRIGGER IF EXISTS bench_native ON ${t}`);
}
