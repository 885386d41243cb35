/** Text form of `checkAnchors` findings for `verify --anchors`. */
import type { AnchorFinding } from './check-anchors.js';

const MARK = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;

export function formatAnchorFindings(findings: readonly AnchorFinding[]): string {
  const lines = ['', 'Anchors (chain heads published outside the store):'];
  for (const f of findings) {
    lines.push(`  ${MARK[f.status]} ${f.title}: ${f.detail}`);
    if (f.status !== 'ok' && f.fix !== undefined) lines.push(`       fix: ${f.fix}`);
  }
  return lines.join('\n') + '\n';
}
