/**
 * Every kind of tampering with a store must make verify fail, naming the
 * first bad event. The pristine store has several sealed segments and an
 * open one, so each tamper is tried where seals protect it and where only
 * the chain does.
 */
import { cp, mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical.js';
import { openStore } from '../../src/store/index.js';
import { generateSigningKeyPair, keyIdOf, signText } from '../../src/store/keys.js';
import { headSigningPayload } from '../../src/store/records.js';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { parseExpectHeads, verifyStore } from '../../src/store/verify-store.js';
import { SOURCE, drafts, tempStore, type TempStore } from './store-helpers.js';
import { rng } from './seeded-random.js';

interface LineRef {
  file: string;
  offset: number;
  length: number;
  sealed: boolean;
}

let t: TempStore;
let work: string;
const chainOf = (dir: string): string => join(dir, SOURCE.id);

async function eventLines(dir: string): Promise<LineRef[]> {
  const names = (await readdir(chainOf(dir))).sort();
  const out: LineRef[] = [];
  for (const name of names.filter((n) => n.endsWith('.jsonl'))) {
    const file = join(chainOf(dir), name);
    const sealed = names.includes(name.replace('.jsonl', '.seal.json'));
    const buf = await readFile(file);
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      if (buf.subarray(start, start + 10).toString() === '{"action":') out.push({ file, offset: start, length: nl - start, sealed });
      start = nl + 1;
    }
  }
  return out;
}

let copies = 0;
async function copy(): Promise<string> {
  const dir = join(work, `c${copies++}`);
  await cp(t.dir, dir, { recursive: true });
  return dir;
}

async function check(dir: string) {
  return verifyStore(dir, { publicKeyFile: t.publicKeyFile });
}

/** A new seed every run finds new cases; failures name it, and TAMPER_SEED=<seed> replays them. */
const SEED = Number(process.env['TAMPER_SEED'] ?? Date.now() % 2 ** 31);
const random = rng(SEED);
function rnd(n: number): number {
  return Math.floor(random() * n);
}

beforeAll(async () => {
  t = await tempStore();
  work = await mkdtemp(join(tmpdir(), 'dbw-tamper-'));
  const store = await openStore(t.dir, { signingKeyFile: t.keyFile, segmentMaxBytes: 6000 });
  const chain = await store.openChain(SOURCE);
  for (let i = 0; i < 48; i += 4) await chain.append(drafts(i, i + 4), `cp-${i}`);
  await chain.append(drafts(48, 50)); // unsigned-by-checkpoint tail
  await store.close();
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
  await t[Symbol.asyncDispose]();
});

