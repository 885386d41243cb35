/**
 * Output formats of `dbwitness query`: jsonl (the stored canonical form),
 * csv (RFC 4180, spreadsheet-safe) and table (fits the terminal width).
 * Values come from audited databases and are hostile until proven
 * otherwise: control characters never reach a terminal, and CSV cells that
 * a spreadsheet would run as a formula are neutralized.
 */
import { canonicalJson } from '../core/canonical.js';
import type { AuditEvent, ColumnValue, Row } from '../core/event.js';

export const FORMATS = ['jsonl', 'table', 'csv'] as const;
export type OutputFormat = (typeof FORMATS)[number];

export const COLUMNS = ['seq', 'time', 'source', 'action', 'outcome', 'object', 'key', 'db_user', 'role', 'app_user', 'client', 'application', 'identity', 'position'] as const;

function valueText(v: ColumnValue): string {
  if (v === null) return 'NULL';
  if (typeof v === 'string') return v;
  return canonicalJson(v);
}

function rowText(r: Row | null): string {
  if (r === null) return '';
  return Object.entries(r)
    .map(([k, v]) => `${k}=${valueText(v)}`)
    .join(' ');
}

/** The columns of the table and csv formats. */
export function eventCells(e: AuditEvent): string[] {
  const o = e.object;
  const object = o === null ? '' : [o.schema, o.table].filter((x) => x !== null).join('.');
  const client = e.actor.client_addr === null ? '' : e.actor.client_port === null ? e.actor.client_addr : `${e.actor.client_addr}:${e.actor.client_port}`;
  return [String(e.seq), e.time, e.source.id, e.action, e.outcome, object, rowText(o?.key ?? null), e.actor.db_user ?? '', e.actor.role ?? '', e.actor.app_user ?? '', client, e.actor.application ?? '', e.actor.identity, e.position];
}

export function jsonlLine(e: AuditEvent): string {
  return canonicalJson(e) + '\n';
}

export function csvCell(value: string): string {
  // A leading = + - @ (or tab/CR) makes spreadsheets evaluate the cell (CWE-1236).
  const v = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function csvLine(cells: readonly string[]): string {
  return cells.map(csvCell).join(',') + '\r\n';
}

/** Replaces control characters (ANSI escapes, newlines, C1) so a cell cannot move the cursor or forge lines. */
export function terminalSafe(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '\uFFFD');
}

/** Columns a reader needs whole; they shrink only when nothing else can. */
const KEEP = new Set(['seq', 'time', 'action', 'outcome', 'identity']);

/**
 * Column widths that fit `width`: natural widths (from the sample rows),
 * then the widest shrinkable column loses a character until the line fits
 * (never below 3).
 */
export function fitWidths(header: readonly string[], sample: readonly (readonly string[])[], width: number): number[] {
  const w = header.map((h, i) => Math.max(h.length, ...sample.map((r) => (r[i] ?? '').length)));
  const sep = 2 * (w.length - 1);
  let total = w.reduce((a, b) => a + b, 0) + sep;
  for (const pass of [false, true]) {
    while (total > width) {
      let widest = -1;
      for (let i = 0; i < w.length; i++) {
        if (!pass && KEEP.has(header[i] as string)) continue;
        if (widest < 0 || (w[i] as number) > (w[widest] as number)) widest = i;
      }
      if (widest < 0 || (w[widest] as number) <= 3) break;
      w[widest] = (w[widest] as number) - 1;
      total--;
    }
  }
  return w;
}

export function tableLine(cells: readonly string[], widths: readonly number[]): string {
  return (
    cells
      .map((c, i) => {
        const w = widths[i] as number;
        const s = terminalSafe(c);
        return s.length > w ? s.slice(0, Math.max(0, w - 1)) + '…' : s.padEnd(w);
      })
      .join('  ')
      .trimEnd() + '\n'
  );
}
