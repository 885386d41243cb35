/**
 * Hot-path cost of the daemon's additions: `npx tsx bench/soak/overhead.ts [--runs 5] [--batches 200]`
 *
 * Appends the same batches of 500 realistic drafts to a real file store
 * (fdatasync per append) through the plain chain (baseline) and through the
 * daemon's observed chain with every rule on (after-hours and allowlist
 * enabled), alternating the two, and reports events/s medians and their
 * ratio; plus the CPU cost of the rules alone in microseconds per event.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AlertRulesConfig } from '../../src/config/config-schema.js';
import { AlertRules } from '../../src/alerts/alert-rules.js';
import { ObservedChain } from '../../src/daemon/observed-store.js';
import type { Chain } from '../../src/core/ports.js';
import type { DraftEvent } from '../../src/core/event.js';
import { openStore } from '../../src/store/index.js';
import { benchDraft, BENCH_SOURCE } from '../store/fixture.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, batches: { type: 'string', default: '200' } } });
const runs = Number(values.runs);
const batches = Number(values.batches);
const BATCH = 500;

const RULES = AlertRulesConfig.parse({ account_allowlist: { accounts: ['app_rw'] }, after_hours: { enabled: true, start: '00:00', end: '23:59', days: [1, 2, 3, 4, 5, 6, 7] } });

function batch(b: number): DraftEvent[] {
  return Array.from({ length: BATCH }, (_, i) => benchDraft(b * BATCH + i));
}

async function appendRun(observed: boolean): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'dbw-overhead-'));
  try {
    const store = await openStore(dir, { unsigned: true });
    const raw = await store.openChain(BENCH_SOURCE);
    const chain: Chain = observed ? new ObservedChain(raw, new AlertRules(RULES), null) : raw;
    const data = Array.from({ length: batches }, (_, b) => batch(b));
    const t0 = performance.now();
    for (let b = 0; b < batches; b++) await chain.append(data[b]!, `cp${b}`);
    const seconds = (performance.now() - t0) / 1000;
    await store.close();
    return (batches * BATCH) / seconds;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function rulesMicrosPerEvent(): number {
  const rules = new AlertRules(RULES);
  const data = Array.from({ length: 200 }, (_, b) => batch(b));
  const t0 = performance.now();
  for (const d of data) rules.evaluate(d);
  return ((performance.now() - t0) * 1000) / (200 * BATCH);
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const base: number[] = [];
const obs: number[] = [];
const cpu: number[] = [];
for (let r = 0; r < runs; r++) {
  // Alternate the order so drift on a shared machine hits both equally.
  if (r % 2 === 0) {
    base.push(await appendRun(false));
    obs.push(await appendRun(true));
  } else {
    obs.push(await appendRun(true));
    base.push(await appendRun(false));
  }
  cpu.push(rulesMicrosPerEvent());
}
process.stdout.write(
  `store append, ${batches} x ${BATCH} events, medians of ${runs}:\n` +
    `  plain chain (baseline): ${median(base).toFixed(0)} events/s\n` +
    `  observed chain + rules: ${median(obs).toFixed(0)} events/s  (ratio ${(median(obs) / median(base)).toFixed(3)})\n` +
    `  rules alone: ${median(cpu).toFixed(2)} us/event\n`,
);
