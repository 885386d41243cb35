/**
 * A pipeline restart (retry after a source error, SIGHUP restart, removal
 * and re-adding) closes its chain and opens it again through the daemon's
 * store wrapper: the restarted pipeline sees the same durable head and
 * checkpoint, and the monitor keeps the closed head for the final anchor.
 */
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { observeStore } from '../../src/daemon/observed-store.js';
import { SourceMonitor } from '../../src/daemon/source-monitor.js';
import { drafts, SOURCE, tempStore } from '../unit/store-helpers.js';

describe('chain reopen across pipeline restarts', () => {
  it('a closed and reopened chain continues from the same durable head and checkpoint', async () => {
    await using tmp = await tempStore();
    const monitor = new SourceMonitor();
    const store = observeStore(await openStore(tmp.dir, { signingKeyFile: tmp.keyFile }), { monitor, rules: () => null, timer: null });
    const first = await store.openChain(SOURCE);
    await first.append(drafts(0, 5), 'cp-5');
    await first.close();
    expect(monitor.get(SOURCE.id).chain).toBeNull();
    expect(monitor.head(monitor.get(SOURCE.id))?.seq).toBe(5);
    const second = await store.openChain(SOURCE);
    expect(second.head().seq).toBe(5);
    expect(second.checkpoint()?.checkpoint).toBe('cp-5');
    expect((await second.append(drafts(5, 8), 'cp-8')).map((e) => e.seq)).toEqual([6, 7, 8]);
    await second.close();
    await store.close();
  });
});
