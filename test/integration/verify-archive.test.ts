/**
 * verify over a store whose sealed segments retention moved to an archive:
 * archived copies are checked like local segments wherever they are
 * reachable; an unreachable one is "archived, not checked" (a warning, exit
 * 0, exit 3 with --strict-archive) but must still fit the chain; tampering
 * with the copy, the seal or the manifest, and plain deletion, fail. A
 * segment retention deleted is accepted as deleted under the policy only
 * once its seal is older than the retention period.
 */
import { appendFile, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore, type FileChain } from '../../src/store/index.js';
import { planRetention, MIN_KEEP_MS } from '../../src/retention/retention-plan.js';
import { archiveSegment } from '../../src/retention/retention-actions.js';
import { ARCHIVE_MANIFEST, sealFileName, segmentFileName } from '../../src/store/layout.js';
import { verifyStore } from '../../src/store/verify-store.js';
import type { Seal } from '../../src/store/seal.js';
import { runCli } from '../harness/index.js';
import { drafts, fourSealed, SOURCE, tempStore, type TempStore } from '../unit/store-helpers.js';

const DAY = 86_400_000;
const chainDir = (t: TempStore): string => join(t.dir, SOURCE.id);


/** Moves the given segments through the retention code (as if 100 days had passed). */
async function archive(t: TempStore, archiveDir: string, segments: number[]): Promise<void> {
  const plan = await planRetention(t.dir, { keepMs: MIN_KEEP_MS, archiveAfterMs: 90 * DAY, archiveDir, legalHold: [] }, Date.now() + 100 * DAY);
  for (const seg of plan.filter((s) => segments.includes(s.segment) && s.location === 'store')) await archiveSegment(seg, t.dir, archiveDir);
}

/**
 * The environment of a CLI run as if keep (six years) had passed: segments
 * cannot be sealed in the past, so the child's clock is moved forward.
 */
