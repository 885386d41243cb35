/**
 * Soak benchmark of the daemon: `npx tsx bench/soak/soak.ts [--minutes 10] [--rate 20] [--sample 5]`
 *
 * One `dbwitness run` (built CLI) with a PostgreSQL and a MariaDB source
 * under a steady mixed load (insert, update, delete; `--rate` transactions
 * per second per source) for `--minutes`. Every `--sample` seconds it
 * records the daemon's RSS and open fds (/proc), its main thread's V8 heap
 * and external memory, and the event lag from /metrics (commit-to-durable
 * delay of the newest event), and at the end
 * checks that every committed row change is in the store exactly once.
 *
 * Reported: per metric, the least-squares slope per minute and the peak,
 * and a ratio against the baseline measured in the same run: the median of
 * the last fifth of the run over the median of the second fifth (the first
 * is warm-up). A leak shows as a steady positive slope and a ratio well
 * above 1; a healthy daemon stays near 1. Results are appended to
 * bench/soak/RESULTS.md with the machine's load average.
 */
import { readdir, readFile, writeFile, appendFile } from 'node:fs/promises';
import { loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { generateSigningKeyPair } from '../../src/store/keys.js';
import { freePort, spawnCli, startPostgres, tempDir, waitFor } from '../../test/harness/index.js';
import { applySetup as applyPgSetup, pgConfig } from '../../test/integration/postgres-fixture.js';
import { applySetup as applyMdbSetup, sourceConfig, startClinic } from '../../test/integration/mysql-fixture.js';
import { metric, storedEvents, exited } from '../../test/integration/daemon-fixture.js';
import { mixedWriter, type WriterStats } from './soak-load.js';
import { summarize, type Series } from './soak-stats.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, rate: { type: 'string', default: '20' }, sample: { type: 'string', default: '5' } } });
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const sampleMs = Number(values.sample) * 1000;

async function main(): Promise<void> {
  const load0 = loadavg()[0]!;
  const [pgs, mdb] = await Promise.all([startPostgres({ database: 'ehr' }), startClinic()]);
  try {
    await pgs.query('CREATE SCHEMA clinic', [], { database: 'ehr' });
    await pgs.query('CREATE TABLE clinic.patients (id bigint PRIMARY KEY, mrn text NOT NULL, name text NOT NULL, balance numeric(12,2))', [], { database: 'ehr' });
    await applyPgSetup(pgConfig(pgs, 'ehr', { tables: ['clinic.patients'] }));
    await applyMdbSetup(sourceConfig(mdb));

    const root = await tempDir('dbw-soak-');
    const pair = generateSigningKeyPair();
    await writeFile(join(root, 'signing.key'), pair.privatePem, { mode: 0o600 });
    const port = await freePort();
    const store = join(root, 'store');
    await writeFile(
      join(root, 'dbwitness.yaml'),
      stringify({
        log_level: 'warn',
        store: { dir: store, signing_key: join(root, 'signing.key'), segment_max_bytes: 8 * 1024 * 1024 },
        http: { listen: `127.0.0.1:${port}` },
        anchors: { file: join(root, 'anchors.jsonl'), interval: '30s' },
        sources: [
          { id: 'pg', url: pgs.url({ database: 'ehr', user: 'dbwitness_daemon' }), tables: ['clinic.patients'] },
          { id: 'mdb', url: mdb.url(), tables: ['clinic.patients'], heartbeat_seconds: 1 },
        ],
      }),
    );
    // SOAK_DAEMON_NODE_OPTIONS: V8 flags for the daemon only, e.g. the deployed
    // "--max-old-space-size=128 --max-semi-space-size=2" (NODE_OPTIONS would also
    // cap this driver, which loads every stored event to count them at the end).
    // SOAK_DAEMON_ENV: more environment for the daemon, e.g. the deployed malloc
    // settings "MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=131072 MALLOC_MMAP_THRESHOLD_=131072".
    const daemonFlags = process.env['SOAK_DAEMON_NODE_OPTIONS'];
    const daemonEnv = Object.fromEntries((process.env['SOAK_DAEMON_ENV'] ?? '').split(' ').filter((kv) => kv.includes('=')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    const daemon = spawnCli(['run', '--config', join(root, 'dbwitness.yaml'), '--redaction', 'keep'], { env: { ...daemonEnv, ...(daemonFlags === undefined ? {} : { NODE_OPTIONS: daemonFlags }) } });
    daemon.stderr?.resume();
    const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, { what: 'daemon ready', timeoutMs: 60_000 });

    const stop = { stopped: false };
    const pgStats: WriterStats = { tx: 0, changes: 0 };
    const mdbStats: WriterStats = { tx: 0, changes: 0 };
    const writers = [mixedWriter('pg', pgs.url({ database: 'ehr' }), rate, stop, pgStats), mixedWriter('mdb', mdb.url({ database: 'clinic' }), rate, stop, mdbStats)];

    const t0 = Date.now();
    // The main thread's and the index worker's V8 heaps and external memory
    // beside RSS: a rise in RSS alone may be heap growth up to its limit,
    // Buffers, or native memory. native_mb is RSS minus both heaps' totals.
    // Lag per source: MariaDB's binlog timestamps are whole seconds, so its
    // capture delay reads anywhere from 0 to 1 s by the phase of the sample
    // within the second; PostgreSQL's are microseconds.
    type Name = 'rss_mb' | 'heap_used_mb' | 'heap_total_mb' | 'external_mb' | 'worker_heap_used_mb' | 'worker_heap_total_mb' | 'native_mb' | 'fds' | 'lag_pg_s' | 'lag_mdb_s';
    const series: Record<Name, Series> = { rss_mb: [], heap_used_mb: [], heap_total_mb: [], external_mb: [], worker_heap_used_mb: [], worker_heap_total_mb: [], native_mb: [], fds: [], lag_pg_s: [], lag_mdb_s: [] };
    while (Date.now() - t0 < minutes * 60_000) {
      await new Promise((r) => setTimeout(r, sampleMs));
      const t = (Date.now() - t0) / 60_000;
      const status = await readFile(`/proc/${daemon.pid}/status`, 'utf8');
      const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
      series.rss_mb.push([t, rss]);
      series.fds.push([t, (await readdir(`/proc/${daemon.pid}/fd`)).length]);
      const m = await scrape();
      const mb = (name: string): number => (metric(m, name) ?? 0) / 1024 / 1024;
      series.heap_used_mb.push([t, mb('dbwitness_nodejs_heap_size_used_bytes')]);
      series.heap_total_mb.push([t, mb('dbwitness_nodejs_heap_size_total_bytes')]);
      series.external_mb.push([t, mb('dbwitness_nodejs_external_memory_bytes')]);
      const workerMb = (kind: string): number => (metric(m, 'dbwitness_index_worker_heap_bytes', { kind }) ?? 0) / 1024 / 1024;
      series.worker_heap_used_mb.push([t, workerMb('used')]);
      series.worker_heap_total_mb.push([t, workerMb('total')]);
      series.native_mb.push([t, rss - mb('dbwitness_nodejs_heap_size_total_bytes') - workerMb('total')]);
      series.lag_pg_s.push([t, metric(m, 'dbwitness_capture_delay_seconds', { source: 'pg' }) ?? 0]);
      series.lag_mdb_s.push([t, metric(m, 'dbwitness_capture_delay_seconds', { source: 'mdb' }) ?? 0]);
    }
    stop.stopped = true;
    await Promise.all(writers);
    const expected = pgStats.changes + mdbStats.changes;
    const rowEvents = async (): Promise<number> => (await storedEvents(store)).filter((e) => e.action === 'insert' || e.action === 'update' || e.action === 'delete').length;
    await waitFor(async () => (await rowEvents()) >= expected, { what: 'every committed change stored', timeoutMs: 120_000 });
    daemon.kill('SIGTERM');
    const code = await exited(daemon);
    const stored = await rowEvents();

    const lines = [
      `\n## ${new Date().toISOString()} — ${minutes} min, ${rate} tx/s per source, sample every ${sampleMs / 1000} s`,
      '',
      `Machine: ${cpus().length} cores, load average ${load0.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end (shared with other work).`,
      `Daemon: NODE_OPTIONS ${daemonFlags === undefined ? '(none)' : `\`${daemonFlags}\``}; environment ${Object.keys(daemonEnv).length === 0 ? '(nothing added)' : `\`${process.env['SOAK_DAEMON_ENV']!.trim()}\``}.`,
      `Committed: ${pgStats.tx} PostgreSQL + ${mdbStats.tx} MariaDB transactions, ${expected} row changes; stored: ${stored} (${stored === expected ? 'exactly once' : 'MISMATCH'}); SIGTERM exit ${code}.`,
      '',
      '| metric | peak | slope per minute | slope, second half | late/early median ratio |',
      '|---|---|---|---|---|',
      ...Object.entries(series).map(([name, s]) => {
        const r = summarize(s);
        const signed = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;
        return `| ${name} | ${r.peak.toFixed(2)} | ${signed(r.slopePerMinute)} | ${signed(r.lateSlopePerMinute)} | ${r.ratio.toFixed(2)} (${r.late.toFixed(2)} / ${r.early.toFixed(2)}) |`;
      }),
      '',
    ];
    await appendFile(join(import.meta.dirname, 'RESULTS.md'), lines.join('\n'));
    // SOAK_SAMPLES_FILE: every sample as JSON ([minute, value] per metric) for a closer look.
    const samplesFile = process.env['SOAK_SAMPLES_FILE'];
    if (samplesFile !== undefined) await writeFile(samplesFile, JSON.stringify(series));
    process.stdout.write(lines.join('\n') + '\n');
    if (stored !== expected || code !== 0) process.exitCode = 1;
  } finally {
    await Promise.all([pgs.close(), mdb.close()]);
  }
}

await main();
