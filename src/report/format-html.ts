/**
 * A single self-contained HTML file: inline CSS, no scripts, no external
 * assets (a report is archived as evidence and must render the same years
 * later, offline), print-friendly. Every value is escaped, and a strict
 * Content-Security-Policy forbids scripts should an escape ever be missed.
 */
import type { Cell, Report } from './model.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: Cell): string {
  if (value === null) return '';
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const CSS = `
body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #111; }
h1 { font-size: 1.5em; margin: 0 0 .5em; }
h2 { font-size: 1.15em; margin: 1.6em 0 .4em; }
dl.params { display: grid; grid-template-columns: max-content auto; gap: .15em 1em; margin: 0 0 1em; }
dl.params dt { font-weight: 600; }
dl.params dd { margin: 0; }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
th, td { border: 1px solid #bbb; padding: .25em .45em; text-align: left; vertical-align: top; word-break: break-word; }
th { background: #eee; }
tbody tr:nth-child(even) { background: #f8f8f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
p.note { border-left: 3px solid #c90; padding-left: .6em; color: #333; }
p.empty { color: #666; font-style: italic; }
footer { margin-top: 2em; color: #666; font-size: .85em; }
@media print {
  body { margin: 0; font-size: 10px; }
  thead { display: table-header-group; }
  tr { page-break-inside: avoid; }
  tbody tr:nth-child(even) { background: none; }
}
`;

export function renderHtml(report: Report): string {
  const parts: string[] = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    `<title>${escapeHtml(report.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(report.title)}</h1>`,
    '<dl class="params">',
    ...report.params.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`),
    `<dt>Generated</dt><dd>${escapeHtml(report.generatedAt)}</dd>`,
    '</dl>',
  ];
  for (const n of report.notes) parts.push(`<p class="note">${escapeHtml(n)}</p>`);
  for (const section of report.sections) {
    parts.push(`<h2>${escapeHtml(section.title)} (${section.rows.length})</h2>`);
    for (const n of section.notes ?? []) parts.push(`<p class="note">${escapeHtml(n)}</p>`);
    if (section.rows.length === 0) {
      parts.push('<p class="empty">None.</p>');
      continue;
    }
    parts.push('<table>', '<thead><tr>', ...section.columns.map((c) => `<th>${escapeHtml(c.label)}</th>`), '</tr></thead>', '<tbody>');
    for (const row of section.rows) {
      const cells = section.columns.map((c) => {
        const v = row[c.key] ?? null;
        return typeof v === 'number' ? `<td class="num">${v}</td>` : `<td>${escapeHtml(v)}</td>`;
      });
      parts.push(`<tr>${cells.join('')}</tr>`);
    }
    parts.push('</tbody>', '</table>');
  }
  parts.push(`<footer>dbwitness ${escapeHtml(report.kind)} report. Times are UTC with microseconds as recorded at the source; the audit store is the source of truth.</footer>`, '</body>', '</html>');
  return parts.join('\n') + '\n';
}