const afterKeep = (): NodeJS.ProcessEnv => ({ NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --import=data:text/javascript,Date.now=((n)=>()=>n()+${MIN_KEEP_MS + DAY})(Date.now);`.trim() });

async function manifestLines(t: TempStore): Promise<Record<string, unknown>[]> {
  return (await readFile(join(chainDir(t), ARCHIVE_MANIFEST), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('verify with archived segments', () => {
  it('checks archived copies like local segments when the archive is reachable (retention CLI, real move)', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    const archiveDir = join(t.root, 'archive');
    const moved = await runCli(['retention', t.dir, '--archive-dir', archiveDir, '--archive-after', '0s', '--archive']);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout.match(/^moved clinic-pg segment \d/gm)).toHaveLength(4);
    const lines = await manifestLines(t);
    expect(lines.map((l) => [l['segment'], l['first_seq'], l['last_seq'], l['file']])).toEqual([1, 2, 3, 4].map((n) => [n, n * 5 - 4, n * 5, join(archiveDir, SOURCE.id, segmentFileName(n))]));
    expect((lines[1]?.['signed_seal'] as Seal).signature).toMatch(/^[A-Za-z0-9+/]+=*$/);

    const r = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect(r.sources[0]?.issues).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.complete).toBe(true);
    expect(r.events).toBe(22);
    expect(r.sources[0]?.archived.map((a) => [a.segment, a.status, a.file])).toEqual([1, 2, 3, 4].map((n) => [n, 'checked', join(archiveDir, SOURCE.id, segmentFileName(n))]));
    expect(r.sources[0]?.head.seq).toBe(22);

    const cli = await runCli(['verify', t.dir, '--public-key', t.publicKeyFile]);
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    expect(cli.stdout).toContain('source clinic-pg: INTACT\n');
    expect(cli.stdout).toContain(`archived segment 2 (seq 6..10): checked, read from ${join(archiveDir, SOURCE.id, segmentFileName(2))}`);
    expect(cli.stdout).toMatch(/22 events in 5 segments \(4 sealed, 4 read from the archive\)/);
    expect(cli.stdout).toMatch(/RESULT: intact \(22 events checked/);
  });

  it('finds a moved archive with --archive; without it the segments are archived, not checked (exit 0, or 3 with --strict-archive)', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    const archiveDir = join(t.root, 'archive');
    await archive(t, archiveDir, [2, 3]);
    const movedTo = join(t.root, 'mounted-elsewhere');
    await rename(archiveDir, movedTo);

    const found = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile, archiveDirs: [movedTo] });
    expect(found.sources[0]?.issues).toEqual([]);
    expect(found.complete).toBe(true);
    expect(found.events).toBe(22);
    expect(found.sources[0]?.archived.map((a) => [a.segment, a.status, a.file])).toEqual([
      [2, 'checked', join(movedTo, SOURCE.id, segmentFileName(2))],
      [3, 'checked', join(movedTo, SOURCE.id, segmentFileName(3))],
    ]);
    const cliFound = await runCli(['verify', t.dir, '--public-key', t.publicKeyFile, '--archive', movedTo, '--strict-archive']);
    expect(cliFound.code, cliFound.stdout).toBe(0);
    expect(cliFound.stdout).not.toMatch(/WARNING: clinic-pg/);

    const lost = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect(lost.sources[0]?.issues).toEqual([]);
    expect(lost.ok).toBe(true);
    expect(lost.complete).toBe(false);
    expect(lost.archivedNotChecked).toBe(2);
    expect(lost.events).toBe(12); // segments 1 and 4 and the open one
    expect(lost.sources[0]?.archived.map((a) => [a.segment, a.status, a.link, a.firstSeq, a.lastSeq])).toEqual([
      [2, 'not_checked', 'signed_seal', 6, 10],
      [3, 'not_checked', 'signed_seal', 11, 15],
    ]);
    expect(lost.warnings.join('\n')).toContain('clinic-pg: 2 archived segments not checked, the archive copy is not reachable: 2 (seq 6..10), 3 (seq 11..15)');

    const cli = await runCli(['verify', t.dir, '--public-key', t.publicKeyFile]);
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    expect(cli.stdout).toContain('source clinic-pg: INTACT as far as checked (2 archived segments not checked)');
    expect(cli.stdout).toContain(`archived segment 2 (seq 6..10): ARCHIVED, NOT CHECKED (not reachable at ${join(archiveDir, SOURCE.id, segmentFileName(2))}); joined to the chain by its seal, signature valid`);
    expect(cli.stdout).toMatch(/RESULT: intact, 2 archived segments not checked/);
    expect(cli.stdout).toMatch(/NOTE: An archived segment that cannot be read/);

    const strict = await runCli(['verify', t.dir, '--public-key', t.publicKeyFile, '--strict-archive']);
    expect(strict.code).toBe(3);
    expect(strict.stdout).toMatch(/RESULT: INCOMPLETE, 2 archived segments not checked/);

    const json = await runCli(['verify', t.dir, '--public-key', t.publicKeyFile, '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { ok: boolean; complete: boolean; archived_not_checked: number; sources: { archived_segments: { segment: number; status: string; link: string; last_hash: string }[] }[] };
    expect([report.ok, report.complete, report.archived_not_checked]).toEqual([true, false, 2]);
    expect(report.sources[0]?.archived_segments.map((a) => [a.segment, a.status, a.link])).toEqual([
      [2, 'not_checked', 'signed_seal'],
      [3, 'not_checked', 'signed_seal'],
    ]);
    const seal3 = JSON.parse(await readFile(join(movedTo, SOURCE.id, sealFileName(3)), 'utf8')) as Seal;
    expect(report.sources[0]?.archived_segments[1]?.last_hash).toBe(seal3.last_hash);
  });

  it('segments deleted from the archive after keep (retention CLI) are recorded, and verify reports them as deleted under the policy', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    const archiveDir = join(t.root, 'archive');
    const moved = await runCli(['retention', t.dir, '--archive-dir', archiveDir, '--archive-after', '0s', '--archive']);
    expect(moved.code, moved.stderr).toBe(0);
    const early = await runCli(['retention', t.dir, '--archive-dir', archiveDir, '--delete-expired']);
    expect([early.code, early.stdout.match(/^deleted/gm)]).toEqual([0, null]);

    const deleted = await runCli(['retention', t.dir, '--archive-dir', archiveDir, '--delete-expired'], { env: afterKeep() });
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout.match(/^deleted clinic-pg segment \d \(archive\)$/gm)).toHaveLength(4);
    expect(await readdir(join(archiveDir, SOURCE.id))).toEqual([]);
    const recorded = (lines: Record<string, unknown>[]): unknown[] => lines.map((l) => [l['segment'], typeof l['deleted_at']]);
    const expected = [...[1, 2, 3, 4].map((n) => [n, 'undefined']), ...[1, 2, 3, 4].map((n) => [n, 'string'])];
    expect(recorded(await manifestLines(t))).toEqual(expected);
    // A second run finds nothing left to delete and records nothing twice.
    const again = await runCli(['retention', t.dir, '--archive-dir', archiveDir, '--delete-expired'], { env: afterKeep() });
    expect([again.code, again.stdout.match(/^deleted/gm)]).toEqual([0, null]);
    expect(recorded(await manifestLines(t))).toEqual(expected);

    // Verified at the time of the deletion run, the seals are six years old: deleted under the policy, not "not checked".
    const r = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile, archiveDirs: [archiveDir], now: Date.now() + MIN_KEEP_MS + DAY });
    expect([r.ok, r.complete, r.archivedNotChecked, r.deletedUnderPolicy, r.sources[0]?.issues]).toEqual([true, true, 0, 4, []]);
    expect(r.sources[0]?.archived.map((a) => [a.segment, a.status, a.link, /^deleted by retention at .* after retention\.keep expired: no copy exists$/.test(a.notes[0] ?? '')])).toEqual([1, 2, 3, 4].map((n) => [n, 'deleted', 'signed_seal', true]));
    expect(r.sources[0]?.head.seq).toBe(22);
    for (const flags of [[], ['--strict-archive']]) {
      const cli = await runCli(['verify', t.dir, '--public-key', t.publicKeyFile, '--archive', archiveDir, ...flags], { env: afterKeep() });
      expect(cli.code, cli.stdout + cli.stderr).toBe(0);
      expect(cli.stdout).toMatch(/\n {2}4 segments deleted under the retention policy \(sealed \d{4}-\d\d-\d\d\)\n/);
      expect(cli.stdout).toMatch(/\n {2}segment 3 \(seq 11\.\.15\): deleted under the retention policy \(sealed \S+\); joined to the chain by its seal, signature valid\n {4}note: deleted by retention at .* after retention\.keep expired: no copy exists\n/);
      expect(cli.stdout).toMatch(/RESULT: intact, 4 segments deleted under the retention policy \(/);
    }
    const json = await runCli(['verify', t.dir, '--public-key', t.publicKeyFile, '--json'], { env: afterKeep() });
    const report = JSON.parse(json.stdout) as { complete: boolean; deleted_under_policy: number; sources: { deleted_segments: number; archived_segments: { status: string; deleted_at: string | null }[] }[] };
    expect([json.code, report.complete, report.deleted_under_policy, report.sources[0]?.deleted_segments]).toEqual([0, true, 4, 4]);
    expect(report.sources[0]?.archived_segments.map((a) => [a.status, typeof a.deleted_at])).toEqual([1, 2, 3, 4].map(() => ['deleted', 'string']));

    // Verified now, the same seals are younger than the retention period: not accepted, with the reason.
    const young = await runCli(['verify', t.dir, '--public-key', t.publicKeyFile, '--archive', archiveDir, '--strict-archive']);
    expect(young.code, young.stdout + young.stderr).toBe(3);
    expect(young.stdout).toContain('segment 3 (seq 11..15): RECORDED AS DELETED, NOT CHECKED (deletion not accepted under the policy)');
    expect(young.stdout).toMatch(/WARNING: clinic-pg: 4 segments, .* are recorded as deleted by retention but not accepted .* less than the retention period \(6y\) before now/);

    // The store still opens and continues the chain after the segments it deleted.
    const store = await openStore(t.dir, { signingKeyFile: t.keyFile });
    const chain = (await store.openChain(SOURCE)) as FileChain;
    expect((await chain.append(drafts(3000, 3001), 'after-deletion')).map((e) => e.seq)).toEqual([23]);
    await store.close();
    expect((await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile })).ok).toBe(true);
  });

  it('detects a tampered archived copy, seal or manifest line', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    const archiveDir = join(t.root, 'archive');
    await archive(t, archiveDir, [2, 3]);
    const copy = join(archiveDir, SOURCE.id, segmentFileName(2));
    const original = await readFile(copy, 'utf8');

    // One event altered in the archived copy: its hash and the seal digest both fail.
    await writeFile(copy, original.replace('"Patient 7 ', '"Patient 8 '));
    const edited = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect(edited.ok).toBe(false);
    const problems = edited.sources[0]!.issues;
    expect(problems.find((i) => i.seq === 8)).toMatchObject({ file: copy, problem: 'content does not match its hash (event modified)' });
    expect(problems.some((i) => i.file === copy && /segment bytes differ from the sealed digest/.test(i.problem))).toBe(true);
    const cli = await runCli(['verify', t.dir, '--public-key', t.publicKeyFile, '--archive', archiveDir]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain(`FIRST BAD EVENT: seq 8 in ${copy}`);
    await writeFile(copy, original);
    expect((await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile })).ok).toBe(true);

    // The last event cut from the archived copy.
    const lines = original.split('\n');
    await writeFile(copy, [...lines.slice(0, -2), ''].join('\n'));
    const cut = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect(cut.ok).toBe(false);
    expect(cut.sources[0]!.issues.map((i) => i.problem).join('\n')).toMatch(/sealed at \d+: truncated/);
    await writeFile(copy, original);

    // The archived seal file re-written to match an edited copy: the signature fails, and it no longer equals the manifest's copy.
    const sealPath = join(archiveDir, SOURCE.id, sealFileName(3));
    const seal = JSON.parse(await readFile(sealPath, 'utf8')) as Seal;
    await writeFile(sealPath, JSON.stringify({ ...seal, count: 4 }));
    const sealEdited = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect(sealEdited.ok).toBe(false);
    const sealProblems = sealEdited.sources[0]!.issues.map((i) => i.problem).join('\n');
    expect(sealProblems).toContain('the archived seal of segment 3');
    expect(sealProblems).toContain('seal signature is invalid (seal edited)');
    await writeFile(sealPath, JSON.stringify(seal));

    // With the archive out of reach, an edited manifest line (seal copy changed) fails too.
    await rm(archiveDir, { recursive: true });
    const manifest = join(chainDir(t), ARCHIVE_MANIFEST);
    const text = await readFile(manifest, 'utf8');
    const forged = text.split('\n').map((l) => {
      if (l === '') return l;
      const o = JSON.parse(l) as { segment: number; last_seq: number; signed_seal: Seal };
      return o.segment === 3 ? JSON.stringify({ ...o, last_seq: 14, signed_seal: { ...o.signed_seal, last_seq: 14, count: 4 } }) : l;
    });
    await writeFile(manifest, forged.join('\n'));
    const manifestEdited = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect(manifestEdited.ok).toBe(false);
    expect(manifestEdited.sources[0]!.issues.map((i) => i.problem).join('\n')).toContain('archived segment 3 (not reachable): seal signature is invalid (seal edited)');
  });

  it('a segment deleted from the store is an error unless the manifest accounts for it, and a forged line must still fit the chain', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await archive(t, join(t.root, 'archive'), [2]);
    const seal3 = await readFile(join(chainDir(t), sealFileName(3)), 'utf8');
    // Segment 3 deleted with its seal, nothing recorded.
    await unlink(join(chainDir(t), segmentFileName(3)));
    await unlink(join(chainDir(t), sealFileName(3)));
    const deleted = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect(deleted.ok).toBe(false);
    expect(deleted.sources[0]!.issueCount).toBe(1);
    expect(deleted.sources[0]!.issues[0]).toMatchObject({ file: join(chainDir(t), segmentFileName(3)), seq: 11, problem: 'segment file missing: segment numbers jump past it (deleted)' });
    const cli = await runCli(['verify', t.dir, '--public-key', t.publicKeyFile]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/RESULT: TAMPERED/);

    // A line without a seal copy (as an older version wrote them) claiming
    // the wrong seq range is caught by the segments around it.
    const manifest = join(chainDir(t), ARCHIVE_MANIFEST);
    const claim = { segment: 3, file: '/nowhere/seg-000003.jsonl', seal: '/nowhere/seg-000003.seal.json', sha256: 'a'.repeat(64), first_seq: 11, last_seq: 14, moved_at: '2026-01-01T00:00:00.000000Z' };
    await appendFile(manifest, JSON.stringify(claim) + '\n');
    const wrongRange = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect(wrongRange.ok).toBe(false);
    expect(wrongRange.sources[0]!.issues.map((i) => i.problem)).toEqual(['segment starts after seq 15 but the archived segment before it ends at seq 14 (archive manifest): events or segments were removed or added']);

    // A consistent seq range without a seal joins by seq only: not an error, but never silent.
    const text = (await readFile(manifest, 'utf8')).trim().split('\n');
    await writeFile(manifest, [...text.slice(0, -1), JSON.stringify({ ...claim, last_seq: 15 })].join('\n') + '\n');
    const seqOnly = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect(seqOnly.sources[0]!.issues).toEqual([]);
    expect(seqOnly.complete).toBe(false);
    expect(seqOnly.sources[0]!.archived.find((a) => a.segment === 3)).toMatchObject({ status: 'not_checked', link: 'seq_only' });
    const warned = await runCli(['verify', t.dir, '--public-key', t.publicKeyFile]);
    expect(warned.code).toBe(0);
    expect(warned.stdout).toContain('joined to the chain by seq numbers only (no seal recorded: hashes unknown)');
    expect(warned.stdout).toMatch(/WARNING: clinic-pg: 1 archived segment not checked/);
    expect((await runCli(['verify', t.dir, '--public-key', t.publicKeyFile, '--strict-archive'])).code).toBe(3);

    // A seal copy from another segment does not fit.
    const seal2 = (JSON.parse(text[0]!) as { signed_seal: Seal }).signed_seal;
    await writeFile(manifest, [text[0], JSON.stringify({ ...claim, last_seq: 15, signed_seal: seal2 })].join('\n') + '\n');
    const otherSeal = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect(otherSeal.ok).toBe(false);
    expect(otherSeal.sources[0]!.issues.map((i) => i.problem).join('\n')).toMatch(/archive manifest records segment 3 with a different digest and seq 11\.\.15 where its seal covers 6\.\.10[\s\S]*seal names clinic-pg\/seg-000002\.jsonl/);

    // The limit (docs/store.md): the segment's own seal, kept when it was
    // deleted, makes a line verify cannot tell from a real move to an archive
    // it cannot reach. It is reported as not checked, never as intact.
    const ownSeal = JSON.parse(seal3) as Seal;
    await writeFile(manifest, [text[0], JSON.stringify({ ...claim, sha256: ownSeal.sha256, last_seq: 15, signed_seal: ownSeal })].join('\n') + '\n');
    const limit = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect([limit.ok, limit.complete, limit.archivedNotChecked]).toEqual([true, false, 1]);
    expect(limit.sources[0]!.archived.find((a) => a.segment === 3)).toMatchObject({ status: 'not_checked', link: 'signed_seal' });

    // The same line claiming a deletion by retention: a recent seal is not accepted as one.
    await writeFile(manifest, [text[0], JSON.stringify({ ...claim, sha256: ownSeal.sha256, last_seq: 15, signed_seal: ownSeal, deleted_at: '2026-01-02T00:00:00.000000Z' })].join('\n') + '\n');
    const forgedDeletion = await runCli(['verify', t.dir, '--public-key', t.publicKeyFile, '--strict-archive']);
    expect(forgedDeletion.code, forgedDeletion.stdout + forgedDeletion.stderr).toBe(3);
    expect(forgedDeletion.stdout).toContain(`WARNING: clinic-pg: segment 3 (seq 11..15) is recorded as deleted by retention but not accepted as deleted under the policy, so counted as not checked: it was sealed at ${ownSeal.sealed_at}, less than the retention period (6y) before now`);
  });
});
