/** Human and JSON renderings of a verify report. */
import type { ArchivedSegmentResult } from './verify-chain.js';
import type { StoreVerifyReport } from './verify-store.js';

const LINK: Record<NonNullable<ArchivedSegmentResult['link']>, string> = {
  signed_seal: 'joined to the chain by its seal, signature valid',
  unchecked_seal: 'joined to the chain by its seal, signature NOT checked',
  seq_only: 'joined to the chain by seq numbers only (no seal recorded: hashes unknown)',
};

/** One line (plus notes) per archived or deleted segment. */
function archivedLines(a: ArchivedSegmentResult): string[] {
  const seqs = a.firstSeq === null ? 'no events' : `seq ${a.firstSeq}..${a.lastSeq}`;
  const link = a.link === null ? '' : LINK[a.link];
  let head: string;
  if (a.status === 'checked') head = `  archived segment ${a.segment} (${seqs}): checked, read from ${a.file}`;
  else if (a.status === 'deleted') head = `  segment ${a.segment} (${seqs}): deleted under the retention policy (sealed ${a.sealedAt}); ${link}`;
  else if (a.deletionRefused !== null) head = `  segment ${a.segment} (${seqs}): RECORDED AS DELETED, NOT CHECKED (deletion not accepted under the policy); ${link}`;
  else head = `  archived segment ${a.segment} (${seqs}): ARCHIVED, NOT CHECKED (not reachable at ${a.tried.join(' or ')}); ${link}`;
  return [head, ...a.notes.map((n) => `    note: ${n}`)];
}

