/**
 * `dbwitness retention DIR`: what the retention policy allows for each
 * segment; `--archive` moves due segments, `--delete-expired` deletes
 * segments past `keep`. Deleting early, or under legal hold, is refused.
 */
import type { Command } from 'commander';
import { periodMs, type RetentionConfig } from '../../config/config-schema.js';
import { usageError } from '../../core/errors.js';
import { archiveSegment, deleteExpired } from '../../retention/retention-actions.js';
import { lockRetention } from '../../retention/retention-lock.js';
import { planRetention, type RetentionPolicy, type SegmentRetention } from '../../retention/retention-plan.js';
import { addGlobalOptions, loadContext, type GlobalFlags } from '../command-context.js';
import { splitList } from '../source-resolution.js';

interface RetentionFlags extends GlobalFlags {
  archiveDir?: string;
  keep?: string;
  archiveAfter?: string;
  legalHold?: string;
  archive?: boolean;
  deleteExpired?: boolean;
  delete?: string;
  json?: boolean;
}

export function registerRetention(program: Command): void {
  const cmd = program
    .command('retention')
    .description('show which sealed segments are due for the archive or past retention; move or delete them under the policy')
    .argument('<dir>', 'store directory')
    .option('--archive-dir <dir>', 'archive directory (retention.archive_dir)')
    .option('--keep <period>', 'minimum age before deletion, at least 6y (retention.keep, default 6y)')
    .option('--archive-after <period>', 'age after which sealed segments move to the archive (retention.archive_after, default 90d)')
    .option('--legal-hold <ids>', 'comma-separated source ids under legal hold (added to retention.legal_hold)')
    .option('--archive', 'move every segment due for the archive')
    .option('--delete-expired', 'delete segments older than keep that are not under legal hold')
    .option('--delete <source:segment>', 'delete one segment (refused unless expired and not held)')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      `
Only sealed segments move or go, never the newest segment of a chain (the
daemon resumes from it). A segment may be deleted only once retention.keep
(at least six years) has passed since it was sealed, and never while its
source is under legal hold. Moves and deletions (from the store or the
archive) are recorded in <store>/<source>/archived.jsonl first; a run cut
short (crash, kill) is finished by running the same command again. Runs
that move or delete hold <store>/RETENTION.LOCK: a second one meanwhile
stops with E_RETENTION_BUSY; a lock left by a process that is gone is
taken over.

Examples:
  dbwitness retention /var/lib/dbwitness --config /etc/dbwitness/dbwitness.yaml
  dbwitness retention /var/lib/dbwitness --archive-dir /mnt/archive/dbwitness --archive`,
    );
  addGlobalOptions(cmd);
  cmd.action(async (dir: string, flags: RetentionFlags) => {
    const { config } = await loadContext(flags);
    const policy = policyFrom(flags, config.retention);
    // Changing runs hold the lock from planning to the end, so their plan is not made stale by another run.
    const changes = flags.archive === true || flags.delete !== undefined || flags.deleteExpired === true;
    const lock = changes ? await lockRetention(dir) : null;
    try {
      await retentionRun(dir, flags, policy);
    } finally {
      await lock?.release();
    }
  });
}

