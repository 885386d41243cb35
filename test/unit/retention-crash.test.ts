/**
 * Retention cut short by a crash at each step of a move or a deletion.
 *
 * Each crash state is made on a real store: the steps before the crash are
 * done (by hand, or by the real action whose later removals are then undone
 * by putting back the files a crash would not yet have removed). Every state
 * must open (and the chain continue), verify, and be finished by the next
 * retention run, with one manifest line per segment and one archive copy.
 */
import { copyFile, mkdir, readdir, readFile, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/core/logger.js';
import { describe, expect, it } from 'vitest';
import { openStore, type FileChain } from '../../src/store/index.js';
import { planRetention, MIN_KEEP_MS, type RetentionPolicy, type SegmentRetention } from '../../src/retention/retention-plan.js';
import { archiveSegment, deleteExpired } from '../../src/retention/retention-actions.js';
import { ARCHIVE_MANIFEST, sealFileName, segmentFileName } from '../../src/store/layout.js';
import { verifyStore } from '../../src/store/verify-store.js';
import { drafts, fourSealed, SOURCE, tempStore, type TempStore } from './store-helpers.js';

const DAY = 86_400_000;
const chainDir = (t: TempStore): string => join(t.dir, SOURCE.id);
const archiveOf = (t: TempStore): string => join(t.root, 'archive');
const storeFile = (t: TempStore, name: string): string => join(chainDir(t), name);
const manifestPath = (t: TempStore): string => storeFile(t, ARCHIVE_MANIFEST);


/** Four more sealed segments (6..9, seq 23..42) after the open one is sealed, leaving 10 open. */
async function fourMoreSealed(t: TempStore): Promise<void> {
  const store = await openStore(t.dir, { signingKeyFile: t.keyFile });
  const chain = (await store.openChain(SOURCE)) as FileChain;
  await chain.rotate();
  for (let i = 0; i < 4; i++) {
    await chain.append(drafts(2000 + i * 5, 2000 + i * 5 + 5), `more${i}`);
    await chain.rotate();
  }
  await chain.append(drafts(2100, 2102), 'open-again');
  await store.close();
}

const policy = (t: TempStore, over: Partial<RetentionPolicy> = {}): RetentionPolicy => ({ keepMs: MIN_KEEP_MS, archiveAfterMs: 90 * DAY, archiveDir: archiveOf(t), legalHold: [], ...over });
const archiveTime = (): number => Date.now() + 100 * DAY;
const expiryTime = (): number => Date.now() + MIN_KEEP_MS + DAY;

async function planned(t: TempStore, segment: number, location: 'store' | 'archive', now: number): Promise<SegmentRetention | undefined> {
  return (await planRetention(t.dir, policy(t), now)).find((s) => s.segment === segment && s.location === location);
}

/** What `dbwitness retention --archive` does. */
async function archiveRun(t: TempStore): Promise<string[]> {
  const moved: string[] = [];
  for (const s of (await planRetention(t.dir, policy(t), archiveTime())).filter((x) => x.status === 'archive_due')) moved.push(await archiveSegment(s, t.dir, archiveOf(t)));
  return moved;
}

/** What `dbwitness retention --delete-expired` does. */
async function deleteRun(t: TempStore): Promise<void> {
  for (const s of (await planRetention(t.dir, policy(t), expiryTime())).filter((x) => x.status === 'expired')) await deleteExpired(s, t.dir);
}

async function manifestSegments(t: TempStore): Promise<number[]> {
  const text = await readFile(manifestPath(t), 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.trim().split('\n').map((l) => (JSON.parse(l) as { segment: number }).segment);
}

const exists = async (path: string): Promise<boolean> => (await stat(path).catch(() => null)) !== null;

/** Opens the store as `dbwitness run` would, and appends: the new events continue the chain. */
async function reopenAndAppend(t: TempStore, from: number): Promise<void> {
  const store = await openStore(t.dir, { signingKeyFile: t.keyFile });
  const chain = (await store.openChain(SOURCE)) as FileChain;
  const head = chain.head();
  const added = await chain.append(drafts(from, from + 2), `after-${from}`);
  expect(added.map((e) => e.seq)).toEqual([head.seq + 1, head.seq + 2]);
  expect(added[0]?.prev).toBe(head.hash);
  await store.close();
}

async function expectIntact(t: TempStore): Promise<void> {
  const r = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
  expect(r.sources[0]?.issues).toEqual([]);
  expect(r.ok).toBe(true);
}

const archivedDir = (t: TempStore): string => join(archiveOf(t), SOURCE.id);

/** Segment 2's files in the archive, as a deletion found them. */
async function saveArchived2(t: TempStore): Promise<{ segment: Buffer; seal: Buffer }> {
  return { segment: await readFile(join(archivedDir(t), segmentFileName(2))), seal: await readFile(join(archivedDir(t), sealFileName(2))) };
}

/** Files of segment 2 as they were before retention touched them. */
async function saveSegment2(t: TempStore): Promise<{ segment: Buffer; seal: Buffer }> {
  return { segment: await readFile(storeFile(t, segmentFileName(2))), seal: await readFile(storeFile(t, sealFileName(2))) };
}

describe('retention cut short by a crash', () => {
  it('a move cut after the archive copy, before the manifest line (with a temp file and a torn manifest append): the next move reuses the copy', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await archiveRun(t); // segments 1..4 moved; a clean manifest to append to
    await fourMoreSealed(t);
    const destDir = join(archiveOf(t), SOURCE.id);
    const original = await readFile(storeFile(t, segmentFileName(6)));
    // The segment copied and renamed into place, the seal copy cut short in its temp file.
    await copyFile(storeFile(t, segmentFileName(6)), join(destDir, segmentFileName(6)));
    await writeFile(join(destDir, `${sealFileName(6)}.tmp`), (await readFile(storeFile(t, sealFileName(6)))).subarray(0, 40));
    // An append of the manifest line cut part way.
    const before = await readFile(manifestPath(t), 'utf8');
    await writeFile(manifestPath(t), before + '{"segment":6,"file":"/tmp/x","se');

    await reopenAndAppend(t, 3000);
    const seen = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect([seen.ok, seen.sources[0]?.issues]).toEqual([true, []]);
    expect(seen.warnings.join('\n')).toMatch(/archive manifest ends with a partial line/);
    expect((await planned(t, 6, 'store', archiveTime()))?.status).toBe('archive_due');

    await archiveRun(t);
    expect(await manifestSegments(t)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await readFile(join(destDir, segmentFileName(6)))).toEqual(original);
    expect((await readdir(destDir)).filter((n) => n.includes('.tmp'))).toEqual([]);
    expect((await readdir(chainDir(t))).filter((n) => n.startsWith('seg-')).sort()).toEqual([segmentFileName(10)]);
    const after = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect([after.ok, after.complete, after.warnings.filter((w) => /partial line/.test(w))]).toEqual([true, true, []]);
    expect(after.sources[0]?.archived.map((a) => [a.segment, a.status])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => [n, 'checked']));
    await reopenAndAppend(t, 3100);
  });

  it('a move cut after the manifest line, before either removal: opens, verifies, and the next move removes both without a second line', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    const saved = await saveSegment2(t);
    await archiveSegment((await planned(t, 2, 'store', archiveTime()))!, t.dir, archiveOf(t));
    await writeFile(storeFile(t, segmentFileName(2)), saved.segment);
    await writeFile(storeFile(t, sealFileName(2)), saved.seal);

    await reopenAndAppend(t, 3000);
    await expectIntact(t);
    const plan = await planRetention(t.dir, policy(t), archiveTime());
    expect(plan.filter((s) => s.segment === 2).map((s) => [s.location, s.status])).toEqual([['store', 'archive_due'], ['archive', 'archived']]);

    await archiveRun(t);
    expect(await manifestSegments(t)).toEqual([2, 1, 3, 4]);
    expect(await exists(storeFile(t, segmentFileName(2)))).toBe(false);
    expect(await exists(storeFile(t, sealFileName(2)))).toBe(false);
    expect(await readFile(join(archiveOf(t), SOURCE.id, segmentFileName(2)))).toEqual(saved.segment);
    await expectIntact(t);
    await reopenAndAppend(t, 3100);
  });

  it('a move cut between removing the segment and removing its seal: the store opens, verify passes, the next move removes the seal', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    const saved = await saveSegment2(t);
    await archiveSegment((await planned(t, 2, 'store', archiveTime()))!, t.dir, archiveOf(t));
    await writeFile(storeFile(t, sealFileName(2)), saved.seal);

    // Opening accepts the leftover and says so, naming what removes it.
    const logs: string[] = [];
    const sink = new Writable({ write(c, _e, cb) { logs.push(String(c)); cb(); } });
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile, logger: createLogger('warn', sink) });
    await store.openChain(SOURCE);
    await store.close();
    expect(logs.join()).toMatch(/"segments":\[2\].*interrupted retention run.*next `dbwitness retention` run removes them/);

    await reopenAndAppend(t, 3000);
    await expectIntact(t);
    const left = await planned(t, 2, 'store', archiveTime());
    expect([left?.status, left?.bytes, left?.sha256]).toEqual(['archive_due', 0, (JSON.parse(saved.seal.toString()) as { sha256: string }).sha256]);
    // Without an archive directory the move cannot be finished, and nothing pretends it can.
    const noArchive = await planRetention(t.dir, policy(t, { archiveDir: null }), archiveTime());
    expect(noArchive.find((s) => s.segment === 2)?.status).toBe('archived');

    expect(await archiveRun(t)).toContain(join(archiveOf(t), SOURCE.id, segmentFileName(2)));
    expect(await manifestSegments(t)).toEqual([2, 1, 3, 4]);
    expect(await exists(storeFile(t, sealFileName(2)))).toBe(false);
    expect(await readFile(join(archiveOf(t), SOURCE.id, sealFileName(2)))).toEqual(saved.seal);
    await expectIntact(t);
    await reopenAndAppend(t, 3100);
  });

  it('a deletion cut after the manifest line, before either removal: opens, verifies, and the next deletion finishes without a second line', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    const saved = await saveSegment2(t);
    await deleteExpired((await planned(t, 2, 'store', expiryTime()))!, t.dir);
    await writeFile(storeFile(t, segmentFileName(2)), saved.segment);
    await writeFile(storeFile(t, sealFileName(2)), saved.seal);

    await reopenAndAppend(t, 3000);
    await expectIntact(t);
    expect((await planned(t, 2, 'store', expiryTime()))?.status).toBe('expired');
    // The segment is recorded as deleted: a move now would contradict the record.
    await expect(archiveSegment((await planned(t, 2, 'store', archiveTime()))!, t.dir, archiveOf(t))).rejects.toMatchObject({ code: 'E_RETENTION_DELETION_PENDING', fix: 'run `dbwitness retention DIR --delete-expired` to finish the deletion' });

    await deleteRun(t);
    expect(await manifestSegments(t)).toEqual([2, 1, 3, 4]);
    expect((await readdir(chainDir(t))).filter((n) => n.startsWith('seg-')).sort()).toEqual([segmentFileName(5)]);
    await expectIntact(t);
    await reopenAndAppend(t, 3100);
  });

  it('a deletion cut between removing the segment and removing its seal: the store opens, verify passes, the next deletion removes the seal', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    const saved = await saveSegment2(t);
    await deleteExpired((await planned(t, 2, 'store', expiryTime()))!, t.dir);
    await writeFile(storeFile(t, sealFileName(2)), saved.seal);

    await reopenAndAppend(t, 3000);
    const seen = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect([seen.ok, seen.sources[0]?.issues]).toEqual([true, []]);
    expect(seen.sources[0]?.archived.find((a) => a.segment === 2)?.notes.join(' ')).toMatch(/deleted by retention at/);
    expect((await planned(t, 2, 'store', expiryTime()))?.status).toBe('expired');

    await deleteRun(t);
    expect(await manifestSegments(t)).toEqual([2, 1, 3, 4]);
    expect(await exists(storeFile(t, sealFileName(2)))).toBe(false);
    await expectIntact(t);
    await reopenAndAppend(t, 3100);
  });

  it('a deletion from the archive cut before its manifest line was complete: nothing was removed, the next deletion cuts the torn bytes and records each segment once', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await archiveRun(t);
    const before = await readFile(manifestPath(t), 'utf8');
    await writeFile(manifestPath(t), before + '{"segment":2,"file":"/tmp/x","de');

    await reopenAndAppend(t, 3000);
    const seen = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect([seen.ok, seen.complete, seen.sources[0]?.issues]).toEqual([true, true, []]);
    expect(seen.warnings.join('\n')).toMatch(/archive manifest ends with a partial line/);

    await deleteRun(t);
    expect(await manifestSegments(t)).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
    expect(await readdir(archivedDir(t))).toEqual([]);
    const after = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect([after.ok, after.sources[0]?.issues, after.warnings.filter((w) => /partial line/.test(w))]).toEqual([true, [], []]);
    expect(after.sources[0]?.archived.map((a) => [a.segment, a.link, /deleted by retention at/.test(a.notes.join(' '))])).toEqual([1, 2, 3, 4].map((n) => [n, 'signed_seal', true]));
    await reopenAndAppend(t, 3100);
  });

  it('a deletion from the archive cut after its manifest line, before either removal: the copy is still checked, the next deletion removes both without a second line', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await archiveRun(t);
    const saved = await saveArchived2(t);
    await deleteExpired((await planned(t, 2, 'archive', expiryTime()))!, t.dir);
    await writeFile(join(archivedDir(t), segmentFileName(2)), saved.segment);
    await writeFile(join(archivedDir(t), sealFileName(2)), saved.seal);

    await reopenAndAppend(t, 3000);
    const seen = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect([seen.ok, seen.complete, seen.sources[0]?.issues]).toEqual([true, true, []]);
    expect(seen.sources[0]?.archived.find((a) => a.segment === 2)?.status).toBe('checked');
    expect((await planned(t, 2, 'archive', expiryTime()))?.status).toBe('expired');

    await deleteRun(t);
    expect(await manifestSegments(t)).toEqual([1, 2, 3, 4, 2, 1, 3, 4]);
    expect(await readdir(archivedDir(t))).toEqual([]);
    await expectIntact(t);
    await reopenAndAppend(t, 3100);
  });

  it('a deletion from the archive cut between its two removals: verify reports it deleted, the next deletion removes the lone seal without a second line', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await archiveRun(t);
    const saved = await saveArchived2(t);
    await deleteExpired((await planned(t, 2, 'archive', expiryTime()))!, t.dir);
    await writeFile(join(archivedDir(t), sealFileName(2)), saved.seal);

    await reopenAndAppend(t, 3000);
    const seen = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect([seen.ok, seen.sources[0]?.issues]).toEqual([true, []]);
    const two = seen.sources[0]?.archived.find((a) => a.segment === 2);
    expect([two?.status, two?.link]).toEqual(['not_checked', 'signed_seal']);
    expect(two?.notes.join(' ')).toMatch(/deleted by retention at .* after retention.keep expired/);
    // Listed because the deletion is recorded, whatever the policy says now; a legal hold still stops it.
    expect((await planned(t, 2, 'archive', archiveTime()))?.status).toBe('expired');
    expect((await planRetention(t.dir, policy(t, { legalHold: [SOURCE.id] }), expiryTime())).find((s) => s.segment === 2 && s.location === 'archive')?.status).toBe('held');

    await deleteRun(t);
    expect(await manifestSegments(t)).toEqual([1, 2, 3, 4, 2, 1, 3, 4]);
    expect(await readdir(archivedDir(t))).toEqual([]);
    await expectIntact(t);
    await reopenAndAppend(t, 3100);
  });

  it('the archive keeps what archived.jsonl does not account for: a lone seal whose deletion is not recorded, a segment not recorded, a seal unlike the manifest\'s copy', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await archiveRun(t);
    const expired = async (n: number): Promise<SegmentRetention> => (await planned(t, n, 'archive', expiryTime()))!;
    const text = await readFile(manifestPath(t), 'utf8');

    // Segment 2 removed from the archive outside retention: its seal is not a cut-short deletion.
    const seg2 = await expired(2);
    await unlink(seg2.file);
    expect(await planned(t, 2, 'archive', expiryTime())).toBeUndefined();
    await expect(deleteExpired(seg2, t.dir)).rejects.toMatchObject({ code: 'E_RETENTION_ORPHAN_SEAL', message: 'the seal of segment 2 of clinic-pg in the archive has no segment file, and archived.jsonl does not record the segment as deleted' });
    expect(await exists(seg2.sealFile!)).toBe(true);

    // Segment 3 in the archive, but not in this store's manifest.
    const lines = text.trim().split('\n');
    await writeFile(manifestPath(t), lines.filter((l) => (JSON.parse(l) as { segment: number }).segment !== 3).join('\n') + '\n');
    await expect(deleteExpired(await expired(3), t.dir)).rejects.toMatchObject({ code: 'E_RETENTION_NOT_RECORDED' });
    expect(await exists(join(archivedDir(t), segmentFileName(3)))).toBe(true);

    // Segment 4's seal copy in the manifest edited (same digest): deleting would destroy the evidence.
    const edited = lines.map((l) => {
      const o = JSON.parse(l) as { segment: number; signed_seal: { signature: string } };
      return o.segment === 4 ? JSON.stringify({ ...o, signed_seal: { ...o.signed_seal, signature: o.signed_seal.signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) } }) : l;
    });
    await writeFile(manifestPath(t), edited.join('\n') + '\n');
    await expect(deleteExpired(await expired(4), t.dir)).rejects.toMatchObject({ code: 'E_RETENTION_DIGEST' });
    expect(await exists(join(archivedDir(t), segmentFileName(4)))).toBe(true);
    expect(await readFile(manifestPath(t), 'utf8')).toBe(edited.join('\n') + '\n');
  });

  it('a seal without its segment that archived.jsonl does not record (or records with another digest) is refused as damage', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await unlink(storeFile(t, segmentFileName(2)));
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    await expect(store.openChain(SOURCE)).rejects.toMatchObject({ code: 'E_STORE_CORRUPT', message: 'the seal of segment 2 of clinic-pg has no segment file, and archived.jsonl does not record the segment as moved or deleted' });
    expect((await planRetention(t.dir, policy(t), archiveTime())).find((s) => s.segment === 2)).toBeUndefined();
    expect((await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile })).ok).toBe(false);

    // Recorded, but for another segment's digest.
    const seal3 = JSON.parse(await readFile(storeFile(t, sealFileName(3)), 'utf8')) as { sha256: string };
    await writeFile(manifestPath(t), JSON.stringify({ segment: 2, file: '/nowhere/seg-000002.jsonl', seal: '/nowhere/seg-000002.seal.json', sha256: seal3.sha256, first_seq: 6, last_seq: 10, moved_at: '2026-01-01T00:00:00.000000Z' }) + '\n');
    await expect(store.openChain(SOURCE)).rejects.toThrow(/the seal of segment 2 of clinic-pg has no segment file, and the seal does not match the line archived\.jsonl holds for the segment/);
    expect((await planRetention(t.dir, policy(t), archiveTime())).find((s) => s.segment === 2)).toBeUndefined();
    await store.close();
  });

  it('an archive file that differs from the segment is never overwritten: nothing moves', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    const destDir = join(archiveOf(t), SOURCE.id);
    await mkdir(destDir, { recursive: true });
    await copyFile(storeFile(t, segmentFileName(3)), join(destDir, segmentFileName(2)));
    const seg = (await planned(t, 2, 'store', archiveTime()))!;
    await expect(archiveSegment(seg, t.dir, archiveOf(t))).rejects.toMatchObject({ code: 'E_RETENTION_ARCHIVE_CLASH' });
    expect(await exists(storeFile(t, segmentFileName(2)))).toBe(true);
    expect(await exists(manifestPath(t))).toBe(false);
    expect(await readFile(join(destDir, segmentFileName(2)))).toEqual(await readFile(storeFile(t, segmentFileName(3))));

    // The store's copy altered after the archive got a good one: it is kept as evidence.
    await unlink(join(destDir, segmentFileName(2)));
    await copyFile(storeFile(t, segmentFileName(2)), join(destDir, segmentFileName(2)));
    const bytes = await readFile(storeFile(t, segmentFileName(2)));
    await truncate(storeFile(t, segmentFileName(2)), bytes.length - 1);
    await expect(archiveSegment(seg, t.dir, archiveOf(t))).rejects.toMatchObject({ code: 'E_RETENTION_DIGEST' });
    expect(await exists(storeFile(t, segmentFileName(2)))).toBe(true);
    expect(await exists(manifestPath(t))).toBe(false);
    // Without a copy in the archive, the altered segment's copy is checked before it takes the archive name, and dropped.
    await unlink(join(destDir, segmentFileName(2)));
    await expect(archiveSegment(seg, t.dir, archiveOf(t))).rejects.toMatchObject({ code: 'E_RETENTION_DIGEST' });
    expect(await readdir(destDir)).toEqual([]);
  });
});

