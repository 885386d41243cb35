/**
 * How `query` states an incomplete answer, before its rows and in each
 * output format: INCOMPLETE lines for the table, `#` comment lines ahead of
 * the CSV header, and for jsonl one leading line that is not an event
 * (`{"complete":false,"missing":{...}}`, no `id`), so a consumer that reads
 * lines as events fails loudly instead of passing a shortened answer on.
 */
import { canonicalJson } from '../core/canonical.js';
import type { QueryMissing } from './archive-missing.js';
import { csvLine, terminalSafe, type OutputFormat } from './format.js';

/** Exit code of an answer that lacks archived events (the code reports use). */
export const EXIT_INCOMPLETE = 3;

export function missingLines(m: QueryMissing): string[] {
  const out = [`INCOMPLETE: ${m.events} event(s) of archived segments could not be read and are not in this answer; ${knownMatches(m)}`];
  for (const s of m.segments) {
    const bounds =
      s.matching_times !== null
        ? `matching events from ${s.matching_times.first} to ${s.matching_times.last}`
        : `${s.after === null ? 'start unknown' : `after ${s.after}`}, ${s.sealed_at === null ? 'end unknown' : `none after ${s.sealed_at}`}`;
    const what = s.matching === null ? `${s.events} events` : `${s.matching} matching event(s)`;
    out.push(`  ${s.file}: seq ${s.first_seq}-${s.last_seq} (${what}; ${bounds}): ${s.reason}`);
  }
  out.push(`Fix: ${m.fix}`);
  return out;
}

function knownMatches(m: QueryMissing): string {
  if (m.segments.every((s) => s.matching !== null)) return 'all of them match the filter.';
  return 'any of them may match the filter.';
}

/** Written to stdout before the first row. */
export function missingPreamble(m: QueryMissing, format: OutputFormat): string {
  if (format === 'jsonl') return canonicalJson({ complete: false, missing: m }) + '\n';
  const lines = missingLines(m);
  if (format === 'csv') return lines.map((l) => csvLine([`# ${l.trim()}`])).join('');
  return lines.map((l) => terminalSafe(l) + '\n').join('') + '\n';
}

/** Also on stderr: an answer redirected to a file or piped on must not pass for complete. */
export function missingWarning(m: QueryMissing): string {
  return `warning: query incomplete: ${m.events} archived event(s) could not be read (${m.segments.length} segment(s)); ${m.fix}\n`;
}
