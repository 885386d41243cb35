/** Human and JSON renderings of a verify report. */
import type { StoreVerifyReport } from './verify-store.js';

export function formatVerifyReport(r: StoreVerifyReport): string {
  const out: string[] = [];
  out.push(`dbwitness verify ${r.dir}`);
  out.push(`  key: ${r.keyId === null ? 'none' : `${r.keyId} (${r.keyTrust === 'given' ? 'given with --public-key' : 'stored with the data'})`}`);
  for (const w of r.warnings) out.push(`  WARNING: ${w}`);
  for (const s of r.sources) {
    const status = s.issueCount === 0 ? 'INTACT' : `TAMPERED (${s.issueCount} problem${s.issueCount === 1 ? '' : 's'})`;
    out.push('');
    out.push(`source ${s.source}: ${status}`);
    out.push(`  ${s.events} events in ${s.segments} segments (${s.sealed} sealed)`);
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
  out.push(`RESULT: ${r.ok ? 'intact' : 'TAMPERED'} (${r.events} events checked in ${r.seconds.toFixed(2)} s)`);
  return out.join('\n') + '\n';
}

function where(i: { seq: number | null; file: string; offset: number | null }): string {
  return `${i.seq === null ? '' : `seq ${i.seq} in `}${i.file}${i.offset === null ? '' : ` at byte ${i.offset}`}`;
}

/** The --json form: stable field names (snake_case like the events). */
export function verifyReportJson(r: StoreVerifyReport): unknown {
  return {
    ok: r.ok,
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
      issue_count: s.issueCount,
      issues: s.issues,
    })),
  };
}
