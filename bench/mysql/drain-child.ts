/**
 * One measured drain in a fresh process (clean heap and RSS): streams the
 * binlog from a checkpoint through the MySQL source, either alone
 * (mode=source: messages counted and dropped) or through the real
 * pipeline into a fresh store (mode=pipeline), until `expect` row changes
 * were seen; prints { ms, changes, idleRss, peakRss } as JSON.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mysqlAdapter } from '../../adapters/mysql/index.js';
import { MysqlSourceConfig } from '../../adapters/mysql/mysql-config.js';
import { silentLogger } from '../../src/core/logger.js';
import { runPipeline } from '../../src/pipeline/index.js';
import { openStore } from '../../src/store/index.js';

const args = JSON.parse(process.env['DRAIN_ARGS'] ?? '{}') as { url: string; checkpoint: string; expect: number; mode: 'source' | 'pipeline'; tables: string[] };
const logger = silentLogger();
const config = MysqlSourceConfig.parse({ id: 'bench', url: args.url, tables: args.tables });
const source = await mysqlAdapter.openSource(config, { logger });
let peak = process.memoryUsage().rss;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const ac = new AbortController();
let idleRss = 0;
let changes = 0;
let t0 = 0;

if (args.mode === 'source') {
  for await (const m of source.messages(args.checkpoint, ac.signal)) {
    if (t0 === 0) {
      idleRss = process.memoryUsage().rss;
      peak = idleRss;
      t0 = performance.now();
    }
    if (m.kind === 'change' && ++changes >= args.expect) break;
  }
} else {
  const dir = await mkdtemp(join(tmpdir(), 'dbw-bench-store-'));
  const store = await openStore(dir, { unsigned: true, logger });
  const chain = await store.openChain(source.source);
  global.gc?.();
  idleRss = process.memoryUsage().rss;
  peak = idleRss;
  t0 = performance.now();
  await runPipeline({
    source: { source: source.source, messages: () => source.messages(args.checkpoint, ac.signal), acknowledge: (c) => source.acknowledge(c), close: () => source.close() },
    chain,
    logger,
    signal: ac.signal,
    spillDir: dir,
    onDurable: (events) => {
      for (const e of events) if (e.action === 'insert' || e.action === 'update' || e.action === 'delete') changes++;
      if (changes >= args.expect) ac.abort();
    },
  });
  await chain.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
const ms = performance.now() - t0;
clearInterval(sampler);
ac.abort();
await source.close();
process.stdout.write(JSON.stringify({ ms, changes, idleRss, peakRss: peak }) + '\n');
process.exit(0);
