/**
 * Anchors whose seqs retention moved out of the store: compared against the
 * archive copy where it can be read (at the recorded path or under
 * --archive DIR), against the signed seal copy at a segment's last seq,
 * and otherwise reported as not checked (a warning), never as rewritten.
 * Stores are sealed, archived and deleted by the retention code itself.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { appendFile, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { openStore, loadSigningKey, loadPublicKey, type FileChain } from '../../src/store/index.js';
import { AnchorFile } from '../../src/anchor/anchor-file.js';
import { AnchorPublisher } from '../../src/anchor/anchor-publisher.js';
import { checkAnchors, type AnchorFinding } from '../../src/anchor/check-anchors.js';
import { makeAnchor, parseAnchor, serializeAnchor } from '../../src/anchor/anchor-record.js';
import { archiveSegment, deleteExpired } from '../../src/retention/retention-actions.js';
import { MIN_KEEP_MS, planRetention, type RetentionPolicy } from '../../src/retention/retention-plan.js';
import { segmentFileName } from '../../src/store/layout.js';
import { drafts, SOURCE, tempStore, type TempStore, cliFromSource as cli } from './store-helpers.js';

const DAY = 86_400_000;

/** The CLI run from source, so the test does not depend on a fresh build of dist/. */

function policy(archiveDir: string | null): RetentionPolicy {
  return { keepMs: MIN_KEEP_MS, archiveAfterMs: 90 * DAY, archiveDir, legalHold: [] };
}

/**
 * Segments 1..3 sealed with 5 events each, anchored mid-segment (seq 3, 8,
 * 13) and at their last seq (5, 10, 15); segment 4 open with seq 16..17,
 * anchored at 17. Returns the anchor file.
 */
async function anchoredStore(t: TempStore, encryptionKey?: Buffer): Promise<string> {
  const store = await openStore(t.dir, { signingKeyFile: t.keyFile, ...(encryptionKey === undefined ? {} : { encryptionKey }) });
  const chain = (await store.openChain(SOURCE)) as FileChain;
  const anchorPath = join(t.root, 'elsewhere', 'anchors.jsonl');
  const file = await AnchorFile.open(anchorPath);
  const publisher = new AnchorPublisher({ targets: () => [{ sourceId: SOURCE.id, head: () => chain.head() }], key: await loadSigningKey(t.keyFile), file, webhook: null, intervalMs: 60_000, logger: silentLogger() });
  for (let i = 0; i < 3; i++) {
    await chain.append(drafts(i * 5, i * 5 + 3), `cp${i}a`);
    await publisher.publish();
    await chain.append(drafts(i * 5 + 3, i * 5 + 5), `cp${i}b`);
    await publisher.publish();
    await chain.rotate();
  }
  await chain.append(drafts(1000, 1002), 'open');
  await publisher.publish();
  await publisher.stop();
  await file.close();
  await store.close();
  return anchorPath;
}

/** What `dbwitness retention --archive` does for segments 1 and 2 once they are due. */
async function archiveFirstTwo(t: TempStore, archiveDir: string): Promise<void> {
  const plan = await planRetention(t.dir, policy(archiveDir), Date.now() + 100 * DAY);
  for (const seg of plan.filter((s) => s.segment <= 2)) await archiveSegment(seg, t.dir, archiveDir);
}

/** The anchored store with segments 1 and 2 moved to `<root>/archive`, and the key to check anchors with. */
async function archivedFirstTwo(t: TempStore): Promise<{ anchors: string; key: KeyObject; archiveDir: string }> {
  const anchors = await anchoredStore(t);
  const archiveDir = join(t.root, 'archive');
  await archiveFirstTwo(t, archiveDir);
  return { anchors, key: await loadPublicKey(t.publicKeyFile), archiveDir };
}

const ids = (fs: readonly AnchorFinding[]): [string, string][] => fs.map((f) => [f.id, f.status]);

