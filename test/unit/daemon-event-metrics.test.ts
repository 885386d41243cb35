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

describe('commit-to-durable metric', () => {
  it('observes each transaction once, at its first event, from its commit time', async () => {
    const metrics = new DaemonMetrics(new SourceMonitor());
    const at = (msAgo: number): string => new Date(Date.now() - msAgo).toISOString().replace('Z', '000Z');
    const change = (index: number, time: string, action = 'insert'): AuditEvent => ({ action, time, tx: { id: 't', index, count: 3 }, detail: null }) as unknown as AuditEvent;
    // Two transactions (3 events, 4 ms ago; 1 event, 2 minutes ago), an alert and a heartbeat: two observations (buckets are cumulative).
    metrics.onEvents('pg', [change(0, at(4)), change(1, at(4)), change(2, at(4)), change(0, at(120_000), 'update'), change(0, at(10), 'alert'), change(0, at(10), 'heartbeat')]);
    const text = (await metrics.text()).body;
    expect(sample(text, 'dbwitness_commit_to_durable_seconds_count', 'source="pg"')).toBe(2);
    expect(sample(text, 'dbwitness_commit_to_durable_seconds_bucket', 'le="0.025",source="pg"')).toBe(1);
    expect(sample(text, 'dbwitness_commit_to_durable_seconds_bucket', 'le="60",source="pg"')).toBe(1);
    expect(sample(text, 'dbwitness_commit_to_durable_seconds_bucket', 'le="300",source="pg"')).toBe(2);
  });
});
