/**
 * The daemon's event counters: every durable event counted once under its
 * action, alerts under their code, unattributed changes by their count,
 * whatever the order of actions in a batch (the counters move once per run
 * of one action, not once per event).
 */
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/core/event.js';
import { DaemonMetrics } from '../../src/daemon/metrics.js';
import { SourceMonitor } from '../../src/daemon/source-monitor.js';

function ev(action: string, detail: Record<string, string> | null = null): AuditEvent {
  return { action, detail } as unknown as AuditEvent;
}

function sample(text: string, name: string, labels: string): number {
  const m = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
}

describe('event metrics', () => {
  it('counts each event under its action, alerts under their code', async () => {
    const metrics = new DaemonMetrics(new SourceMonitor());
    metrics.onEvents('pg', [ev('insert'), ev('insert'), ev('update'), ev('insert'), ev('alert', { code: 'unattributed_change', changes: '3' }), ev('delete'), ev('delete')]);
    metrics.onEvents('pg', [ev('delete'), ev('alert', { code: 'ddl' })]);
    metrics.onEvents('pg', []);
    metrics.onEvents('mdb', [ev('insert')]);
    const text = (await metrics.text()).body;
    const events = (source: string, action: string): number => sample(text, 'dbwitness_events_total', `source="${source}",action="${action}"`);
    expect([events('pg', 'insert'), events('pg', 'update'), events('pg', 'delete'), events('pg', 'alert'), events('mdb', 'insert')]).toEqual([3, 1, 3, 2, 1]);
    expect(sample(text, 'dbwitness_alerts_total', 'source="pg",code="unattributed_change"')).toBe(1);
    expect(sample(text, 'dbwitness_alerts_total', 'source="pg",code="ddl"')).toBe(1);
    expect(sample(text, 'dbwitness_unattributed_changes_total', 'source="pg"')).toBe(3);
  });
});
