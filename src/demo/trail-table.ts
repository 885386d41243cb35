/** Renders audit events as a fixed-width table for the terminal. */
import type { AuditEvent } from '../core/event.js';

const COLUMNS: Array<[string, (e: AuditEvent) => string]> = [
  ['seq', (e) => String(e.seq)],
  ['time (UTC)', (e) => e.time.slice(11, 26)],
  ['db user', (e) => e.actor.db_user ?? '?'],
  ['role', (e) => e.actor.role ?? ''],
  ['app user', (e) => e.actor.app_user ?? ''],
  ['client', (e) => e.actor.client_addr ?? ''],
  ['application', (e) => e.actor.application ?? ''],
  ['action', (e) => (e.action === 'alert' ? `ALERT ${e.detail?.['code'] ?? ''}` : e.action)],
  ['object', (e) => object(e)],
  ['changed', (e) => (e.changes?.columns ?? []).join(',')],
  ['identity', (e) => e.actor.identity],
];

function object(e: AuditEvent): string {
  if (e.action === 'ddl') return (e.statement ?? '').replace(/\s+/g, ' ').slice(0, 60);
  if (e.object === null) return e.detail?.['tables'] ?? '';
  const key = e.object.key === null ? '' : Object.entries(e.object.key).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(',');
  return `${e.object.schema ?? ''}.${e.object.table ?? ''}${key === '' ? '' : ` (${key})`}`;
}

export function renderTrail(events: readonly AuditEvent[]): string {
  const rows = events.map((e) => COLUMNS.map(([, f]) => f(e)));
  const widths = COLUMNS.map(([h], i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(COLUMNS.map(([h]) => h)), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}
