/**
 * Text formats of a report. Every value in a report came from a database
 * user's session (application names, user names, DDL text) and is
 * therefore hostile until proven otherwise: the table format neutralizes
 * terminal control characters, CSV neutralizes spreadsheet formulas, HTML
 * escapes everything (format-html.ts).
 */
import type { Cell, Report, ReportSection } from './model.js';
import { renderHtml } from './format-html.js';
import { missingLines } from './archive-gaps.js';

export const REPORT_FORMATS = ['table', 'csv', 'json', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function renderReport(report: Report, format: ReportFormat): string {
  switch (format) {
    case 'table':
      return renderTable(report);
    case 'csv':
      return renderCsv(report);
    case 'json':
      return renderJson(report);
    case 'html':
      return renderHtml(report);
  }
}

/** Control characters (ESC sequences could rewrite the reviewer's terminal) shown as \uXXXX. */
export function safeText(value: Cell): string {
  if (value === null) return '';
  // eslint-disable-next-line no-control-regex
  return String(value).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const MAX_CELL = 60;

function renderTable(report: Report): string {
  const out: string[] = [report.title, '='.repeat(report.title.length)];
  for (const [k, v] of report.params) out.push(`${k}: ${safeText(v)}`);
  out.push(`Generated: ${report.generatedAt}`);
  // Stated before any row, so nobody reads the listing as complete.
  if (report.missing !== undefined) out.push('', ...missingLines(report.missing).map(safeText));
  for (const section of report.sections) {
    out.push('', `${section.title} (${section.rows.length})`, '-'.repeat(section.title.length + String(section.rows.length).length + 3));
    if (section.rows.length === 0) out.push('(none)');
    else out.push(...tableLines(section));
    for (const n of section.notes ?? []) out.push(`note: ${n}`);
  }
  const notes = report.missing === undefined ? report.notes : report.notes.slice(1);
  if (notes.length > 0) out.push('');
  for (const n of notes) out.push(`note: ${n}`);
  return out.join('\n') + '\n';
}

function tableLines(section: ReportSection): string[] {
  const cols = section.columns;
  const cells = section.rows.map((row) =>
    cols.map((c) => {
      const t = safeText(row[c.key] ?? null);
      return t.length > MAX_CELL ? `${t.slice(0, MAX_CELL - 1)}…` : t;
    }),
  );
  const widths = cols.map((c, i) => Math.max(c.label.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cols.map((c) => c.label)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];
}

/**
 * RFC 4180 CSV. A single-section report is one table; several sections are
 * written one after another, separated by an empty line, each with a
 * `# section` line and its own header.
 */
function renderCsv(report: Report): string {
  const out: string[] = [];
  // CSV has no place for notes; an incomplete answer is stated in comment lines before the data.
  if (report.missing !== undefined) out.push(...missingLines(report.missing).map((l) => csvLine([`# ${l.trim()}`])));
  const many = report.sections.length > 1;
  report.sections.forEach((section, i) => {
    if (many) {
      if (i > 0) out.push('');
      out.push(csvLine([`# ${section.title}`]));
    }
    out.push(csvLine(section.columns.map((c) => c.label)));
    for (const row of section.rows) out.push(csvLine(section.columns.map((c) => csvCell(row[c.key] ?? null))));
  });
  return out.join('\r\n') + '\r\n';
}

function csvCell(value: Cell): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  // A cell starting with = + - @ (or tab/CR) is run as a formula by spreadsheet programs: prefix a quote.
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

function csvLine(values: string[]): string {
  return values.map((v) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(',');
}

function renderJson(report: Report): string {
  return (
    JSON.stringify(
      {
        report: report.kind,
        title: report.title,
        params: Object.fromEntries(report.params),
        generated_at: report.generatedAt,
        complete: report.missing === undefined,
        ...(report.missing === undefined ? {} : { missing: report.missing }),
        sections: report.sections.map((s) => ({ title: s.title, rows: s.rows, ...(s.notes ? { notes: s.notes } : {}) })),
        notes: report.notes,
      },
      null,
      2,
    ) + '\n'
  );
}
