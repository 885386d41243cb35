import { spawn } from 'node:child_process';
import { appendFile, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { openStore } from '../../src/store/index.js';
import { verifyStore } from '../../src/store/verify-store.js';
import { SOURCE, draft, drafts, tempStore } from './store-helpers.js';

async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('store durability', () => {
  it('group-commits concurrent appends into few fsyncs', async () => {
    await using t = await tempStore();
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    const chain = await store.openChain(SOURCE);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => chain.append([draft(i)], `cp-${i}`)));
    expect(results.map((r) => r[0]?.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(chain.stats.events).toBe(200);
    expect(chain.stats.fsyncs).toBeLessThanOrEqual(2);
    expect(chain.checkpoint()).toMatchObject({ checkpoint: 'cp-199', seq: 200 });
    // A second wave while the first is in flight still batches.
    const before = chain.stats.fsyncs;
    const wave = [];
    for (let i = 200; i < 400; i++) {
      wave.push(chain.append([draft(i)]));
      if (i % 50 === 0) await Promise.resolve();
    }
    await Promise.all(wave);
    expect(chain.stats.fsyncs - before).toBeLessThan(20);
    await store.close();
    expect((await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile })).ok).toBe(true);
  });

  it('truncates a torn last line on open, reports it, and continues the chain', async () => {
    await using t = await tempStore();
    let store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    let chain = await store.openChain(SOURCE);
    await chain.append(drafts(0, 5), 'cp-1');
    await store.close();
    const seg = join(t.dir, SOURCE.id, 'seg-000001.jsonl');
    const size = (await stat(seg)).size;
    await appendFile(seg, '{"action":"insert","actor":{"db_us');
    expect((await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile })).warnings.join()).toMatch(/partial line/);

    const logs: string[] = [];
    const sink = new Writable({ write(c, _e, cb) { logs.push(String(c)); cb(); } });
    store = await openStore(t.dir, { signingKeyFile: t.keyFile, logger: createLogger('warn', sink) });
    chain = await store.openChain(SOURCE);
    expect(store.repairs()).toEqual([{ sourceId: SOURCE.id, file: seg, offset: size, bytes: 34 }]);
    expect(logs.join()).toMatch(/torn last line/);
    expect((await stat(seg)).size).toBe(size);
    expect(chain.head().seq).toBe(5);
    await chain.append(drafts(5, 6), 'cp-2');
    await store.close();
    expect((await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile })).ok).toBe(true);
  });

  it('never modifies a sealed segment: a damaged sealed newest segment refuses to open', async () => {
    await using t = await tempStore();
    let store = await openStore(t.dir, { signingKeyFile: t.keyFile, segmentMaxBytes: 1000 });
    const chain = await store.openChain(SOURCE);
    await chain.append(drafts(0, 3), 'cp');
    await store.close();
    const names = await readdir(join(t.dir, SOURCE.id));
    expect(names).toContain('seg-000001.seal.json');
    const seg = join(t.dir, SOURCE.id, 'seg-000001.jsonl');
    await appendFile(seg, '{"torn');
    const damaged = await readFile(seg);
    store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    await expect(store.openChain(SOURCE)).rejects.toMatchObject({ code: 'E_STORE_CORRUPT', exitCode: 1 });
    expect(await readFile(seg)).toEqual(damaged);
    await store.close();
  });

  it('keeps events and checkpoint consistent across a kill -9 mid-append', async () => {
    await using t = await tempStore();
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'store-crash-writer.ts'), t.dir, t.keyFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += String(c)));
    const acked = (): number => Number(out.trim().split('\n').filter(Boolean).at(-1) ?? '0');
    await until(async () => acked() >= 2000, 'the writer to acknowledge 2000 events', 30_000);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const lastAck = acked();
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    const chain = await store.openChain(SOURCE);
    // Everything acknowledged is there; the checkpoint never runs ahead of its events.
    expect(chain.head().seq).toBeGreaterThanOrEqual(lastAck);
    const cp = chain.checkpoint();
    expect(cp).not.toBeNull();
    expect(cp?.seq).toBeGreaterThanOrEqual(lastAck);
    expect(cp?.seq).toBeLessThanOrEqual(chain.head().seq);
    expect(cp?.checkpoint).toBe(`cp-${cp?.seq}`);
    // Replaying from the checkpoint adds nothing already stored.
    const head = chain.head().seq;
    const replay = await chain.append(drafts((cp?.seq ?? 0), head + 10), `cp-${head + 10}`);
    expect(replay.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => head + 1 + i));
    await store.close();
    expect((await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile })).ok).toBe(true);
  }, 60_000);

  it('allows one writer per chain: a live lock holder refuses, a dead one is taken over', async () => {
    await using t = await tempStore();
    const chainDir = join(t.dir, SOURCE.id);
    await mkdir(chainDir, { recursive: true });
    await writeFile(join(chainDir, 'LOCK'), `${process.ppid}\n`); // alive, and not us
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    await expect(store.openChain(SOURCE)).rejects.toMatchObject({ code: 'E_STORE_LOCKED', fix: expect.stringMatching(/remove .*LOCK/) });
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.once('exit', r));
    await writeFile(join(chainDir, 'LOCK'), `${dead.pid}\n`);
    const chain = await store.openChain(SOURCE);
    expect(await readFile(join(chainDir, 'LOCK'), 'utf8')).toBe(`${process.pid}\n`);
    await chain.append(drafts(0, 1), 'cp');
    await store.close();
    expect(await stat(join(chainDir, 'LOCK')).catch(() => null)).toBeNull();
    expect((await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile })).ok).toBe(true);
  });

  it('creates owner-only directories and files', async () => {
    await using t = await tempStore();
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile, segmentMaxBytes: 1000 });
    const chain = await store.openChain(SOURCE);
    await chain.append(drafts(0, 3), 'cp');
    await chain.append(drafts(3, 4), 'cp2');
    await store.close();
    const chainDir = join(t.dir, SOURCE.id);
    expect((await stat(t.dir)).mode & 0o777).toBe(0o700);
    expect((await stat(chainDir)).mode & 0o777).toBe(0o700);
    const names = await readdir(chainDir);
    expect(names.some((n) => n.endsWith('.seal.json'))).toBe(true);
    for (const n of names) expect({ n, mode: (await stat(join(chainDir, n))).mode & 0o777 }).toEqual({ n, mode: 0o600 });
    expect((await stat(join(t.dir, 'store-key.pub.pem'))).mode & 0o777).toBe(0o600);
  });

  it('rotates by size: every full segment gets a valid seal', async () => {
    await using t = await tempStore();
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile, segmentMaxBytes: 4000 });
    const chain = await store.openChain(SOURCE);
    for (let i = 0; i < 40; i += 2) await chain.append(drafts(i, i + 2), `cp-${i}`);
    await store.close();
    const seals = (await readdir(join(t.dir, SOURCE.id))).filter((n) => n.endsWith('.seal.json'));
    expect(seals.length).toBeGreaterThanOrEqual(5);
    const seal1 = JSON.parse(await readFile(join(t.dir, SOURCE.id, 'seg-000001.seal.json'), 'utf8')) as { first_seq: number; bytes: number };
    expect(seal1.first_seq).toBe(1);
    expect(seal1.bytes).toBeGreaterThanOrEqual(4000);
    const r = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect(r.ok).toBe(true);
    expect(r.sources[0]?.sealed).toBe(seals.length);
    expect(r.sources[0]?.uncheckedSeals).toBe(0);
  });

  it('rotates by age, also while idle', async () => {
    await using t = await tempStore();
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile, segmentMaxAgeMs: 200 });
    const chain = await store.openChain(SOURCE);
    await chain.append(drafts(0, 2), 'cp-1');
    const sealFile = join(t.dir, SOURCE.id, 'seg-000001.seal.json');
    await until(async () => (await stat(sealFile).catch(() => null)) !== null, 'the idle segment to be sealed');
    await chain.append(drafts(2, 3), 'cp-2');
    expect((await readdir(join(t.dir, SOURCE.id))).filter((n) => n.endsWith('.jsonl'))).toEqual(['seg-000001.jsonl', 'seg-000002.jsonl']);
    await store.close();
    expect((await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile })).ok).toBe(true);
  });
});
