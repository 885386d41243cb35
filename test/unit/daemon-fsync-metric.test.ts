/**
 * The daemon's fsync histogram observes each fdatasync of the store (one per
 * group commit), not each append: appends that share a group commit share
 * one fsync. The append histogram still counts every append.
 */
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import type { WriteStats } from '../../src/store/index.js';
import { DaemonMetrics } from '../../src/daemon/metrics.js';
import { observeStore } from '../../src/daemon/observed-store.js';
import { SourceMonitor } from '../../src/daemon/source-monitor.js';
import { draft, SOURCE, tempStore } from './store-helpers.js';

function sample(text: string, name: string): number {
  const m = new RegExp(`^${name}\\{source="${SOURCE.id}"\\} (\\S+)$`, 'm').exec(text);
  if (m === null) throw new Error(`${name} not in the metrics`);
  return Number(m[1]);
}

describe('store fsync latency metric', () => {
  it('counts fdatasyncs, not appends, and times them apart from the append', async () => {
    await using tmp = await tempStore();
    const monitor = new SourceMonitor();
    const metrics = new DaemonMetrics(monitor);
    const store = observeStore(await openStore(tmp.dir, { signingKeyFile: tmp.keyFile }), { monitor, rules: () => null, timer: metrics });
    const chain = await store.openChain(SOURCE);
    const inner = () => (monitor.get(SOURCE.id).chain as unknown as { writeStats: WriteStats }).writeStats;

    // Eight appends issued in one tick form one group commit: one fdatasync.
    await Promise.all(Array.from({ length: 8 }, (_, i) => chain.append([draft(i)], `cp${i}`)));
    expect(inner().fsyncs).toBe(1);
    // Three appends one after the other: three more.
    for (let i = 8; i < 11; i++) await chain.append([draft(i)], `cp${i}`);
    expect(inner().fsyncs).toBe(4);

    const text = (await metrics.text()).body;
    expect(sample(text, 'dbwitness_store_fsync_seconds_count')).toBe(4);
    expect(sample(text, 'dbwitness_store_append_seconds_count')).toBe(11);
    expect(sample(text, 'dbwitness_store_fsyncs')).toBe(4);
    const fsyncSum = sample(text, 'dbwitness_store_fsync_seconds_sum');
    expect(fsyncSum).toBeGreaterThan(0);
    // Each append waited for its fsync, and for more (queueing, write).
    expect(fsyncSum).toBeLessThan(sample(text, 'dbwitness_store_append_seconds_sum'));

    // A reopened chain (pipeline restart) reports to the same histogram.
    await chain.close();
    const again = await store.openChain(SOURCE);
    await again.append([draft(11)], 'cp11');
    expect(sample((await metrics.text()).body, 'dbwitness_store_fsync_seconds_count')).toBe(5);
    await again.close();
    await store.close();
  });
});
