/**
 * Anchors against a real store: heads published while events are written,
 * then the newest events cut from the open segment (a valid, shorter chain)
 * are detected, as are rewritten events and forged anchors.
 */
import { appendFile, readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { openStore, loadSigningKey, loadPublicKey } from '../../src/store/index.js';
import { AnchorFile } from '../../src/anchor/anchor-file.js';
import { AnchorPublisher } from '../../src/anchor/anchor-publisher.js';
import { checkAnchors } from '../../src/anchor/check-anchors.js';
import { parseAnchor } from '../../src/anchor/anchor-record.js';
import { drafts, SOURCE, tempStore } from './store-helpers.js';

async function storeWithAnchors(tmp: { dir: string; keyFile: string; root: string }, total: number): Promise<string> {
  const store = await openStore(tmp.dir, { signingKeyFile: tmp.keyFile });
  const chain = await store.openChain(SOURCE);
  const anchorPath = join(tmp.root, 'elsewhere', 'anchors.jsonl');
  const file = await AnchorFile.open(anchorPath);
  const publisher = new AnchorPublisher({ targets: () => [{ sourceId: SOURCE.id, head: () => chain.head() }], key: await loadSigningKey(tmp.keyFile), file, webhook: null, intervalMs: 60_000, logger: silentLogger() });
  for (let i = 0; i < total; i += 10) {
    await chain.append(drafts(i, i + 10), `cp${i}`);
    await publisher.publish();
  }
  await publisher.publish(); // unchanged head: no new line
  await publisher.stop();
  await file.close();
  await store.close();
  return anchorPath;
}

describe('anchors', () => {
  it('an intact store matches every anchor', async () => {
    await using tmp = await tempStore();
    const anchors = await storeWithAnchors(tmp, 30);
    const lines = (await readFile(anchors, 'utf8')).trim().split('\n');
    expect(lines.map((l) => parseAnchor(l)?.seq)).toEqual([10, 20, 30]);
    const findings = await checkAnchors(tmp.dir, anchors, { publicKey: await loadPublicKey(tmp.publicKeyFile) });
    expect(findings.map((f) => [f.id, f.status])).toEqual([['anchor.ok', 'ok']]);
  });

  it('detects the newest events cut off the open segment', async () => {
    await using tmp = await tempStore();
    const anchors = await storeWithAnchors(tmp, 30);
    // Cut the segment right after the line of seq 24: a shorter chain that still hashes correctly.
    const chainDir = join(tmp.dir, SOURCE.id);
    const seg = join(chainDir, (await readdir(chainDir)).filter((n) => n.endsWith('.jsonl')).sort().at(-1)!);
    const text = await readFile(seg, 'utf8');
    const at = text.indexOf('"seq":25,');
    const lineStart = text.lastIndexOf('\n', at) + 1;
    await truncate(seg, Buffer.byteLength(text.slice(0, lineStart)));
    const findings = await checkAnchors(tmp.dir, anchors, { publicKey: await loadPublicKey(tmp.publicKeyFile) });
    const cut = findings.find((f) => f.id === 'anchor.truncated');
    expect(cut?.status).toBe('fail');
    expect(cut?.detail).toMatch(/ends at seq 24.*recorded seq 30.*6 event/);
  });

  it('detects a rewritten anchored event and a forged anchor', async () => {
    await using tmp = await tempStore();
    const anchors = await storeWithAnchors(tmp, 20);
    const key = await loadPublicKey(tmp.publicKeyFile);
    const first = parseAnchor((await readFile(anchors, 'utf8')).split('\n')[0]!)!;
    await appendFile(anchors, JSON.stringify({ ...first, seq: 15, hash: 'f'.repeat(64) }) + '\n');
    const findings = await checkAnchors(tmp.dir, anchors, { publicKey: key });
    expect(findings.filter((f) => f.status === 'fail').map((f) => f.id).sort()).toEqual(['anchor.bad_signature', 'anchor.mismatch']);
    await writeFile(anchors, 'not json\n');
    expect((await checkAnchors(tmp.dir, anchors, { publicKey: key })).map((f) => f.id)).toEqual(['anchor.malformed']);
  });
});
