/**
 * Retention over a real store with sealed segments: what is due for the
 * archive, moves verified against the seal, and deletion refused before six
 * years or under legal hold.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { planRetention, MIN_KEEP_MS, type RetentionPolicy } from '../../src/retention/retention-plan.js';
import { archiveSegment, deleteExpired, ARCHIVE_MANIFEST } from '../../src/retention/retention-actions.js';
import type { FileChain } from '../../src/store/index.js';
import { cliFromSource, drafts, SOURCE, tempStore } from './store-helpers.js';
import { runCli } from '../harness/index.js';

const DAY = 86_400_000;

async function sealedStore(dir: string, keyFile: string, segments: number): Promise<void> {
  const store = await openStore(dir, { signingKeyFile: keyFile });
  const chain = (await store.openChain(SOURCE)) as FileChain;
  for (let i = 0; i < segments; i++) {
    await chain.append(drafts(i * 5, i * 5 + 5), `cp${i}`);
    await chain.rotate();
  }
  await chain.append(drafts(1000, 1002), 'open');
  await store.close();
}

function policy(over: Partial<RetentionPolicy> = {}): RetentionPolicy {
  return { keepMs: MIN_KEEP_MS, archiveAfterMs: 90 * DAY, archiveDir: null, legalHold: [], ...over };
}

describe('retention', () => {
  it('refuses a keep shorter than six years', async () => {
    await using tmp = await tempStore();
    await expect(planRetention(tmp.dir, policy({ keepMs: 365 * DAY }))).rejects.toThrow(/at least six years/);
  });

  it('classifies segments by age: open and newest stay, old sealed ones are due, expired after keep', async () => {
    await using tmp = await tempStore();
    await sealedStore(tmp.dir, tmp.keyFile, 3);
    const now = Date.now();
    const fresh = await planRetention(tmp.dir, policy({ archiveDir: join(tmp.root, 'archive') }), now);
    expect(fresh.map((s) => s.status)).toEqual(['kept', 'kept', 'kept', 'open']);
    const later = await planRetention(tmp.dir, policy({ archiveDir: join(tmp.root, 'archive') }), now + 100 * DAY);
    expect(later.map((s) => s.status)).toEqual(['archive_due', 'archive_due', 'archive_due', 'open']);
    const muchLater = await planRetention(tmp.dir, policy(), now + MIN_KEEP_MS + DAY);
    expect(muchLater.map((s) => s.status)).toEqual(['expired', 'expired', 'expired', 'open']);
    const held = await planRetention(tmp.dir, policy({ legalHold: [SOURCE.id] }), now + MIN_KEEP_MS + DAY);
    expect(held.map((s) => s.status)).toEqual(['held', 'held', 'held', 'open']);
  });

  it('moves a due segment verified against its seal, and refuses early or held deletion', async () => {
    await using tmp = await tempStore();
    await sealedStore(tmp.dir, tmp.keyFile, 2);
    const archiveDir = join(tmp.root, 'archive');
    const later = Date.now() + 100 * DAY;
    const plan = await planRetention(tmp.dir, policy({ archiveDir }), later);
    const first = plan[0]!;
    const original = await readFile(first.file);
    const dest = await archiveSegment(first, tmp.dir, archiveDir);
    expect(await readFile(dest)).toEqual(original);
    await expect(stat(first.file)).rejects.toThrow();
    const manifest = (await readFile(join(tmp.dir, SOURCE.id, ARCHIVE_MANIFEST), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { segment: number });
    expect(manifest.map((m) => m.segment)).toEqual([1]);
    expect((await readdir(join(archiveDir, SOURCE.id))).sort()).toEqual(['seg-000001.jsonl', 'seg-000001.seal.json']);

    const after = await planRetention(tmp.dir, policy({ archiveDir }), later);
    expect(after.find((s) => s.location === 'archive')?.status).toBe('archived');
    const archived = after.find((s) => s.location === 'archive')!;
    await expect(deleteExpired(archived, tmp.dir)).rejects.toThrow(/refusing to delete.*may be deleted from/);
    const heldPlan = await planRetention(tmp.dir, policy({ archiveDir, legalHold: [SOURCE.id] }), Date.now() + MIN_KEEP_MS + DAY);
    await expect(deleteExpired(heldPlan.find((s) => s.location === 'archive')!, tmp.dir)).rejects.toThrow(/legal hold/);
    const expiredPlan = await planRetention(tmp.dir, policy({ archiveDir }), Date.now() + MIN_KEEP_MS + DAY);
    const expired = expiredPlan.find((s) => s.location === 'archive')!;
    expect(expired.status).toBe('expired');
    await deleteExpired(expired, tmp.dir);
    await expect(stat(expired.file)).rejects.toThrow();
  });

  it('an expired segment deleted from the store is recorded, so verify joins the chain across it by its signed seal instead of reporting it missing (run at the real time, the deletion is too recent to be accepted: verify-deleted.test.ts covers acceptance)', async () => {
    await using tmp = await tempStore();
    await sealedStore(tmp.dir, tmp.keyFile, 2);
    const plan = await planRetention(tmp.dir, policy(), Date.now() + MIN_KEEP_MS + DAY);
    const expired = plan.find((s) => s.segment === 1 && s.location === 'store')!;
    expect(expired.status).toBe('expired');
    await deleteExpired(expired, tmp.dir);
    await expect(stat(expired.file)).rejects.toThrow();
    const json = await runCli(['verify', tmp.dir, '--public-key', tmp.publicKeyFile, '--json']);
    expect(json.code, json.stdout + json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { ok: boolean; sources: { archived_segments: { segment: number; status: string; link: string; notes: string[] }[] }[] };
    expect(report.ok).toBe(true);
    const seg = report.sources[0]?.archived_segments[0];
    expect([seg?.segment, seg?.status, seg?.link]).toEqual([1, 'not_checked', 'signed_seal']);
    expect(seg?.notes.join(' ')).toMatch(/deleted by retention at .* after retention.keep expired/);
  });

  it('an expired segment deleted from the archive is recorded too (moved_at kept, deleted_at added), so verify joins the chain across it by its signed seal', async () => {
    await using tmp = await tempStore();
    await sealedStore(tmp.dir, tmp.keyFile, 2);
    const archiveDir = join(tmp.root, 'archive');
    await archiveSegment((await planRetention(tmp.dir, policy({ archiveDir }), Date.now() + 100 * DAY))[0]!, tmp.dir, archiveDir);
    const expired = (await planRetention(tmp.dir, policy({ archiveDir }), Date.now() + MIN_KEEP_MS + DAY)).find((s) => s.location === 'archive')!;
    expect([expired.segment, expired.status]).toEqual([1, 'expired']);
    await deleteExpired(expired, tmp.dir);
    expect(await readdir(join(archiveDir, SOURCE.id))).toEqual([]);

    const [moved, deleted, ...more] = (await readFile(join(tmp.dir, SOURCE.id, ARCHIVE_MANIFEST), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(more).toEqual([]);
    expect(moved?.['deleted_at']).toBeUndefined();
    const { deleted_at: deletedAt, ...rest } = deleted!;
    expect(rest).toEqual(moved);
    expect(deletedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    const json = await runCli(['verify', tmp.dir, '--public-key', tmp.publicKeyFile, '--json']);
    expect(json.code, json.stdout + json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { ok: boolean; sources: { issues: unknown[]; archived_segments: { segment: number; status: string; link: string; notes: string[] }[] }[] };
    expect([report.ok, report.sources[0]?.issues]).toEqual([true, []]);
    const seg = report.sources[0]?.archived_segments[0];
    expect([seg?.segment, seg?.link]).toEqual([1, 'signed_seal']);
    expect(seg?.notes.join(' ')).toMatch(/deleted by retention at .* after retention.keep expired/);
  });

  it('the retention command lists segments and refuses early deletion and short keeps', async () => {
    await using tmp = await tempStore();
    await sealedStore(tmp.dir, tmp.keyFile, 2);
    const list = await runCli(['retention', tmp.dir, '--json']);
    expect(list.code, list.stderr).toBe(0);
    const plan = JSON.parse(list.stdout) as { segments: Array<{ segment: number; status: string }> };
    expect(plan.segments.map((s) => [s.segment, s.status])).toEqual([[1, 'kept'], [2, 'kept'], [3, 'open']]);
    const early = await runCli(['retention', tmp.dir, '--delete', `${SOURCE.id}:1`]);
    expect(early.code).toBe(2);
    expect(early.stderr).toMatch(/refusing to delete segment 1/);
    expect((await stat(join(tmp.dir, SOURCE.id, 'seg-000001.jsonl'))).size).toBeGreaterThan(0);
    const short = await runCli(['retention', tmp.dir, '--keep', '1y']);
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/at least six years/);
  });

  it('one changing retention run at a time: a live holder is refused with its pid, a dead one is taken over', async () => {
    await using tmp = await tempStore();
    await sealedStore(tmp.dir, tmp.keyFile, 3);
    const archive = join(tmp.root, 'archive');
    const lock = join(tmp.dir, 'RETENTION.LOCK');
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      await writeFile(lock, `${holder.pid}\n`);
      const busy = cliFromSource(['retention', tmp.dir, '--archive-dir', archive, '--archive', '--archive-after', '0s']);
      expect(busy.code, busy.stderr).toBe(2);
      expect(busy.stderr).toContain('E_RETENTION_BUSY');
      expect(busy.stderr).toContain(`process ${holder.pid}`);
      expect(existsSync(join(tmp.dir, SOURCE.id, 'seg-000001.jsonl'))).toBe(true);
      // Listing changes nothing and needs no lock.
      expect(cliFromSource(['retention', tmp.dir, '--json']).code).toBe(0);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
    }
    // The holder is gone: its lock is stale.
    const moved = cliFromSource(['retention', tmp.dir, '--archive-dir', archive, '--archive', '--archive-after', '0s']);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toContain('moved');
    expect(existsSync(lock)).toBe(false);
  });
});