async function retentionRun(dir: string, flags: RetentionFlags, policy: RetentionPolicy): Promise<void> {
  let plan = await planRetention(dir, policy);
  const done: string[] = [];
  if (flags.archive === true) {
    if (policy.archiveDir === null) throw usageError('E_RETENTION_NO_ARCHIVE', '--archive needs an archive directory', 'pass --archive-dir DIR or set retention.archive_dir');
    for (const seg of plan.filter((s) => s.status === 'archive_due')) done.push(`moved ${seg.source} segment ${seg.segment} to ${await archiveSegment(seg, dir, policy.archiveDir)}`);
  }
  if (flags.delete !== undefined) {
    const m = /^([a-z0-9][a-z0-9_-]*):(\d+)$/.exec(flags.delete);
    if (m === null) throw usageError('E_RETENTION_DELETE_ARG', `--delete expects SOURCE:SEGMENT, got "${flags.delete}"`, 'e.g. --delete clinic-pg:12 (segment numbers are listed by `dbwitness retention DIR`)');
    const matches = plan.filter((s) => s.source === m[1] && s.segment === Number(m[2]));
    if (matches.length === 0) throw usageError('E_RETENTION_NO_SEGMENT', `no segment ${m[2]} of source ${m[1]} in the store or archive`, 'list segments with `dbwitness retention DIR`');
    for (const seg of matches) {
      await deleteExpired(seg, dir);
      done.push(`deleted ${seg.source} segment ${seg.segment} (${seg.location})`);
    }
  }
  if (flags.deleteExpired === true) {
    for (const seg of plan.filter((s) => s.status === 'expired')) {
      await deleteExpired(seg, dir);
      done.push(`deleted ${seg.source} segment ${seg.segment} (${seg.location})`);
    }
  }
  if (done.length > 0) plan = await planRetention(dir, policy);
  if (flags.json === true) {
    process.stdout.write(JSON.stringify({ policy: { keep_ms: policy.keepMs, archive_after_ms: policy.archiveAfterMs, archive_dir: policy.archiveDir, legal_hold: policy.legalHold }, actions: done, segments: plan }, null, 2) + '\n');
    return;
  }
  process.stdout.write(formatPlan(plan, done));
}

function policyFrom(flags: RetentionFlags, cfg: RetentionConfig | undefined): RetentionPolicy {
  const parse = (v: string, flag: string): number => {
    if (!/^\d+(ms|s|m|h|d|y)$/.test(v)) throw usageError('E_RETENTION_PERIOD', `${flag} expects a period like 6y or 2192d, got "${v}"`, 'use a number followed by y, d, h, m or s');
    return periodMs(v);
  };
  return {
    keepMs: flags.keep !== undefined ? parse(flags.keep, '--keep') : periodMs(cfg?.keep ?? '6y'),
    archiveAfterMs: flags.archiveAfter !== undefined ? parse(flags.archiveAfter, '--archive-after') : periodMs(cfg?.archive_after ?? '90d'),
    archiveDir: flags.archiveDir ?? cfg?.archive_dir ?? null,
    legalHold: [...(cfg?.legal_hold ?? []), ...splitList(flags.legalHold)],
  };
}

const LABEL: Record<SegmentRetention['status'], string> = {
  open: 'open (being written)',
  newest: 'newest (kept in the store)',
  kept: 'kept',
  archive_due: 'due for the archive',
  archived: 'archived',
  expired: 'past retention (may be deleted)',
  held: 'legal hold',
};

function formatPlan(plan: readonly SegmentRetention[], done: readonly string[]): string {
  const lines = done.map((d) => `${d}\n`);
  if (plan.length === 0) return lines.join('') + 'no segments\n';
  lines.push('source               segment  where    seqs                 sealed_at                    status\n');
  for (const s of plan) {
    const seqs = s.firstSeq === null ? '-' : `${s.firstSeq}-${s.lastSeq ?? ''}`;
    lines.push(`${s.source.padEnd(20)} ${String(s.segment).padStart(7)}  ${s.location.padEnd(7)}  ${seqs.padEnd(20)} ${(s.sealedAt ?? '-').padEnd(28)} ${LABEL[s.status]}${s.deletableFrom !== null && s.status !== 'expired' ? `, deletable from ${s.deletableFrom.slice(0, 10)}` : ''}\n`);
  }
  const due = plan.filter((s) => s.status === 'archive_due').length;
  const expired = plan.filter((s) => s.status === 'expired').length;
  lines.push(`\n${plan.length} segment(s): ${due} due for the archive, ${expired} past retention, ${plan.filter((s) => s.status === 'held').length} under legal hold\n`);
  return lines.join('');
}