/** "3 segments deleted under the retention policy (sealed 2019-03-01–2020-02-11)", or null. */
function deletedSummary(archived: readonly ArchivedSegmentResult[]): string | null {
  const deleted = archived.filter((a) => a.status === 'deleted');
  if (deleted.length === 0) return null;
  // ISO times sort as strings; the accepted ones all carry a signed sealed_at.
  const days = deleted.map((a) => (a.sealedAt ?? '').slice(0, 10)).sort();
  const first = days[0]!;
  const last = days[days.length - 1]!;
  return `${deleted.length} segment${deleted.length === 1 ? '' : 's'} deleted under the retention policy (sealed ${first === last ? first : `${first}–${last}`})`;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** "2 archived segments", or "2 segments" once a recorded deletion (never an archive copy) is among them. */
function notCheckedCount(n: number, segs: readonly ArchivedSegmentResult[]): string {
  return plural(n, segs.some((a) => a.status === 'not_checked' && a.deletionRefused !== null) ? 'segment' : 'archived segment');
}

/** `strictArchive`: unreadable archived segments (and deletions not accepted) make the result INCOMPLETE rather than intact. */
export function formatVerifyReport(r: StoreVerifyReport, strictArchive = false): string {
  const out: string[] = [];
  out.push(`dbwitness verify ${r.dir}`);
  out.push(`  key: ${r.keyId === null ? 'none' : `${r.keyId} (${r.keyTrust === 'given' ? 'given with --public-key' : 'stored with the data'})`}`);
  for (const w of r.warnings) out.push(`  WARNING: ${w}`);
  for (const s of r.sources) {
    const unchecked = s.archived.filter((a) => a.status === 'not_checked').length;
    const status = s.issueCount === 0 ? (unchecked === 0 ? 'INTACT' : `INTACT as far as checked (${notCheckedCount(unchecked, s.archived)} not checked)`) : `TAMPERED (${plural(s.issueCount, 'problem')})`;
    out.push('');
    out.push(`source ${s.source}: ${status}`);
    const fromArchive = s.archived.filter((a) => a.status === 'checked').length;
    out.push(`  ${s.events} events in ${s.segments} segments (${s.sealed} sealed${fromArchive === 0 ? '' : `, ${fromArchive} read from the archive`})`);
    const deleted = deletedSummary(s.archived);
    if (deleted !== null) out.push(`  ${deleted}`);
    for (const a of s.archived) out.push(...archivedLines(a));
    out.push(`  head: seq ${s.head.seq} hash ${s.head.hash}`);
    if (s.signedHead === null) out.push('  signed head: none (unsigned store, or no write since the store was created)');
    else {
      const state = s.signedHead.valid === null ? 'signature not checked' : s.signedHead.valid ? 'signature valid' : 'SIGNATURE INVALID';
      const covers = s.signedHead.seq === s.head.seq ? 'covers the head' : `covers seq ${s.signedHead.seq}; later events are unsigned`;
      out.push(`  signed head: seq ${s.signedHead.seq} hash ${s.signedHead.hash} at ${s.signedHead.at} key ${s.signedHead.keyId} (${state}; ${covers})`);
      out.push(`    signature: ${s.signedHead.signature}`);
    }
    const first = s.issues[0];
    if (first !== undefined) {
      out.push(`  FIRST BAD EVENT: ${where(first)}: ${first.problem}`);
      for (const i of s.issues.slice(1)) out.push(`  also: ${where(i)}: ${i.problem}`);
      if (s.issueCount > s.issues.length) out.push(`  ... and ${s.issueCount - s.issues.length} more`);
    }
  }
  out.push('');
  for (const n of r.notes) out.push(`NOTE: ${n}`);
  const deletedNote = r.deletedUnderPolicy === 0 ? '' : `, ${plural(r.deletedUnderPolicy, 'segment')} deleted under the retention policy`;
  const result = !r.ok ? 'TAMPERED' : r.complete ? `intact${deletedNote}` : `${strictArchive ? 'INCOMPLETE' : 'intact'}, ${notCheckedCount(r.archivedNotChecked, r.sources.flatMap((s) => s.archived))} not checked${deletedNote}`;
  out.push(`RESULT: ${result} (${r.events} events checked in ${r.seconds.toFixed(2)} s)`);
  return out.join('\n') + '\n';
}

function where(i: { seq: number | null; file: string; offset: number | null }): string {
  return `${i.seq === null ? '' : `seq ${i.seq} in `}${i.file}${i.offset === null ? '' : ` at byte ${i.offset}`}`;
}

/** The --json form: stable field names (snake_case like the events). */
export function verifyReportJson(r: StoreVerifyReport): unknown {
  return {
    ok: r.ok,
    complete: r.complete,
    archived_not_checked: r.archivedNotChecked,
    deleted_under_policy: r.deletedUnderPolicy,
    retention_keep_ms: r.retentionKeepMs,
    store: r.dir,
    key: { id: r.keyId, trust: r.keyTrust },
    warnings: r.warnings,
    notes: r.notes,
    events: r.events,
    seconds: r.seconds,
    sources: r.sources.map((s) => ({
      source: s.source,
      ok: s.issueCount === 0,
      events: s.events,
      segments: s.segments,
      sealed_segments: s.sealed,
      head: s.head,
      signed_head: s.signedHead === null ? null : { seq: s.signedHead.seq, hash: s.signedHead.hash, at: s.signedHead.at, key_id: s.signedHead.keyId, signature: s.signedHead.signature, valid: s.signedHead.valid },
      torn_tail: s.tornTail,
      deleted_segments: s.archived.filter((a) => a.status === 'deleted').length,
      archived_segments: s.archived.map((a) => ({
        segment: a.segment,
        status: a.status,
        first_seq: a.firstSeq,
        last_seq: a.lastSeq,
        last_hash: a.lastHash,
        file: a.file,
        link: a.link,
        tried: a.tried,
        sealed_at: a.sealedAt,
        deleted_at: a.deletedAt,
        deletion_refused: a.deletionRefused,
        notes: a.notes,
      })),
      archive_manifest_torn_tail: s.manifestTornTail,
      issue_count: s.issueCount,
      issues: s.issues,
    })),
  };
}