describe('verify', () => {
  it('accepts the pristine store and reports its head and signed head', async () => {
    const lines = await eventLines(t.dir);
    expect(lines.filter((l) => l.sealed).length).toBeGreaterThan(10);
    expect(lines.filter((l) => !l.sealed).length).toBeGreaterThan(0);
    const r = await check(t.dir);
    expect(r.sources[0]?.issues).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.events).toBe(50);
    expect(r.sources[0]?.head.seq).toBe(50);
    expect(r.sources[0]?.signedHead).toMatchObject({ seq: 50, valid: true });
    expect(r.sources[0]?.sealed).toBeGreaterThan(2);
    expect(r.keyTrust).toBe('given');
  });

  it('warns when trusting the key stored with the data', async () => {
    const r = await verifyStore(t.dir);
    expect(r.ok).toBe(true);
    expect(r.keyTrust).toBe('stored');
    expect(r.warnings.join('\n')).toMatch(/stored with the data/);
  });

  it('verifies an unsigned store with a warning, and flags its unsigned seals against a trusted key', async () => {
    const u = await tempStore();
    try {
      const store = await openStore(u.dir, { unsigned: true, segmentMaxBytes: 3000 });
      await (await store.openChain(SOURCE)).append(drafts(0, 10), 'cp');
      await store.close();
      const r = await verifyStore(u.dir);
      expect(r.ok).toBe(true);
      expect(r.keyTrust).toBe('none');
      expect(r.warnings.join()).toMatch(/NOT checked/);
      expect(r.sources[0]?.uncheckedSeals).toBeGreaterThan(0);
      expect(r.sources[0]?.signedHead).toBeNull();
      const strict = await verifyStore(u.dir, { publicKeyFile: t.publicKeyFile });
      expect(strict.ok).toBe(false);
      expect(strict.sources[0]?.issues[0]?.problem).toMatch(/unsigned/);
    } finally {
      await u[Symbol.asyncDispose]();
    }
  });

  it('detects every random byte change in random events (sealed and unsealed)', async () => {
    const lines = await eventLines(t.dir);
    const pristine = new Map<string, Buffer>();
    const dir = await copy();
    for (const l of lines) if (!pristine.has(l.file)) pristine.set(l.file, await readFile(l.file));
    let missed = 0;
    for (let k = 0; k < 60; k++) {
      const l = lines[k < 20 ? lines.length - 1 - rnd(3) : rnd(lines.length)] as LineRef;
      const orig = pristine.get(l.file) as Buffer;
      const mutated = Buffer.from(orig);
      const at = l.offset + rnd(l.length);
      mutated[at] = ((orig[at] as number) + 1 + rnd(255)) % 256;
      const target = l.file.replace(t.dir, dir);
      await writeFile(target, mutated);
      const r = await check(dir);
      if (r.ok) missed++;
      else {
        // The damage is located at the mutated line (or, for a newline, the line it split).
        const first = r.sources[0]?.issues[0];
        expect(first?.file).toBe(target);
      }
      await writeFile(target, orig);
    }
    expect(missed, `TAMPER_SEED=${SEED}`).toBe(0);
    expect((await check(dir)).ok).toBe(true);
  });

  it('detects every random byte change in any line of the unsealed segment (records included)', async () => {
    const dir = await copy();
    const names = (await readdir(chainOf(dir))).filter((n) => n.endsWith('.jsonl')).sort();
    const file = join(chainOf(dir), names.at(-1) as string);
    const orig = await readFile(file);
    const text = orig.toString('utf8');
    expect(text).toMatch(/"@":"segment"/);
    expect(text).toMatch(/"@":"head"/);
    let missed = 0;
    for (let k = 0; k < 60; k++) {
      const mutated = Buffer.from(orig);
      const at = rnd(orig.length - 1); // any byte but the final newline
      mutated[at] = ((orig[at] as number) + 1 + rnd(255)) % 256;
      await writeFile(file, mutated);
      if ((await check(dir)).ok) missed++;
    }
    await writeFile(file, orig);
    expect(missed, `TAMPER_SEED=${SEED}`).toBe(0);
  });

  it('detects another spelling of a head signature that decodes to the same bytes (padding, unused low bits)', async () => {
    const names = async (dir: string): Promise<string> => join(chainOf(dir), (await readdir(chainOf(dir))).filter((n) => n.endsWith('.jsonl')).sort().at(-1) as string);
    const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    for (const respell of [(sig: string) => sig.slice(0, -1) + ']', (sig: string) => sig.slice(0, -3) + B64[B64.indexOf(sig.at(-3)!) ^ 1] + '==']) {
      const dir = await copy();
      const file = await names(dir);
      const text = (await readFile(file)).toString('utf8');
      const m = /"sig":"([A-Za-z0-9+/]+==)"/.exec(text.slice(text.lastIndexOf('"sig":')));
      expect(m).not.toBeNull();
      const sig = m![1]!;
      const other = respell(sig);
      expect(Buffer.from(other, 'base64').equals(Buffer.from(sig, 'base64'))).toBe(true);
      await writeFile(file, text.slice(0, text.lastIndexOf(sig)) + other + text.slice(text.lastIndexOf(sig) + sig.length));
      expect((await check(dir)).ok).toBe(false);
    }
  });

  it('reports a store record with a damaged field name as tampering instead of crashing', async () => {
    const dir = await copy();
    const names = (await readdir(chainOf(dir))).filter((n) => n.endsWith('.jsonl')).sort();
    const file = join(chainOf(dir), names.at(-1) as string);
    const text = (await readFile(file)).toString('utf8');
    // Same length, so only the record's shape changes: "checkpoint" -> "checkpoinX" in the segment record.
    const at = text.indexOf('"checkpoint":');
    expect(at).toBeGreaterThan(0);
    await writeFile(file, text.slice(0, at) + '"checkpoinX":' + text.slice(at + '"checkpoint":'.length));
    const r = await check(dir);
    expect(r.ok).toBe(false);
    expect(r.sources[0]?.issues.map((i) => i.problem).join('\n')).toMatch(/store record is damaged/);
  });

  it.each([true, false])('detects a deleted event (sealed: %s)', async (sealed) => {
    const dir = await copy();
    const lines = (await eventLines(dir)).filter((l) => l.sealed === sealed);
    const l = lines[sealed ? 5 : 0] as LineRef;
    const buf = await readFile(l.file);
    await writeFile(l.file, Buffer.concat([buf.subarray(0, l.offset), buf.subarray(l.offset + l.length + 1)]));
    const r = await check(dir);
    expect(r.ok).toBe(false);
    expect(r.sources[0]?.issues[0]).toMatchObject({ file: l.file, offset: l.offset });
    expect(r.sources[0]?.issues[0]?.problem).toMatch(/seq|prev/);
  });

  it.each([true, false])('detects a duplicated event (sealed: %s)', async (sealed) => {
    const dir = await copy();
    const l = (await eventLines(dir)).filter((x) => x.sealed === sealed)[1] as LineRef;
    const buf = await readFile(l.file);
    const line = buf.subarray(l.offset, l.offset + l.length + 1);
    await writeFile(l.file, Buffer.concat([buf.subarray(0, l.offset + l.length + 1), line, buf.subarray(l.offset + l.length + 1)]));
    const r = await check(dir);
    expect(r.ok).toBe(false);
    expect(r.sources[0]?.issues[0]?.offset).toBe(l.offset + l.length + 1);
    expect(r.sources[0]?.issues[0]?.problem).toMatch(/seq/);
  });

  it.each([true, false])('detects reordered events (sealed: %s)', async (sealed) => {
    const dir = await copy();
    const lines = (await eventLines(dir)).filter((x) => x.sealed === sealed);
    const [a, b] = [lines[0] as LineRef, lines[1] as LineRef];
    expect(a.file).toBe(b.file);
    const buf = await readFile(a.file);
    const la = buf.subarray(a.offset, a.offset + a.length + 1);
    const lb = buf.subarray(b.offset, b.offset + b.length + 1);
    await writeFile(a.file, Buffer.concat([buf.subarray(0, a.offset), lb, la, buf.subarray(b.offset + b.length + 1)]));
    const r = await check(dir);
    expect(r.ok).toBe(false);
    expect(r.sources[0]?.issues[0]).toMatchObject({ file: a.file, offset: a.offset });
  });

  it('detects a truncated sealed segment, at a line boundary and mid-line', async () => {
    for (const cut of ['boundary', 'mid']) {
      const dir = await copy();
      const lines = (await eventLines(dir)).filter((x) => x.sealed);
      const l = lines[3] as LineRef;
      const buf = await readFile(l.file);
      await writeFile(l.file, buf.subarray(0, cut === 'boundary' ? l.offset : l.offset + 10));
      const r = await check(dir);
      expect(r.ok).toBe(false);
      const first = r.sources[0]?.issues[0];
      expect(first?.file).toBe(l.file);
      expect(first?.problem).toMatch(/truncated|partial/);
    }
  });

  it('detects a deleted segment, with and without its seal', async () => {
    for (const withSeal of [false, true]) {
      const dir = await copy();
      const seg = join(chainOf(dir), 'seg-000002.jsonl');
      await unlink(seg);
      if (withSeal) await unlink(join(chainOf(dir), 'seg-000002.seal.json'));
      const r = await check(dir);
      expect(r.ok).toBe(false);
      expect(r.sources[0]?.issues[0]).toMatchObject({ file: seg });
      expect(r.sources[0]?.issues[0]?.problem).toMatch(/deleted/);
    }
  });

  it('detects events cut from the end against a head recorded earlier (--expect-head)', async () => {
    const dir = await copy();
    const pristine = await check(dir);
    const head = pristine.sources[0]?.head as { seq: number; hash: string };
    const expectHeads = parseExpectHeads([`${SOURCE.id}:${head.seq}:${head.hash}`]);
    expect((await verifyStore(dir, { publicKeyFile: t.publicKeyFile, expectHeads })).ok).toBe(true);
    // Cut the last event and everything after it: a clean truncation the files cannot reveal.
    const lines = await eventLines(dir);
    const l = lines.at(-1) as LineRef;
    const buf = await readFile(l.file);
    await writeFile(l.file, buf.subarray(0, l.offset));
    expect((await check(dir)).ok).toBe(true);
    const r = await verifyStore(dir, { publicKeyFile: t.publicKeyFile, expectHeads });
    expect(r.ok).toBe(false);
    expect(r.sources[0]?.issues[0]?.problem).toMatch(/recorded head seq 50 is missing/);
    expect(() => parseExpectHeads(['clinic-pg:12'])).toThrow(/SOURCE:SEQ:HASH/);
  });

  it('detects an emptied newest segment', async () => {
    const dir = await copy();
    const names = (await readdir(chainOf(dir))).filter((n) => n.endsWith('.jsonl')).sort();
    const file = join(chainOf(dir), names.at(-1) as string);
    await writeFile(file, '');
    const r = await check(dir);
    expect(r.ok).toBe(false);
    expect(r.sources[0]?.issues[0]).toMatchObject({ file, problem: expect.stringMatching(/no segment record/) });
  });

  it('detects a deleted seal and an edited seal', async () => {
    let dir = await copy();
    await unlink(join(chainOf(dir), 'seg-000001.seal.json'));
    let r = await check(dir);
    expect(r.ok).toBe(false);
    expect(r.sources[0]?.issues[0]?.problem).toMatch(/no seal/);

    dir = await copy();
    const sealFile = join(chainOf(dir), 'seg-000001.seal.json');
    const seal = JSON.parse(await readFile(sealFile, 'utf8')) as Record<string, unknown>;
    await writeFile(sealFile, canonicalJson({ ...seal, count: (seal['count'] as number) - 1 }));
    r = await check(dir);
    expect(r.ok).toBe(false);
    expect(r.sources[0]?.issues[0]?.problem).toMatch(/seal/);

    // Re-signed by an attacker's key: rejected against the trusted key.
    dir = await copy();
    const other = createPrivateKey(generateSigningKeyPair().privatePem);
    const { signature: _s, ...body } = seal;
    await writeFile(join(chainOf(dir), 'seg-000001.seal.json'), canonicalJson({ ...body, signature: signText(other, canonicalJson(body)) }));
    r = await check(dir);
    expect(r.ok).toBe(false);
    expect(r.sources[0]?.issues[0]?.problem).toMatch(/signature/);
  });

  it('names an edited checkpoint in a sealed segment at its head, before a later bad event, and fails the seal', async () => {
    const dir = await copy();
    const file = join(chainOf(dir), 'seg-000001.jsonl');
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(/"checkpoint":"cp-0"/);
    // A later event of the same segment changed too: the head's issue still comes first.
    const lines = text.split('\n');
    const lastEvent = lines.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('{"action":')).at(-1)![1];
    lines[lastEvent] = lines[lastEvent]!.replace('"outcome":"success"', '"outcome":"failure"');
    await writeFile(file, lines.join('\n').replace('"checkpoint":"cp-0"', '"checkpoint":"cp-9"'));
    const r = await check(dir);
    expect(r.ok).toBe(false);
    const problems = r.sources[0]!.issues.map((i) => i.problem);
    expect(problems[0]).toMatch(/head signature is invalid/);
    expect(problems[1]).toMatch(/does not match its hash/);
    expect(problems.at(-1)).toMatch(/seal check failed: .*digest/);
    expect(r.sources[0]!.issueCount).toBe(problems.length);
  });

  it('reports the newest head as invalid when another key signed it, though the heads before it are fine', async () => {
    // Its own store: three group commits, so three heads in one open segment.
    const u = await tempStore();
    try {
      const store = await openStore(u.dir, { signingKeyFile: u.keyFile });
      const chain = await store.openChain(SOURCE);
      for (let i = 0; i < 6; i += 2) await chain.append(drafts(i, i + 2), `cp-${i}`);
      await store.close();
      const file = join(chainOf(u.dir), 'seg-000001.jsonl');
      const lines = (await readFile(file, 'utf8')).split('\n');
      const heads = lines.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('{"@":"head"'));
      expect(heads.length).toBe(3);
      const at = heads.at(-1)![1];
      const rec = JSON.parse(lines[at]!) as Record<string, unknown>;
      const cpRec = JSON.parse(lines.slice(0, at).reverse().find((l) => l.startsWith('{"@":"checkpoint"'))!) as { checkpoint: string; seq: number; at: string };
      const payload = headSigningPayload(SOURCE.id, rec['seq'] as number, rec['hash'] as string, rec['at'] as string, { checkpoint: cpRec.checkpoint, seq: cpRec.seq, at: cpRec.at }, createHash('sha256').update(lines[0]!, 'utf8').digest('hex'));
      const other = generateSigningKeyPair();
      lines[at] = canonicalJson({ ...rec, key_id: keyIdOf(createPublicKey(other.publicPem)), sig: signText(createPrivateKey(other.privatePem), payload) });
      await writeFile(file, lines.join('\n'));
      const r = await verifyStore(u.dir, { publicKeyFile: u.publicKeyFile });
      expect(r.ok).toBe(false);
      expect(r.sources[0]?.issues.map((i) => i.problem)).toEqual([expect.stringMatching(/^head signature is by key \w+, not the trusted key/)]);
      // The reported head is that one, and stays invalid after the heads before it are settled (valid).
      expect(r.sources[0]?.signedHead).toMatchObject({ seq: 6, valid: false });
    } finally {
      await u[Symbol.asyncDispose]();
    }
  });

  it('detects an edited checkpoint in the unsealed segment through the next signed head', async () => {
    const dir = await copy();
    const names = (await readdir(chainOf(dir))).filter((n) => n.endsWith('.jsonl')).sort();
    const file = join(chainOf(dir), names.at(-1) as string);
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(/"checkpoint":"cp-44"/);
    await writeFile(file, text.replace('"checkpoint":"cp-44"', '"checkpoint":"cp-99"'));
    const r = await check(dir);
    expect(r.ok).toBe(false);
    expect(r.sources[0]?.issues[0]?.problem).toMatch(/head signature/);
  });
});
