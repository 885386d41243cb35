import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { SOURCE, drafts, tempStore, cliFromSource } from './store-helpers.js';


const cli = (args: string[], env: Record<string, string> = {}): ReturnType<typeof cliFromSource> => cliFromSource(args, { env });

describe('dbwitness verify / keygen (CLI)', () => {
  it('keygen writes an owner-only private key and refuses to overwrite it', async () => {
    await using t = await tempStore();
    const out = join(t.root, 'keys');
    const r = cli(['keygen', '--out', out, '--encryption-key', join(out, 'enc.key')]);
    expect(r.code).toBe(0);
    expect((await stat(join(out, 'store-key.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(out, 'enc.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(out, 'store-key.pub.pem'), 'utf8')).toMatch(/BEGIN PUBLIC KEY/);
    const again = cli(['keygen', '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists[\s\S]*fix:/);
  });

  it('exits 0 on an intact store, 1 on tampering naming the first bad event, 2 on usage errors', async () => {
    await using t = await tempStore();
    const key = randomBytes(32);
    const keyFile = join(t.root, 'enc.key');
    await writeFile(keyFile, key.toString('base64'));
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile, encryptionKey: key });
    await (await store.openChain(SOURCE)).append(drafts(0, 20), 'cp');
    await store.close();

    const ok = cli(['verify', t.dir, '--public-key', t.publicKeyFile, '--encryption-key-file', keyFile]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/source clinic-pg: INTACT/);
    expect(ok.stdout).toMatch(/head: seq 20 hash [0-9a-f]{64}/);
    expect(ok.stdout).toMatch(/signed head: seq 20 .*signature valid/);
    expect(ok.stdout).toMatch(/cannot be detected from the files alone/);

    const json = cli(['verify', t.dir, '--json'], { DBWITNESS_ENCRYPTION_KEY: key.toString('hex') });
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { ok: boolean; key: { trust: string }; warnings: string[]; sources: { head: { seq: number } }[] };
    expect(report.ok).toBe(true);
    expect(report.key.trust).toBe('stored');
    expect(report.warnings.join()).toMatch(/stored with the data/);
    expect(report.sources[0]?.head.seq).toBe(20);

    const wrong = join(t.root, 'wrong.key');
    await writeFile(wrong, randomBytes(32).toString('hex'));
    const bad = cli(['verify', t.dir, '--encryption-key-file', wrong]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/cannot decrypt[\s\S]*fix:/);
    expect(cli(['verify', t.dir]).code).toBe(2); // encrypted, no key
    expect(cli(['verify', join(t.root, 'nope')]).code).toBe(2);

    // Remove the 5th event line (line 0 is the segment record).
    const seg = join(t.dir, SOURCE.id, 'seg-000001.jsonl');
    const lines = (await readFile(seg, 'utf8')).split('\n');
    const offset = Buffer.byteLength(lines.slice(0, 5).join('\n') + '\n');
    lines.splice(5, 1);
    await writeFile(seg, lines.join('\n'));
    const tampered = cli(['verify', t.dir, '--public-key', t.publicKeyFile, '--encryption-key-file', keyFile]);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toContain(`FIRST BAD EVENT: seq 6 in ${seg} at byte ${offset}: seq 6 where 5 was expected`);
    expect(tampered.stdout).toMatch(/RESULT: TAMPERED/);
  });
});
