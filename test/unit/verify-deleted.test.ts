/**
 * verify and segments deleted under the retention policy: accepted as
 * deleted (not "not checked", not failing --strict-archive) only with a seal
 * signed by the trusted key that joins the chain on both sides and was
 * sealed at least the retention period ago. Deletions are made by the
 * retention code on real stores, or forged by hand the way someone hiding a
 * deletion would; the CLI's clock is moved with NODE_OPTIONS.
 */
import { appendFile, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { periodMs } from '../../src/config/config-schema.js';
import { deleteExpired } from '../../src/retention/retention-actions.js';
import { MIN_KEEP_MS, planRetention } from '../../src/retention/retention-plan.js';
import { generateSigningKeyPair } from '../../src/store/keys.js';
import { ARCHIVE_MANIFEST, PUBLIC_KEY_FILE, sealFileName, segmentFileName } from '../../src/store/layout.js';
import type { Seal } from '../../src/store/seal.js';
import { DEFAULT_RETENTION_KEEP_MS } from '../../src/store/verify-deletion.js';
import { verifyStore } from '../../src/store/verify-store.js';
import { fourSealed, SOURCE, tempStore, type TempStore, cliFromSource } from './store-helpers.js';

const DAY = 86_400_000;
const chainDir = (t: TempStore): string => join(t.dir, SOURCE.id);
const manifestPath = (t: TempStore): string => join(chainDir(t), ARCHIVE_MANIFEST);

/** The CLI run from source; `shiftMs` moves its clock forward (segments cannot be sealed in the past). */
const cli = (args: string[], shiftMs = 0): ReturnType<typeof cliFromSource> => cliFromSource(args, { shiftMs });


/** What `dbwitness retention --delete-expired` does once keep has passed, for the given segments. */
async function deleteAfterKeep(t: TempStore, segments: number[]): Promise<void> {
  const plan = await planRetention(t.dir, { keepMs: MIN_KEEP_MS, archiveAfterMs: 90 * DAY, archiveDir: null, legalHold: [] }, Date.now() + MIN_KEEP_MS + DAY);
  for (const seg of plan.filter((s) => segments.includes(s.segment))) {
    expect(seg.status).toBe('expired');
    await deleteExpired(seg, t.dir);
  }
}

async function rewriteManifest(t: TempStore, edit: (line: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
  const lines = (await readFile(manifestPath(t), 'utf8')).trim().split('\n');
  await writeFile(manifestPath(t), lines.map((l) => JSON.stringify(edit(JSON.parse(l) as Record<string, unknown>))).join('\n') + '\n');
}

const afterKeep = (): number => Date.now() + MIN_KEEP_MS + DAY;

describe('verify: segments deleted under the retention policy', () => {
  it('uses the retention policy default period', () => {
    expect([DEFAULT_RETENTION_KEEP_MS, periodMs('6y')]).toEqual([MIN_KEEP_MS, MIN_KEEP_MS]);
  });

  it('accepts segments retention deleted after keep expired: not "not checked", exit 0 also with --strict-archive, reported in text and JSON', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await deleteAfterKeep(t, [1, 2, 3]);
    const seal4 = JSON.parse(await readFile(join(chainDir(t), sealFileName(4)), 'utf8')) as Seal;

    const r = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile, now: afterKeep() });
    expect([r.ok, r.complete, r.archivedNotChecked, r.deletedUnderPolicy, r.sources[0]?.issues]).toEqual([true, true, 0, 3, []]);
    const deleted = r.sources[0]!.archived;
    expect(deleted.map((a) => [a.segment, a.status, a.link, a.deletionRefused, a.firstSeq, a.lastSeq])).toEqual([1, 2, 3].map((n) => [n, 'deleted', 'signed_seal', null, n * 5 - 4, n * 5]));
    expect(deleted[2]?.lastHash).toBe(seal4.prev_hash);
    expect(deleted[0]?.sealedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(deleted[0]?.notes[0]).toMatch(/^deleted by retention at \S+ after retention\.keep expired: no copy exists$/);
    expect(r.warnings.filter((w) => /clinic-pg/.test(w))).toEqual([]);
    expect(r.sources[0]?.head.seq).toBe(22);
    expect(r.events).toBe(7);

    const day = deleted[0]!.sealedAt!.slice(0, 10);
    for (const flags of [[], ['--strict-archive']]) {
      const run = cli(['verify', t.dir, '--public-key', t.publicKeyFile, ...flags], MIN_KEEP_MS + DAY);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toContain('source clinic-pg: INTACT\n');
      expect(run.stdout).toContain(`  3 segments deleted under the retention policy (sealed ${day})\n`);
      expect(run.stdout).toMatch(/\n {2}segment 2 \(seq 6\.\.10\): deleted under the retention policy \(sealed \S+\); joined to the chain by its seal, signature valid\n {4}note: deleted by retention at /);
      expect(run.stdout).not.toMatch(/NOT CHECKED|WARNING: clinic-pg/);
      expect(run.stdout).toMatch(/RESULT: intact, 3 segments deleted under the retention policy \(7 events checked/);
      expect(run.stdout).toMatch(/NOTE: A segment deleted under the retention policy is accepted on its seal alone/);
    }
    const json = cli(['verify', t.dir, '--public-key', t.publicKeyFile, '--json', '--strict-archive'], MIN_KEEP_MS + DAY);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as {
      complete: boolean;
      archived_not_checked: number;
      deleted_under_policy: number;
      retention_keep_ms: number;
      sources: { deleted_segments: number; archived_segments: { segment: number; status: string; sealed_at: string; deleted_at: string; deletion_refused: unknown }[] }[];
    };
    expect([report.complete, report.archived_not_checked, report.deleted_under_policy, report.retention_keep_ms, report.sources[0]?.deleted_segments]).toEqual([true, 0, 3, MIN_KEEP_MS, 3]);
    expect(report.sources[0]?.archived_segments.map((a) => [a.segment, a.status, a.sealed_at.slice(0, 10), typeof a.deleted_at, a.deletion_refused])).toEqual([1, 2, 3].map((n) => [n, 'deleted', day, 'string', null]));
  });

  it('does not accept a forged deletion of a recent segment (removed by hand, its own seal kept in a hand-written line): not checked, --strict-archive exits 3, with the reason', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    const sealPath = join(chainDir(t), sealFileName(3));
    const seal = JSON.parse(await readFile(sealPath, 'utf8')) as Seal;
    await unlink(join(chainDir(t), segmentFileName(3)));
    await unlink(sealPath);
    const forged = { segment: 3, file: join(chainDir(t), segmentFileName(3)), seal: sealPath, sha256: seal.sha256, first_seq: 11, last_seq: 15, moved_at: new Date().toISOString(), deleted_at: new Date().toISOString(), signed_seal: seal };
    await appendFile(manifestPath(t), JSON.stringify(forged) + '\n');

    const r = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect([r.ok, r.complete, r.archivedNotChecked, r.deletedUnderPolicy]).toEqual([true, false, 1, 0]);
    const three = r.sources[0]!.archived[0]!;
    expect([three.segment, three.status, three.link, three.deletionRefused?.reason]).toEqual([3, 'not_checked', 'signed_seal', 'too_recent']);
    expect(three.notes[0]).toMatch(/^recorded as deleted by retention at \S+ after retention\.keep expired, but not accepted as a deletion under the policy: it was sealed at \S+, less than the retention period \(6y\) before now/);
    const warning = r.warnings.find((w) => w.startsWith('clinic-pg: segment 3 (seq 11..15) is recorded as deleted by retention but not accepted'));
    expect(warning).toContain(`it was sealed at ${seal.sealed_at}, less than the retention period (6y) before now, so the policy did not allow its deletion yet; if the store's retention.keep is shorter, pass it with --retention-keep, otherwise the segment was deleted early: restore it from a backup`);
    expect(r.warnings.join('\n')).not.toMatch(/archive copy is not reachable/);

    const strict = cli(['verify', t.dir, '--public-key', t.publicKeyFile, '--strict-archive']);
    expect(strict.code, strict.stdout + strict.stderr).toBe(3);
    expect(strict.stdout).toContain('segment 3 (seq 11..15): RECORDED AS DELETED, NOT CHECKED (deletion not accepted under the policy); joined to the chain by its seal, signature valid');
    expect(strict.stdout).toMatch(/WARNING: clinic-pg: segment 3 .* less than the retention period \(6y\) before now/);
    expect(strict.stdout).toMatch(/RESULT: INCOMPLETE, 1 segment not checked \(/);
    expect(strict.stdout).toMatch(/NOTE: A segment deleted under the retention policy is accepted on its seal alone/);
    expect(strict.stdout).not.toMatch(/NOTE: An archived segment that cannot be read/);
    expect(cli(['verify', t.dir, '--public-key', t.publicKeyFile]).code).toBe(0);
  });

  it('does not accept a deletion line whose seal signature does not verify: a backdated sealed_at, another key, no key', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await deleteAfterKeep(t, [2]);
    const original = await readFile(manifestPath(t), 'utf8');

    // The seal's sealed_at moved back six years to pass the age check: the signature no longer covers it.
    await rewriteManifest(t, (l) => ({ ...l, signed_seal: { ...(l['signed_seal'] as Seal), sealed_at: '2019-01-01T00:00:00.000000Z' } }));
    const backdated = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile });
    expect([backdated.ok, backdated.complete, backdated.deletedUnderPolicy]).toEqual([false, false, 0]);
    const two = backdated.sources[0]!.archived[0]!;
    expect([two.status, two.link, two.deletionRefused?.reason]).toEqual(['not_checked', 'unchecked_seal', 'signature']);
    expect(backdated.sources[0]!.issues.map((i) => i.problem)).toEqual([
      expect.stringMatching(/^segment 2, recorded as deleted by retention at \S+: seal signature is invalid \(seal edited\)\. Not accepted as a deletion under the policy, which needs a seal signed by the trusted key that joins the chain; if --public-key is the key this store signs with, the manifest line or its seal copy was edited: restore archived\.jsonl from a backup$/),
    ]);
    for (const flags of [[], ['--strict-archive']]) {
      const run = cli(['verify', t.dir, '--public-key', t.publicKeyFile, ...flags], MIN_KEEP_MS + DAY);
      expect(run.code, run.stdout + run.stderr).toBe(1);
      expect(run.stdout).toMatch(/FIRST BAD EVENT: .*segment 2, recorded as deleted by retention at \S+: seal signature is invalid/);
    }
    await writeFile(manifestPath(t), original);

    // Signed by a key other than the trusted one.
    const other = join(t.root, 'other.pub.pem');
    await writeFile(other, generateSigningKeyPair().publicPem);
    const otherKey = await verifyStore(t.dir, { publicKeyFile: other, now: afterKeep() });
    expect(otherKey.deletedUnderPolicy).toBe(0);
    expect(otherKey.sources[0]!.archived[0]!.deletionRefused?.reason).toBe('signature');
    expect(otherKey.sources[0]!.issues.map((i) => i.problem).join('\n')).toMatch(/segment 2, recorded as deleted by retention at \S+: seal is signed by key \S+, not the trusted key/);

    // No key at all: nothing checks the seal, so nothing dates the deletion.
    await unlink(join(t.dir, PUBLIC_KEY_FILE));
    const noKey = await verifyStore(t.dir, { now: afterKeep() });
    expect([noKey.ok, noKey.complete, noKey.deletedUnderPolicy]).toEqual([true, false, 0]);
    expect(noKey.sources[0]!.archived[0]!.deletionRefused?.reason).toBe('signature');
    expect(noKey.warnings.join('\n')).toContain('clinic-pg: segment 2 (seq 6..10) is recorded as deleted by retention but not accepted as deleted under the policy, so counted as not checked: its seal signature was not checked (no public key); pass --public-key with the key the store signs with.');

    // The untouched line, checked with the right key after keep, is accepted.
    expect((await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile, now: afterKeep() })).deletedUnderPolicy).toBe(1);
  });

  it('--retention-keep shorter than six years accepts a correspondingly younger deletion, and only that', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await deleteAfterKeep(t, [1, 2]);
    const twoYears = periodMs('2y');
    const later = Date.now() + twoYears + DAY;

    const kept2y = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile, retentionKeepMs: twoYears, now: later });
    expect([kept2y.ok, kept2y.complete, kept2y.deletedUnderPolicy, kept2y.retentionKeepMs]).toEqual([true, true, 2, twoYears]);
    const kept3y = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile, retentionKeepMs: periodMs('3y'), now: later });
    expect([kept3y.complete, kept3y.deletedUnderPolicy, kept3y.sources[0]!.archived.map((a) => a.deletionRefused?.reason)]).toEqual([false, 0, ['too_recent', 'too_recent']]);
    expect(kept3y.warnings.join('\n')).toContain('clinic-pg: 2 segments, 1 (seq 1..5), 2 (seq 6..10), are recorded as deleted by retention but not accepted as deleted under the policy, so counted as not checked: for segment 2, it was sealed at');
    expect(kept3y.warnings.join('\n')).toContain('less than the retention period (3y) before now');

    const shortKeep = cli(['verify', t.dir, '--public-key', t.publicKeyFile, '--strict-archive', '--retention-keep', '2y'], twoYears + DAY);
    expect(shortKeep.code, shortKeep.stdout + shortKeep.stderr).toBe(0);
    expect(shortKeep.stdout).toContain('  2 segments deleted under the retention policy (sealed ');
    const inDays = cli(['verify', t.dir, '--public-key', t.publicKeyFile, '--strict-archive', '--retention-keep', '732d', '--json'], twoYears + DAY);
    expect([inDays.code, (JSON.parse(inDays.stdout) as { deleted_under_policy: number }).deleted_under_policy]).toEqual([0, 2]);
    const defaultKeep = cli(['verify', t.dir, '--public-key', t.publicKeyFile, '--strict-archive'], twoYears + DAY);
    expect(defaultKeep.code, defaultKeep.stdout + defaultKeep.stderr).toBe(3);
    expect(defaultKeep.stdout).toContain('less than the retention period (6y) before now');

    for (const bad of ['six years', '0y', '-1d', '6 y']) {
      const r = cli(['verify', t.dir, '--public-key', t.publicKeyFile, '--retention-keep', bad]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/--retention-keep expects a retention period like 6y or 2192d[\s\S]*fix:/);
    }
  });

  it('does not accept a deletion that nothing follows: retention never deletes the newest segment', async () => {
    await using t = await tempStore();
    await fourSealed(t);
    await deleteAfterKeep(t, [3, 4]);
    // The open segment and the newest sealed one removed as well: the chain now ends with the recorded deletions.
    await unlink(join(chainDir(t), segmentFileName(5)));

    const r = await verifyStore(t.dir, { publicKeyFile: t.publicKeyFile, now: afterKeep() });
    expect([r.ok, r.complete, r.deletedUnderPolicy]).toEqual([true, false, 1]);
    expect(r.sources[0]!.archived.map((a) => [a.segment, a.status, a.deletionRefused?.reason ?? null])).toEqual([
      [3, 'deleted', null],
      [4, 'not_checked', 'not_joined'],
    ]);
    expect(r.sources[0]!.archived[1]!.notes[0]).toMatch(/not accepted as a deletion under the policy: nothing follows it in the chain, and retention never deletes the newest segment$/);
  });
});
