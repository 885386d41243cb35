/**
 * Prometheus metrics of the daemon (prom-client, a private registry so that
 * library users embedding dbwitness keep their own). Counters move on
 * events; gauges are computed from the monitor at scrape time, so a source
 * removed by a reload disappears from the next scrape.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuditEvent } from '../core/event.js';
import type { WorkerHeap } from '../index/index-worker.js';
import type { SourceMonitor } from './source-monitor.js';
import { ObservedChain, type AppendTimer } from './observed-store.js';
import type { SourceState } from './supervisor.js';

const STATES: readonly SourceState[] = ['starting', 'streaming', 'retrying', 'failed', 'stopped'];

export interface WebhookCounters {
  delivered: number;
  failures: number;
  dropped: number;
  queued: number;
}

export interface ExternalCounters {
  webhook?: () => WebhookCounters;
  alertsSuppressed?: () => number;
  indexWorkerHeap?: () => WorkerHeap | null;
}

export class DaemonMetrics implements AppendTimer {
  readonly registry = new Registry();
  readonly #events: Counter<'source' | 'action'>;
  readonly #alerts: Counter<'source' | 'code'>;
  readonly #unattributed: Counter<'source'>;
  readonly #append: Histogram<'source'>;
  readonly #fsync: Histogram<'source'>;
  readonly #anchors: Counter<'source'>;
  readonly #durable: Histogram<'source'>;
  /** Per-source children of #durable: observing through a child skips hashing the label object. */
  readonly #durableBySource = new Map<string, { observe(v: number): void }>();

  constructor(monitor: SourceMonitor, external: ExternalCounters = {}) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'dbwitness_' });
    this.#events = new Counter({ name: 'dbwitness_events_total', help: 'Events made durable, by source and action', labelNames: ['source', 'action'], registers: [r] });
    this.#alerts = new Counter({ name: 'dbwitness_alerts_total', help: 'Alert events made durable, by source and code', labelNames: ['source', 'code'], registers: [r] });
    this.#unattributed = new Counter({ name: 'dbwitness_unattributed_changes_total', help: 'Committed changes on audited tables that arrived without a session identity', labelNames: ['source'], registers: [r] });
    this.#append = new Histogram({
      name: 'dbwitness_store_append_seconds',
      help: 'Store append latency: group-commit queueing, write and fdatasync',
      labelNames: ['source'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [r],
    });
    // The disk alone: one observation per group commit, however many appends it carried.
    this.#fsync = new Histogram({
      name: 'dbwitness_store_fsync_seconds',
      help: 'fdatasync latency of segment files, one observation per group commit',
      labelNames: ['source'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [r],
    });
    // Freshness of the trail as an operator's SLO: from the source's commit to the event being durable, per transaction.
    this.#durable = new Histogram({
      name: 'dbwitness_commit_to_durable_seconds',
      help: 'Seconds from a transaction\'s commit at the source (an event\'s time, for log sources) until its events are durable in the store, one observation per transaction; includes any clock offset between the two hosts, and reads up to 1 s high where commit times are whole seconds (MariaDB binlogs)',
      labelNames: ['source'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [r],
    });
    this.#anchors = new Counter({ name: 'dbwitness_anchors_published_total', help: 'Chain heads published to the anchor file or webhook', labelNames: ['source'], registers: [r] });

    const perSource = (name: string, help: string, value: (id: string) => number | null, extra: string[] = []): void => {
      new Gauge({
        name,
        help,
        labelNames: ['source', ...extra],
        registers: [r],
        collect() {
          this.reset();
          for (const s of monitor.all()) {
            const v = value(s.id);
            if (v !== null) this.set({ source: s.id }, v);
          }
        },
      });
    };
    const rt = (id: string) => monitor.get(id);
    perSource('dbwitness_chain_head_seq', 'Sequence number of the newest durable event of the chain', (id) => rt(id).chain?.head().seq ?? null);
    perSource('dbwitness_replication_lag_seconds', 'Seconds behind the source: reported by the source, else 0 when caught up, else how late the newest event was stored after its commit', (id) => monitor.lagSeconds(rt(id)));
    perSource('dbwitness_replication_lag_bytes', 'WAL/binlog bytes written by the server and not yet acknowledged (sources offering lag())', (id) => rt(id).lastLag?.bytes ?? null);
    perSource('dbwitness_retained_bytes', 'WAL/binlog bytes the server retains for this source (sources offering lag())', (id) => rt(id).lastLag?.retainedBytes ?? null);
    perSource('dbwitness_capture_delay_seconds', 'recorded_at minus commit time of the newest durable event', (id) => rt(id).captureDelaySeconds);
    perSource('dbwitness_last_durable_event_timestamp_seconds', 'Commit time of the newest durable event (Unix seconds)', (id) => (rt(id).lastEventTimeMs ?? null) === null ? null : rt(id).lastEventTimeMs! / 1000);
    perSource('dbwitness_last_ack_timestamp_seconds', 'When a position was last acknowledged to the server (Unix seconds)', (id) => (rt(id).lastAckAt === 0 ? null : rt(id).lastAckAt / 1000));
    perSource('dbwitness_last_progress_timestamp_seconds', 'When the source last showed progress: message, event or acknowledgement (Unix seconds)', (id) => {
      const t = monitor.lastProgressAt(rt(id));
      return t === 0 ? null : t / 1000;
    });
    perSource('dbwitness_source_up', '1 while the source is streaming', (id) => (rt(id).state === 'streaming' ? 1 : 0));
    perSource('dbwitness_store_fsyncs', 'fdatasync calls on the chain since it was opened', (id) => chainStats(rt(id).chain)?.fsyncs ?? null);
    perSource('dbwitness_store_bytes', 'Bytes appended to the chain since it was opened', (id) => chainStats(rt(id).chain)?.bytes ?? null);
    new Counter({
      name: 'dbwitness_reconnects_total',
      help: 'Times a source was reopened after a failed attempt',
      labelNames: ['source'],
      registers: [r],
      collect() {
        this.reset();
        for (const s of monitor.all()) this.inc({ source: s.id }, s.reconnects);
      },
    });
    new Gauge({
      name: 'dbwitness_source_state',
      help: '1 for the current state of each source',
      labelNames: ['source', 'state'],
      registers: [r],
      collect() {
        this.reset();
        for (const s of monitor.all()) for (const st of STATES) this.set({ source: s.id, state: st }, s.state === st ? 1 : 0);
      },
    });
    new Gauge({
      name: 'dbwitness_last_durable_position_info',
      help: 'Source position of the newest durable event (value 1; the position is a label)',
      labelNames: ['source', 'position'],
      registers: [r],
      collect() {
        this.reset();
        for (const s of monitor.all()) if (s.lastPosition !== null) this.set({ source: s.id, position: s.lastPosition }, 1);
      },
    });
    const webhook = external.webhook;
    if (webhook !== undefined) {
      const wh = (name: string, help: string, pick: (s: WebhookCounters) => number, counter: boolean): void => {
        if (counter) {
          new Counter({ name, help, registers: [r], collect() { this.reset(); this.inc(pick(webhook())); } });
        } else {
          new Gauge({ name, help, registers: [r], collect() { this.set(pick(webhook())); } });
        }
      };
      wh('dbwitness_webhook_delivered_total', 'Webhook deliveries accepted by the receiver', (s) => s.delivered, true);
      wh('dbwitness_webhook_failures_total', 'Webhook delivery attempts that failed (retried)', (s) => s.failures, true);
      wh('dbwitness_webhook_dropped_total', 'Webhook deliveries dropped because the queue was full (events stay in the store)', (s) => s.dropped, true);
      wh('dbwitness_webhook_queue_depth', 'Webhook deliveries waiting', (s) => s.queued, false);
    }
    const suppressed = external.alertsSuppressed;
    if (suppressed !== undefined) {
      new Counter({ name: 'dbwitness_alerts_suppressed_total', help: 'Repeated alerts not delivered again within alerts.repeat_after', registers: [r], collect() { this.reset(); this.inc(suppressed()); } });
    }
    const workerHeap = external.indexWorkerHeap;
    if (workerHeap !== undefined) {
      // The default nodejs_heap_* metrics cover the main thread only; the index worker is a second heap in the same RSS.
      new Gauge({
        name: 'dbwitness_index_worker_heap_bytes',
        help: 'V8 heap of the index worker thread after its latest catch-up (kind: used, total, external)',
        labelNames: ['kind'],
        registers: [r],
        collect() {
          this.reset();
          const h = workerHeap();
          if (h === null) return;
          this.set({ kind: 'used' }, h.used);
          this.set({ kind: 'total' }, h.total);
          this.set({ kind: 'external' }, h.external);
        },
      });
    }
  }

  /**
   * Counts a durable batch: one counter update per run of events with the
   * same action, not per event (prom-client hashes the label object on every
   * inc: a twentieth of the capture thread's allocations in a catch-up).
   */
  onEvents(sourceId: string, events: readonly AuditEvent[]): void {
    let action: string | null = null;
    let run = 0;
    const now = Date.now();
    let durable = this.#durableBySource.get(sourceId);
    if (durable === undefined) this.#durableBySource.set(sourceId, (durable = this.#durable.labels({ source: sourceId })));
    for (const e of events) {
      // Once per transaction: its first event (alerts and heartbeats are not changes).
      if (e.tx?.index === 0 && e.action !== 'alert' && e.action !== 'heartbeat') {
        const committed = Date.parse(e.time);
        if (!Number.isNaN(committed)) durable.observe(Math.max(0, now - committed) / 1000);
      }
      if (e.action !== action) {
        if (action !== null) this.#events.inc({ source: sourceId, action }, run);
        action = e.action;
        run = 0;
      }
      run++;
      if (e.action !== 'alert') continue;
      const code = e.detail?.['code'] ?? 'unknown';
      this.#alerts.inc({ source: sourceId, code });
      if (code === 'unattributed_change') this.#unattributed.inc({ source: sourceId }, Number(e.detail?.['changes'] ?? '1') || 1);
    }
    if (action !== null) this.#events.inc({ source: sourceId, action }, run);
  }

  observeAppend(sourceId: string, seconds: number): void {
    this.#append.observe({ source: sourceId }, seconds);
  }

  observeFsync(sourceId: string, seconds: number): void {
    this.#fsync.observe({ source: sourceId }, seconds);
  }

  anchorPublished(sourceId: string): void {
    this.#anchors.inc({ source: sourceId });
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

function chainStats(chain: unknown): { fsyncs: number; bytes: number } | null {
  return chain instanceof ObservedChain ? chain.writeStats : null;
}
