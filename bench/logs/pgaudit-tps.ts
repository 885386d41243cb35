/**
 * pgbench TPS with the recommended pgaudit and connection-log settings
 * (pgauditSetupSteps) divided by TPS without them, on a private PostgreSQL 15.
 * pgaudit stays preloaded in both variants (loading it needs a restart);
 * "without" sets pgaudit.log = 'none' and turns the connection log off.
 * Variants alternate; medians of several runs are compared.
 *
 *   npx tsx bench/logs/pgaudit-tps.ts [seconds=15] [rounds=3]
 */
import { join } from 'node:path';
import { exec } from '../../test/harness/proc.js';
import { startPostgres } from '../../test/harness/index.js';

const SECONDS = Number(process.argv[2] ?? 15);
const ROUNDS = Number(process.argv[3] ?? 3);

const WITH: Record<string, string> = {
  'pgaudit.log': 'read, role, ddl',
  'pgaudit.log_relation': 'on',
  'pgaudit.log_rows': 'on',
  log_connections: 'on',
  log_disconnections: 'on',
};
const WITHOUT: Record<string, string> = { 'pgaudit.log': 'none', 'pgaudit.log_relation': 'off', 'pgaudit.log_rows': 'off', log_connections: 'off', log_disconnections: 'off' };

const server = await startPostgres({
  version: 15,
  config: { shared_preload_libraries: 'pgaudit', logging_collector: 'on', log_destination: 'jsonlog', log_directory: 'log', log_timezone: 'UTC', shared_buffers: '128MB', max_wal_size: '1GB' },
});
try {
  const pgbench = join(server.clientBinDir, 'pgbench');
  const base = ['-h', server.host, '-p', String(server.port), '-U', 'postgres', 'postgres'];
  const init = await exec(pgbench, ['-i', '-s', '10', '-q', ...base], { timeoutMs: 300_000 });
  if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
  const apply = async (settings: Record<string, string>): Promise<void> => {
    for (const [k, v] of Object.entries(settings)) await server.query(`ALTER SYSTEM SET ${k} = '${v}'`);
    await server.query('SELECT pg_reload_conf()');
  };
  const run = async (extra: string[]): Promise<number> => {
    const r = await exec(pgbench, ['-T', String(SECONDS), '-c', '4', '-j', '2', '-n', ...extra, ...base], { timeoutMs: (SECONDS + 120) * 1000 });
    const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(r.stdout);
    if (r.code !== 0 || m === null) throw new Error(`pgbench failed: ${r.stderr}${r.stdout}`);
    return Number(m[1]);
  };
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const results: Record<string, unknown> = { seconds_per_run: SECONDS, rounds: ROUNDS, clients: 4, scale: 10, server: 'PostgreSQL 15 + pgaudit 1.7, fsync on' };
  for (const [name, extra] of [['tpcb', []], ['select_only', ['-S']]] as Array<[string, string[]]>) {
    const withTps: number[] = [];
    const withoutTps: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate which variant goes first so drift on a shared machine hits both.
      const order: Array<[Record<string, string>, number[]]> = i % 2 === 0 ? [[WITHOUT, withoutTps], [WITH, withTps]] : [[WITH, withTps], [WITHOUT, withoutTps]];
      for (const [settings, into] of order) {
        await apply(settings);
        into.push(await run(extra));
      }
    }
    results[name] = {
      tps_without: Math.round(median(withoutTps)),
      tps_with: Math.round(median(withTps)),
      ratio_with_over_without: Number((median(withTps) / median(withoutTps)).toFixed(3)),
      // Each round's two runs are back to back and share the machine's load at that moment.
      median_paired_ratio: Number(median(withTps.map((w, i) => w / withoutTps[i]!)).toFixed(3)),
      runs_without: withoutTps.map(Math.round),
      runs_with: withTps.map(Math.round),
    };
  }
  console.log(JSON.stringify(results, null, 2));
} finally {
  await server.close();
}
