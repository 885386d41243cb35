import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore, readEvents, parseEncryptionKey, loadEncryptionKey } from '../../src/store/index.js';
import { verifyStore } from '../../src/store/verify-store.js';
import { SOURCE, drafts, tempStore } from './store-helpers.js';

async function collect(dir: string, key?: Buffer) {
  const out = [];
  for await (const r of readEvents(dir, key === undefined ? {} : { encryptionKey: key })) out.push(r.event);
  return out;
}

describe('encryption at rest', () => {
  it('round-trips through the writer, reader, recovery and verify; nothing readable on disk', async () => {
    await using t = await tempStore();
    const key = randomBytes(32);
    let store = await openStore(t.dir, { signingKeyFile: t.keyFile, encryptionKey: key, segmentMaxBytes: 8000 });
    let chain = await store.openChain(SOURCE);
    const a = await chain.append(drafts(0, 10), 'cp-1');
    const b = await chain.append(drafts(10, 12));
    await store.close();

    const raw = await readFile(join(t.dir, SOURCE.id, 'seg-000001.jsonl'), 'utf8');
    expect(raw).not.toMatch(/Patient|alice|clinic|cp-1/);
    expect(raw.split('\n').filter(Boolean).every((l) => l.startsWith('~'))).toBe(true);

    expect(await collect(t.dir, key)).toEqual([...a, ...b]);
    store = await openStore(t.dir, { signingKeyFile: t.keyFile, encryptionKey: key });
    chain = await store.openChain(SOURCE);
    expect(chain.head().seq).toBe(12);
    expect(chain.checkpoint()?.checkpoint).toBe('cp-1');
    expect(chain.tail()).not.toBeNull();
    expect(await chain.append(drafts(0, 12))).toHaveLength(0);
    await store.close();

    const r = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile, encryptionKey: key });
    expect(r.sources[0]?.issues).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.sources[0]?.sealed).toBeGreaterThan(0);
  });

  it('names the problem and the fix for a missing or wrong key (exit code 2)', async () => {
    await using t = await tempStore();
    const key = randomBytes(32);
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile, encryptionKey: key });
    await (await store.openChain(SOURCE)).append(drafts(0, 3), 'cp');
    await store.close();
    const wrong = randomBytes(32);
    await expect(collect(t.dir)).rejects.toMatchObject({ code: 'E_STORE_KEY_REQUIRED', exitCode: 2 });
    await expect(collect(t.dir, wrong)).rejects.toMatchObject({ code: 'E_STORE_DECRYPT', exitCode: 2 });
    await expect(verifyStore(t.dir, { encryptionKey: wrong })).rejects.toMatchObject({ code: 'E_STORE_DECRYPT', exitCode: 2 });
    const reopened = await openStore(t.dir, { signingKeyFile: t.keyFile, encryptionKey: wrong });
    await expect(reopened.openChain(SOURCE)).rejects.toMatchObject({ code: 'E_STORE_DECRYPT', fix: expect.stringMatching(/DBWITNESS_ENCRYPTION_KEY/) });
    await reopened.close();
  });

  it('reports an altered encrypted line as tampering, not as a wrong key', async () => {
    await using t = await tempStore();
    const key = randomBytes(32);
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile, encryptionKey: key });
    await (await store.openChain(SOURCE)).append(drafts(0, 5), 'cp');
    await store.close();
    const seg = join(t.dir, SOURCE.id, 'seg-000001.jsonl');
    const lines = (await readFile(seg, 'utf8')).split('\n');
    const l = lines[3] as string;
    lines[3] = l.slice(0, 20) + (l[20] === 'A' ? 'B' : 'A') + l.slice(21);
    await writeFile(seg, lines.join('\n'));
    const r = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile, encryptionKey: key });
    expect(r.ok).toBe(false);
    expect(r.sources[0]?.issues[0]?.problem).toMatch(/cannot be decrypted/);
  });

  it('accepts keys as base64 or hex, from a file or the environment', async () => {
    await using t = await tempStore();
    const key = randomBytes(32);
    expect(parseEncryptionKey(key.toString('hex'), 'x')).toEqual(key);
    expect(parseEncryptionKey(` ${key.toString('base64')}\n`, 'x')).toEqual(key);
    expect(() => parseEncryptionKey('c2hvcnQ=', 'x')).toThrow(/not 32 bytes/);
    const file = join(t.root, 'k');
    await writeFile(file, key.toString('base64'));
    expect(await loadEncryptionKey(file, {})).toEqual(key);
    expect(await loadEncryptionKey(undefined, { DBWITNESS_ENCRYPTION_KEY: key.toString('hex') })).toEqual(key);
    expect(await loadEncryptionKey(undefined, {})).toBeUndefined();
  });
});
