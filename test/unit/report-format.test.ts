import { describe, expect, it } from 'vitest';
import { renderReport, type Report } from '../../src/report/index.js';

const hostile = '<script>alert("x")</script>';
const report: Report = {
  kind: 'patient',
  title: `Access report for patient ${hostile}`,
  params: [['Patient', hostile]],
  generatedAt: '2026-11-26T10:00:00.000000Z',
  sections: [
    {
      title: 'Accesses',
      columns: [
        { key: 'app', label: 'Application' },
        { key: 'n', label: 'Count' },
        { key: 'user', label: 'User' },
      ],
      rows: [
        { app: hostile, n: 3, user: '=HYPERLINK("http://evil")' },
        { app: 'term\u001b[2Jclear', n: 1, user: 'o"neil, jr' },
      ],
    },
  ],
  notes: [`note with ${hostile}`],
};

describe('report formats', () => {
  it('html: self-contained, every value escaped, no script can run', () => {
    const html = renderReport(report, 'html');
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toMatch(/Content-Security-Policy" content="default-src 'none'/);
    // No external assets: nothing is fetched.
    expect(html).not.toMatch(/<link|src=|url\(|@import/i);
    expect(html).toContain('@media print');
    expect(html).toContain('<td class="num">3</td>');
  });

  it('csv: quoted per RFC 4180, formulas neutralized', () => {
    const csv = renderReport(report, 'csv');
    expect(csv.split('\r\n')).toEqual(['Application,Count,User', `"<script>alert(""x"")</script>",3,"'=HYPERLINK(""http://evil"")"`, 'term\u001b[2Jclear,1,"o""neil, jr"', '']);
  });

  it('table: terminal control characters are shown, not executed', () => {
    const text = renderReport(report, 'table');
    expect(text).not.toContain('\u001b');
    expect(text).toContain('term\\u001b[2Jclear');
    expect(text).toContain('note: note with');
  });

  it('json: parseable, rows as given', () => {
    const parsed = JSON.parse(renderReport(report, 'json')) as { report: string; sections: { rows: unknown[] }[]; params: Record<string, string> };
    expect(parsed.report).toBe('patient');
    expect(parsed.params['Patient']).toBe(hostile);
    expect(parsed.sections[0]!.rows[0]).toEqual({ app: hostile, n: 3, user: '=HYPERLINK("http://evil")' });
  });
});