describe('anchors in archived segments', () => {
  it('the fixture anchors mid-segment and at each seal', async () => {
    await using t = await tempStore();
    const anchors = await anchoredStore(t);
    const seqs = (await readFile(anchors, 'utf8')).trim().split('\n').map((l) => parseAnchor(l)?.seq);
    expect(seqs).toEqual([3, 5, 8, 10, 13, 15, 17]);
  });

  it('match when the archive copy is at its recorded path, or under --archive DIR after the archive was moved', async () => {
    await using t = await tempStore();
    const { anchors, key, archiveDir } = await archivedFirstTwo(t);
    const atRecorded = await checkAnchors(t.dir, anchors, { publicKey: key });
    expect(ids(atRecorded)).toEqual([['anchor.ok', 'ok']]);
    expect(atRecorded[0]?.detail).toMatch(/^7 anchor\(s\) .*chain ends at 17/);

    const moved = join(t.root, 'archive-moved');
    await rename(archiveDir, moved);
    expect(ids(await checkAnchors(t.dir, anchors, { publicKey: key, archiveDirs: [moved] }))).toEqual([['anchor.ok', 'ok']]);
  });

  it('an encrypted archive copy is read with the store key', async () => {
    await using t = await tempStore();
    const encryptionKey = randomBytes(32);
    const anchors = await anchoredStore(t, encryptionKey);
    await archiveFirstTwo(t, join(t.root, 'archive'));
    expect(ids(await checkAnchors(t.dir, anchors, { publicKey: await loadPublicKey(t.publicKeyFile), encryptionKey }))).toEqual([['anchor.ok', 'ok']]);
  });

  it('with the archive out of reach: anchors at a seal are compared with it, the others are a warning naming the segments and --archive, not a mismatch', async () => {
    await using t = await tempStore();
    const { anchors, key, archiveDir } = await archivedFirstTwo(t);
    await rename(archiveDir, join(t.root, 'archive-moved'));
    const findings = await checkAnchors(t.dir, anchors, { publicKey: key });
    expect(ids(findings)).toEqual([
      ['anchor.ok', 'ok'],
      ['anchor.archived_unchecked', 'warn'],
    ]);
    // seq 5 and 10 were compared with the seals, 13, 15 and 17 with the store.
    expect(findings[0]?.detail).toMatch(/^5 anchor\(s\)/);
    const warn = findings[1]!;
    expect(warn.detail).toMatch(/^2 anchor\(s\) of clinic-pg .*segment 1 \(1 anchor\(s\)\): the archive copy is not reachable; segment 2 \(1 anchor\(s\)\): the archive copy is not reachable\)$/);
    expect(warn.fix).toMatch(/--archive DIR/);
  });

  it('a damaged archive copy does not stop the check: its seal anchor is compared with the seal, the others are not checked, naming the damage', async () => {
    await using t = await tempStore();
    const { anchors, key, archiveDir } = await archivedFirstTwo(t);
    await appendFile(join(archiveDir, SOURCE.id, segmentFileName(1)), '{"not an event"\n');
    const findings = await checkAnchors(t.dir, anchors, { publicKey: key });
    expect(ids(findings)).toEqual([
      ['anchor.ok', 'ok'],
      ['anchor.archived_unchecked', 'warn'],
    ]);
    expect(findings[1]!.detail).toMatch(/segment 1 \(1 anchor\(s\)\): the archive copy .*seg-000001\.jsonl cannot be read \(.*\); run `dbwitness verify`/);
  });

  it('fail when a signed anchor at a seal\'s last seq disagrees with the seal copy of an unreachable segment', async () => {
    await using t = await tempStore();
    const { anchors, key, archiveDir } = await archivedFirstTwo(t);
    await rename(archiveDir, join(t.root, 'archive-moved'));
    const atSeal = parseAnchor((await readFile(anchors, 'utf8')).trim().split('\n')[1]!)!;
    expect(atSeal.seq).toBe(5);
    // Signed with the store key, so only the hash comparison can catch it.
    await appendFile(anchors, serializeAnchor(makeAnchor(SOURCE.id, 10, 'e'.repeat(64), atSeal.at, await loadSigningKey(t.keyFile))));
    const findings = await checkAnchors(t.dir, anchors, { publicKey: key });
    expect(findings.filter((f) => f.status === 'fail').map((f) => f.id)).toEqual(['anchor.mismatch']);
    expect(findings.find((f) => f.id === 'anchor.mismatch')?.detail).toMatch(/seq 10 was anchored with hash eeee.*in the seal of archived segment 2/);
  });

  it('fail when the reachable archive copy holds another hash at an anchored seq', async () => {
    await using t = await tempStore();
    const { anchors, archiveDir } = await archivedFirstTwo(t);
    const anchored = parseAnchor((await readFile(anchors, 'utf8')).trim().split('\n')[2]!)!;
    expect(anchored.seq).toBe(8);
    const copy = join(archiveDir, SOURCE.id, segmentFileName(2));
    const text = await readFile(copy, 'utf8');
    expect(text).toContain(`"hash":"${anchored.hash}"`);
    await writeFile(copy, text.replace(`"hash":"${anchored.hash}"`, `"hash":"${'0'.repeat(64)}"`));
    const findings = await checkAnchors(t.dir, anchors, { publicKey: await loadPublicKey(t.publicKeyFile) });
    expect(ids(findings)).toEqual([['anchor.mismatch', 'fail']]);
    expect(findings[0]?.detail).toMatch(/seq 8 .*the store holds 0000000000000000 in archived segment 2/);
  });

  it('a seq in no present and no recorded segment stays a mismatch', async () => {
    await using t = await tempStore();
    const anchors = await anchoredStore(t);
    await unlink(join(t.dir, SOURCE.id, segmentFileName(2)));
    const findings = await checkAnchors(t.dir, anchors, { publicKey: await loadPublicKey(t.publicKeyFile) });
    expect(ids(findings)).toEqual([['anchor.mismatch', 'fail']]);
    expect(findings[0]?.detail).toMatch(/^2 anchor\(s\) .*first: seq 8 .*no event/);
  });

  it('segments deleted under the policy: seal anchors compared, the others accepted once retention.keep has passed and a warning before', async () => {
    await using t = await tempStore();
    const anchors = await anchoredStore(t);
    const key = await loadPublicKey(t.publicKeyFile);
    const later = Date.now() + MIN_KEEP_MS + DAY;
    for (const seg of (await planRetention(t.dir, policy(null), later)).filter((s) => s.segment <= 2)) await deleteExpired(seg, t.dir);
    const accepted = await checkAnchors(t.dir, anchors, { publicKey: key, now: later });
    expect(ids(accepted)).toEqual([
      ['anchor.ok', 'ok'],
      ['anchor.retention_deleted', 'ok'],
    ]);
    expect(accepted[1]?.detail).toMatch(/^2 anchor\(s\) .*segment 1: 1, segment 2: 1/);
    const early = await checkAnchors(t.dir, anchors, { publicKey: key });
    expect(ids(early)).toEqual([
      ['anchor.ok', 'ok'],
      ['anchor.archived_unchecked', 'warn'],
    ]);
    expect(early[1]?.detail).toMatch(/deleted by retention at .*less than the retention period \(6y\)/);
  });

  it('verify --anchors prints the warning in text and JSON and exits as a warning does; --archive DIR clears it', async () => {
    await using t = await tempStore();
    const { anchors, archiveDir } = await archivedFirstTwo(t);
    const moved = join(t.root, 'archive-moved');
    await rename(archiveDir, moved);
    const text = cli(['verify', t.dir, '--public-key', t.publicKeyFile, '--anchors', anchors]);
    expect(text.code, text.stdout + text.stderr).toBe(0);
    expect(text.stdout).toMatch(/WARN anchors in archived segments not checked: 2 anchor\(s\)/);
    expect(text.stdout).not.toMatch(/FAIL/);
    const json = cli(['verify', t.dir, '--public-key', t.publicKeyFile, '--anchors', anchors, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { anchors: { id: string; status: string; source: string }[] };
    expect(report.anchors.map((f) => [f.id, f.status, f.source])).toEqual([
      ['anchor.ok', 'ok', SOURCE.id],
      ['anchor.archived_unchecked', 'warn', SOURCE.id],
    ]);
    const found = cli(['verify', t.dir, '--public-key', t.publicKeyFile, '--anchors', anchors, '--archive', moved, '--json']);
    expect(found.code, found.stderr).toBe(0);
    expect((JSON.parse(found.stdout) as { anchors: { id: string }[] }).anchors.map((f) => f.id)).toEqual(['anchor.ok']);
  });
});
