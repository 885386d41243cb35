/** Human and JSON renderings of a verify report. */
import type { ArchivedSegmentResult } from './verify-chain.js';
import type { StoreVerifyReport } from './verify-store.js';

const LINK: Record<NonNullable<ArchivedSegmentResult['link']>, string> = {
  signed_seal: 'joined to the chain by its seal, signature valid',
  unchecked_seal: 'joined to the chain by its seal, signature NOT checked',
  seq_only: 'joined to the chain by seq numbers only (no seal recorded: hashes unknown)',
};

/** One line (plus notes) per archived segment. */
function archivedLines(a: ArchivedSegmentResult): string[] {
  const seqs = a.firstSeq === null ? 'no events' : `seq ${a.firstSeq}..${a.lastSeq}`;
  const head =
    a.status === 'checked'
      ? `  archived segment ${a.segment} (${seqs}): checked, read from ${a.file}`
      : `  archived segment ${a.segment} (${seqs}): ARCHIVED, NOT CHECKED (not reachable at ${a.tried.join(' or ')}); ${a.link === null ? '' : LINK[a.link]}`;
  return [head, ...a.notes.map((n) => `    note: ${n}`)];
}

/** `strictArchive`: unreadable archived segments make the result INCOMPLETE rather than intact. */
export function formatVerifyReport(r: StoreVerifyReport, strictArchive = false): string {
  const out: string[] = [];
  out.push(`dbwitness verify ${r.dir}`);
  out.push(`  key: ${r.keyId === null ? 'none' : `${r.keyId} (${r.keyTrust === 'given' ? 'given with --public-key' : 'stored with the data'})`}`);
  for (const w of r.warnings) out.push(`  WARNING: ${w}`);
  for (const s of r.sources) {
    const unchecked = s.archived.filter((a) => a.status === 'not_checked').length;
    const status = s.issueCount === 0 ? (unchecked === 0 ? 'INTACT' : `INTACT as far as checked (${unchecked} archived segment${unchecked === 1 ? '' : 's'} not checked)`) : `TAMPERED (${s.issueCount} problem${s.issueCount === 1 ? '' : 's'})`;
    out.push('');
    out.push(`source ${s.source}: ${status}`);
    const fromArchive = s.archived.length - unchecked;
    out.push(`  ${s.events} events in ${s.segments} segments (${s.sealed} sealed${fromArchive === 0 ? '' : `, ${fromArchive} read from the archive`})`);
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
  const result = !r.ok ? 'TAMPERED' : r.complete ? 'intact' : `${strictArchive ? 'INCOMPLETE' : 'intact'}, ${r.archivedNotChecked} archived segment${r.archivedNotChecked === 1 ? '' : 's'} not checked`;
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
      archived_segments: s.archived.map((a) => ({ segment: a.segment, status: a.status, first_seq: a.firstSeq, last_seq: a.lastSeq, last_hash: a.lastHash, file: a.file, link: a.link, tried: a.tried, notes: a.notes })),
      archive_manifest_torn_tail: s.manifestTornTail,
      issue_count: s.issueCount,
      issues: s.issues,
    })),
  };
}
