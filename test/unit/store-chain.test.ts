import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJson, eventHash } from '../../src/core/canonical.js';
import { GENESIS_HASH, AuditEvent } from '../../src/core/event.js';
import { openStore, readEvents, listSources } from '../../src/store/index.js';
import { SOURCE, drafts, tempStore } from './store-helpers.js';

describe('store chain', () => {
  it('stores canonical, hash-chained lines that the reader returns in order', async () => {
    await using t = await tempStore();
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    const chain = await store.openChain(SOURCE);
    const a = await chain.append(drafts(0, 3), 'cp-1');
    const b = await chain.append(drafts(3, 5), 'cp-2');
    expect(a.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(b.map((e) => e.seq)).toEqual([4, 5]);
    expect(a[0]?.prev).toBe(GENESIS_HASH);
    expect(b[0]?.prev).toBe(a[2]?.hash);
    for (const e of [...a, ...b]) {
      expect(e.hash).toBe(eventHash(e));
      expect(AuditEvent.safeParse(e).success).toBe(true);
    }
    expect(chain.head()).toEqual({ seq: 5, hash: b[1]?.hash });
    expect(chain.checkpoint()?.checkpoint).toBe('cp-2');
    expect(chain.checkpoint()?.seq).toBe(5);
    expect(chain.tail()).toBeNull();
    await store.close();

    const text = await readFile(join(t.dir, SOURCE.id, 'seg-000001.jsonl'), 'utf8');
    const eventLines = text.split('\n').filter((l) => l.startsWith('{"action":'));
    expect(eventLines).toEqual([...a, ...b].map((e) => canonicalJson(e)));

    expect(await listSources(t.dir)).toEqual([SOURCE.id]);
    const read = [];
    for await (const r of readEvents(t.dir)) read.push(r);
    expect(read.map((r) => r.event)).toEqual([...a, ...b]);
    expect(read[0]?.file).toBe(join(t.dir, SOURCE.id, 'seg-000001.jsonl'));
    // offsets are byte offsets (the fixture holds non-ASCII text)
    const bytes = Buffer.from(text, 'utf8');
    expect(bytes.subarray(read[1]?.offset ?? -1).toString('utf8').startsWith(canonicalJson(a[1]))).toBe(true);
  });

  it('opens a closed chain again in the same store (a supervisor retrying a source)', async () => {
    await using t = await tempStore();
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    const first = await store.openChain(SOURCE);
    await first.append(drafts(0, 2), 'cp-1');
    await expect(store.openChain(SOURCE)).rejects.toMatchObject({ code: 'E_STORE_CHAIN_OPEN' });
    await first.close();
    const again = await store.openChain(SOURCE);
    expect(again.head().seq).toBe(2);
    expect(again.checkpoint()?.checkpoint).toBe('cp-1');
    const more = await again.append(drafts(2, 3), 'cp-2');
    expect(more.map((e) => e.seq)).toEqual([3]);
    await store.close();
  });

  it('recovers head, checkpoint and tail on open, and continues the chain', async () => {
    await using t = await tempStore();
    let store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    let chain = await store.openChain(SOURCE);
    await chain.append(drafts(0, 4), 'cp-A');
    const cut = await chain.append(drafts(4, 6)); // a transaction cut by a crash: no checkpoint
    await store.close();

    store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    chain = await store.openChain(SOURCE);
    expect(chain.head()).toEqual({ seq: 6, hash: cut[1]?.hash });
    expect(chain.checkpoint()).toMatchObject({ checkpoint: 'cp-A', seq: 4 });
    expect(chain.tail()).toEqual({ position: cut[1]?.position, txId: 'tx5', txIndex: 0 });
    const next = await chain.append(drafts(6, 7), 'cp-B');
    expect(next[0]?.seq).toBe(7);
    expect(next[0]?.prev).toBe(cut[1]?.hash);
    expect(chain.tail()).toBeNull();
    await store.close();
  });

  it('drops replayed events by id, within one append, across appends and after reopening', async () => {
    await using t = await tempStore();
    let store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    let chain = await store.openChain(SOURCE);
    await chain.append(drafts(0, 10), 'cp-1');
    expect(await chain.append(drafts(5, 12), 'cp-2')).toHaveLength(2);
    const dup = drafts(12, 13);
    expect(await chain.append([...dup, ...dup])).toHaveLength(1);
    await store.close();
    store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    chain = await store.openChain(SOURCE);
    expect(await chain.append(drafts(0, 13), 'cp-3')).toHaveLength(0);
    expect(chain.head().seq).toBe(13);
    expect(chain.checkpoint()?.checkpoint).toBe('cp-3');
    await store.close();
  });

  it('keeps the dedupe window bounded', async () => {
    await using t = await tempStore();
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile, dedupeWindow: 5 });
    const chain = await store.openChain(SOURCE);
    await chain.append(drafts(0, 20));
    // Only the last 5 ids are remembered: older ids are accepted again.
    expect(await chain.append(drafts(14, 20))).toHaveLength(1);
    await store.close();
  });

  it('refuses to open without a signing key unless unsigned is allowed', async () => {
    await using t = await tempStore();
    await expect(openStore(t.dir, {})).rejects.toMatchObject({ code: 'E_STORE_NO_SIGNING_KEY' });
    const store = await openStore(t.dir, { unsigned: true });
    await store.close();
  });

  it('refuses a different signing key for an existing store', async () => {
    await using t = await tempStore();
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    await store.close();
    await using other = await tempStore();
    await expect(openStore(t.dir, { signingKeyFile: other.keyFile })).rejects.toMatchObject({ code: 'E_STORE_KEY_MISMATCH' });
  });

  it('rejects an invalid source id with a fix', async () => {
    await using t = await tempStore();
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    await expect(store.openChain({ ...SOURCE, id: '../evil' })).rejects.toMatchObject({ code: 'E_STORE_SOURCE_ID' });
    await store.close();
  });
});
