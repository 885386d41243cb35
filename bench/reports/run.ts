/**
 * Report benchmark: `report patient` through the index vs the same query by
 * a full scan of the store (the baseline), measured in the same run, and
 * reindex throughput.
 *
 *   npx tsx bench/reports/run.ts [--events 1000000] [--patients 100000] [--dir DIR] [--generate-only] [--scan-runs 3] [--runs 15]
 *
 * With --dir pointing at an existing store the generation step is skipped
 * (and the store is kept); --generate-only stops after writing it.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IndexReader, rebuildIndex } from '../../src/index/index.js';
import { patientReport, renderReport, ReportsConfig, ZoneClock, parseRange, activityRow, type ReportRow } from '../../src/report/index.js';
import { readEvents } from '../../src/store/index.js';
import { generateStore, patientOf } from './generate.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    patients: { type: 'string', default: '100000' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    runs: { type: 'string', default: '15' },
    'scan-runs': { type: 'string', default: '3' },
    'reindex-runs': { type: 'string', default: '1' },
    'generate-only': { type: 'boolean', default: false },
  },
});
const total = Number(values.events);
const patients = Number(values.patients);
const dir = values.dir ?? (await mkdtemp(join(tmpdir(), 'dbw-bench-reports-')));

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const secs = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;
const log = (s: string): void => void process.stderr.write(`${s}\n`);

try {
  if (!existsSync(join(dir, 'pg-main'))) {
    const t0 = process.hrtime.bigint();
    await generateStore(dir, total, patients, (n) => {
      if (n % 500_000 === 0) log(`  generated ${n} events (${(n / secs(t0)).toFixed(0)}/s)`);
    });
    log(`generate: ${total} events in ${secs(t0).toFixed(1)} s (${(total / secs(t0)).toFixed(0)} events/s)`);
  }
  if (values['generate-only']) process.exit(0);
  let storeBytes = 0;
  for (const s of ['pg-main', 'maria-lab']) {
    const { readdir } = await import('node:fs/promises');
    for (const f of await readdir(join(dir, s))) storeBytes += (await stat(join(dir, s, f))).size;
  }

  // Wall time and this process's CPU time: on a shared machine the CPU time is the steadier number.
  const reindexTimes: number[] = [];
  const reindexCpu: number[] = [];
  for (let r = 0; r < Number(values['reindex-runs']); r++) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    const res = await rebuildIndex(dir);
    reindexTimes.push(secs(t0));
    const c = process.cpuUsage(c0);
    reindexCpu.push((c.user + c.system) / 1e6);
    log(`reindex: ${res.added} events in ${reindexTimes.at(-1)!.toFixed(1)} s (${reindexCpu.at(-1)!.toFixed(1)} s CPU)`);
  }
  const indexBytes = (await stat(join(dir, 'index.sqlite'))).size;

  const clock = new ZoneClock('UTC');
  const reader = IndexReader.open(join(dir, 'index.sqlite'), dir);
  const ctx = { reader, range: parseRange(undefined, undefined, clock), clock, config: ReportsConfig.parse({}), storeDir: dir };
  const pick = (k: number): string => patientOf(k * 104_729 + 17, patients);

  // Index path: the whole report (query, rows, rendering), as `dbwitness report patient` does after its catch-up.
  const indexTimes: number[] = [];
  let rowsSeen = 0;
  for (let k = 0; k < Number(values.runs); k++) {
    const t0 = process.hrtime.bigint();
    const report = patientReport(ctx, pick(k));
    renderReport(report, 'table');
    indexTimes.push(secs(t0));
    rowsSeen += report.sections[0]!.rows.length;
  }

  // Baseline: the same rows by reading every event of the store.
  const scanTimes: number[] = [];
  for (let k = 0; k < Number(values['scan-runs']); k++) {
    const id = pick(k);
    const t0 = process.hrtime.bigint();
    const rows: ReportRow[] = [];
    for await (const { event: e } of readEvents(dir)) {
      if (e.subject?.['patient_id'] !== id) continue;
      rows.push(
        activityRow({
          id: e.id, source: e.source.id, seq: e.seq, time: e.time, action: e.action, outcome: e.outcome, db_user: e.actor.db_user, role: e.actor.role,
          app_user: e.actor.app_user, client_addr: e.actor.client_addr, client_port: e.actor.client_port, application: e.actor.application,
          session_id: e.actor.session_id, identity: e.actor.identity, schema_name: e.object?.schema ?? null, table_name: e.object?.table ?? null,
          key_text: null, mapped: 1, patient_id: id, patient_before: null, tx_id: e.tx?.id ?? null, tx_index: e.tx?.index ?? null, position: e.position,
          columns: e.changes ? JSON.stringify(e.changes.columns) : null, detail: null, statement: null, file: null, offset: null,
        }),
      );
    }
    rows.sort((a, b) => (String(a['time']) < String(b['time']) ? -1 : 1));
    scanTimes.push(secs(t0));
    // The two paths must agree before their timings mean anything.
    const viaIndex = patientReport(ctx, id).sections[0]!.rows.map((r) => r['event_id']);
    if (JSON.stringify(viaIndex) !== JSON.stringify(rows.map((r) => r['event_id']))) throw new Error(`index and scan disagree for patient ${id}`);
  }
  reader.close();

  const result = {
    events: total,
    patients,
    store_mb: Math.round(storeBytes / 1e6),
    index_mb: Math.round(indexBytes / 1e6),
    reindex_s: median(reindexTimes),
    reindex_events_per_s: Math.round(total / median(reindexTimes)),
    reindex_cpu_s: +median(reindexCpu).toFixed(1),
    reindex_events_per_cpu_s: Math.round(total / median(reindexCpu)),
    report_patient_index_median_ms: +(median(indexTimes) * 1000).toFixed(2),
    report_patient_scan_median_ms: +(median(scanTimes) * 1000).toFixed(0),
    speedup: +(median(scanTimes) / median(indexTimes)).toFixed(0),
    rows_per_patient_avg: +(rowsSeen / indexTimes.length).toFixed(1),
    runs: { index: indexTimes.length, scan: scanTimes.length },
  };
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
} finally {
  if (!values.keep && !values.dir) await rm(dir, { recursive: true, force: true });
}
