/**
 * Lines per second the pglog source parses and stores (fsync'd, hash-chained,
 * through the real pipeline and file store) versus reading and splitting
 * the same file raw. Runs alternate between the two, medians are reported.
 *
 * A third variant drains the source without storing, to show which part
 * costs what.
 *
 *   npx tsx bench/logs/parse-store.ts [lines=200000] [runs=5]
 */
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/logger.js';
import { runPipeline } from '../../src/pipeline/index.js';
import { openStore } from '../../src/store/index.js';
import { openPglogSource, PglogSourceConfig } from '../../adapters/pglog/index.js';
import { workloadLine } from './workload-lines.js';

const LINES = Number(process.argv[2] ?? 200_000);
const RUNS = Number(process.argv[3] ?? 5);

async function raw(file: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  let n = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) n++;
  }
  if (n !== LINES) throw new Error(`raw read ${n} lines`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function parseAndStore(dir: string, storeDir: string): Promise<{ seconds: number; events: number }> {
  const source = await openPglogSource(PglogSourceConfig.parse({ id: 'bench', url: `pglog://${dir}`, poll_ms: 10 }), { logger: silentLogger() });
  const store = await openStore(storeDir, { unsigned: true });
  const chain = await store.openChain(source.source);
  const controller = new AbortController();
  let events = 0;
  const expected = Math.floor(LINES / 20) * 17 + Math.min(LINES % 20, 17);
  const t0 = process.hrtime.bigint();
  let t1 = t0;
  // A wrong expectation must fail loudly, not hang.
  let last = -1;
  const guard = setInterval(() => {
    if (events === last) controller.abort();
    last = events;
  }, 10_000);
  await runPipeline({
    source,
    chain,
    logger: silentLogger(),
    signal: controller.signal,
    onDurable: (stored) => {
      events += stored.length;
      if (events >= expected) {
        t1 = process.hrtime.bigint();
        controller.abort();
      }
    },
  });
  clearInterval(guard);
  await chain.close();
  await store.close();
  if (events < expected) throw new Error(`stored ${events} events, expected ${expected}`);
  return { seconds: Number(t1 - t0) / 1e9, events };
}

/** The source alone (tail, frame, parse, interpret), messages drained without storing. */
async function parseOnly(dir: string): Promise<number> {
  const source = await openPglogSource(PglogSourceConfig.parse({ id: 'bench', url: `pglog://${dir}`, poll_ms: 10 }), { logger: silentLogger() });
  const controller = new AbortController();
  const t0 = process.hrtime.bigint();
  let t1 = t0;
  for await (const m of source.messages(null, controller.signal)) {
    // The source reports its final idle checkpoint once it reached the end of the file.
    if (m.kind === 'idle') {
      t1 = process.hrtime.bigint();
      controller.abort();
    }
  }
  return Number(t1 - t0) / 1e9;
}

/** Runs `fn`, returning its result and the CPU time (user + system, microseconds) it used. */
async function withCpu<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const before = process.cpuUsage();
  const result = await fn();
  const used = process.cpuUsage(before);
  return [result, used.user + used.system];
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const work = mkdtempSync(join(tmpdir(), 'dbwitness-bench-logs-'));
try {
  const logDir = join(work, 'log');
  await import('node:fs/promises').then((fs) => fs.mkdir(logDir));
  const file = join(logDir, 'postgresql-bench.json');
  writeFileSync(file, Array.from({ length: LINES }, (_, i) => workloadLine(i)).join('\n') + '\n');
  const rawRates: number[] = [];
  const fullRates: number[] = [];
  const parseRates: number[] = [];
  // CPU microseconds per line: far less sensitive than wall time to other load on a shared machine.
  const rawCpu: number[] = [];
  const parseCpu: number[] = [];
  const fullCpu: number[] = [];
  let events = 0;
  for (let r = 0; r < RUNS; r++) {
    const [rawSeconds, rawUs] = await withCpu(() => raw(file));
    rawRates.push(LINES / rawSeconds);
    rawCpu.push(rawUs / LINES);
    const [parseSeconds, parseUs] = await withCpu(() => parseOnly(logDir));
    parseRates.push(LINES / parseSeconds);
    parseCpu.push(parseUs / LINES);
    const storeDir = join(work, `store-${r}`);
    const [full, fullUs] = await withCpu(() => parseAndStore(logDir, storeDir));
    fullCpu.push(fullUs / LINES);
    events = full.events;
    fullRates.push(LINES / full.seconds);
    rmSync(storeDir, { recursive: true, force: true });
  }
  const rawMed = median(rawRates);
  const fullMed = median(fullRates);
  const parseMed = median(parseRates);
  console.log(JSON.stringify({ lines: LINES, runs: RUNS, events_per_run: events, raw_lines_per_s: Math.round(rawMed), parse_only_lines_per_s: Math.round(parseMed), parse_store_lines_per_s: Math.round(fullMed), ratio_parse_only_over_raw: Number((parseMed / rawMed).toFixed(4)), ratio_parse_store_over_raw: Number((fullMed / rawMed).toFixed(4)), cpu_us_per_line: { raw: Number(median(rawCpu).toFixed(3)), parse_only: Number(median(parseCpu).toFixed(2)), parse_store: Number(median(fullCpu).toFixed(2)) }, raw_runs: rawRates.map(Math.round), parse_runs: parseRates.map(Math.round), full_runs: fullRates.map(Math.round) }, null, 2));
} finally {
  rmSync(work, { recursive: true, force: true });
}
