/**
 * Everything `dbwitness run` adds around the supervisor: the monitor fed by
 * wrapped adapters and store, alert rules and outputs, metrics and the HTTP
 * endpoint, anchors and periodic checks. run.ts is the composition root;
 * this class keeps it short and gives tests one object to start and stop.
 */
import type { Logger } from 'pino';
import type { AuditEvent } from '../core/event.js';
import type { AuditStore, Chain } from '../core/ports.js';
import { usageError } from '../core/errors.js';
import { AlertsConfig, AnchorsConfig, durationMs, type ConfigFile } from '../config/config-schema.js';
import { AlertRules } from '../alerts/alert-rules.js';
import { AlertOutputs } from '../alerts/alert-outputs.js';
import { WebhookSink } from '../alerts/webhook-sink.js';
import { ALERT_CODES } from '../alerts/alert-codes.js';
import { alertFromTrigger } from '../alerts/alert-draft.js';
import { AnchorFile } from '../anchor/anchor-file.js';
import { AnchorPublisher } from '../anchor/anchor-publisher.js';
import type { SigningKey } from '../store/keys.js';
import { DaemonHttpServer, parseListen } from './http-server.js';
import { DaemonMetrics } from './metrics.js';
import type { WorkerHeap } from '../index/index-worker.js';
import { observeAdapter } from './observed-adapter.js';
import { observeStore } from './observed-store.js';
import { PeriodicChecks } from './periodic-checks.js';
import { SourceMonitor } from './source-monitor.js';
import type { DaemonHooks, SourceSpec } from './supervisor.js';

export interface DaemonServicesOptions {
  readonly config: ConfigFile;
  readonly logger: Logger;
  /** Signs anchors (the store's key); null for an unsigned store. */
  readonly signingKey: SigningKey | null;
  /** Overrides http.listen (the --http flag). */
  readonly httpListen?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** The index worker's heap (a second V8 heap in the process), for /metrics. */
  readonly indexWorkerHeap?: (() => WorkerHeap | null) | undefined;
}

export class DaemonServices {
  readonly monitor = new SourceMonitor();
  readonly metrics: DaemonMetrics;
  readonly outputs: AlertOutputs;
  readonly webhook: WebhookSink | null;
  #rules: AlertRules;
  readonly #o: DaemonServicesOptions;
  #alerts: AlertsConfig;
  readonly #anchorsCfg: AnchorsConfig;
  #http: DaemonHttpServer | null = null;
  #anchors: AnchorPublisher | null = null;
  #anchorFile: AnchorFile | null = null;
  #checks: PeriodicChecks | null = null;
  #wanted = new Set<string>();
  readonly #lastLagAlert = new Map<string, number>();
  /** Where /metrics listens once started (tests use port 0). */
  httpAddress: { host: string; port: number } | null = null;

  constructor(options: DaemonServicesOptions) {
    this.#o = options;
    this.#alerts = options.config.alerts ?? AlertsConfig.parse({});
    this.#anchorsCfg = options.config.anchors ?? AnchorsConfig.parse({});
    this.#rules = new AlertRules(this.#alerts.rules);
    const wh = this.#alerts.webhook;
    const env = options.env ?? process.env;
    if (wh?.secret_env !== undefined && env[wh.secret_env] === undefined) {
      // Receivers that check signatures would reject every delivery; say so at start instead.
      throw usageError('E_WEBHOOK_SECRET', `alerts.webhook.secret_env names ${wh.secret_env}, which is not set`, `set ${wh.secret_env} in the daemon's environment (e.g. /etc/dbwitness/env) or remove secret_env`);
    }
    this.webhook =
      wh === undefined
        ? null
        : new WebhookSink({
            url: wh.url,
            secret: wh.secret_env === undefined ? undefined : env[wh.secret_env],
            timeoutMs: durationMs(wh.timeout),
            maxQueue: wh.max_queue,
            maxBackoffMs: durationMs(wh.max_backoff),
            logger: options.logger,
          });
    this.outputs = new AlertOutputs({
      logger: options.logger,
      webhook: this.webhook,
      repeatAfterMs: durationMs(this.#alerts.repeat_after),
      // The pipeline always stores unattributed-change alerts; the switch only mutes their delivery.
      enabled: (code) => code !== ALERT_CODES.unattributed || this.#alerts.rules.unattributed_change.enabled,
    });
    const webhook = this.webhook;
    this.metrics = new DaemonMetrics(this.monitor, {
      ...(webhook !== null ? { webhook: () => webhook.stats } : {}),
      alertsSuppressed: () => this.outputs.stats.suppressed,
      ...(options.indexWorkerHeap !== undefined ? { indexWorkerHeap: options.indexWorkerHeap } : {}),
    });
  }

  /** The store the supervisor should use: rules run inside each append. */
  wrapStore(store: AuditStore): AuditStore {
    return observeStore(store, { monitor: this.monitor, rules: () => this.#rules, timer: this.metrics });
  }

  /**
   * SIGHUP: new alert rules (allowlist, hours, limits) for every chain from
   * the next append on. Throws on an invalid section, keeping the old rules.
   * Bulk-access windows restart; outputs, webhook, HTTP and anchors keep
   * their start-up settings.
   */
  reloadRules(config: ConfigFile): void {
    const alerts = config.alerts ?? AlertsConfig.parse({});
    const rules = new AlertRules(alerts.rules);
    this.#rules = rules;
    this.#alerts = { ...this.#alerts, rules: alerts.rules };
  }

  /** Specs whose adapters report to the monitor. Sources left out are forgotten once they stop. */
  wrapSpecs(specs: readonly SourceSpec[]): SourceSpec[] {
    this.#wanted = new Set(specs.map((s) => s.id));
    for (const rt of this.monitor.all()) if (!this.#wanted.has(rt.id) && rt.state === 'stopped') this.monitor.remove(rt.id);
    return specs.map((s) => ({ ...s, adapter: observeAdapter(s.adapter, s.id, this.monitor) }));
  }

  hooks(): DaemonHooks {
    return {
      onState: (id, state, error) => {
        const rt = this.monitor.get(id);
        rt.state = state;
        if (state === 'stopped' && !this.#wanted.has(id)) {
          // Removed by a reload: anchor its final head, then forget it (readiness ignores stopped sources).
          const forget = (): void => {
            if (!this.#wanted.has(id)) this.monitor.remove(id);
          };
          if (this.#anchors === null) forget();
          else void this.#anchors.publish().finally(forget);
          return;
        }
        rt.lastError = error ?? (state === 'streaming' ? null : rt.lastError);
      },
      onEvents: (id, _chain: Chain, events) => this.#onStored(id, events),
      onAcknowledged: (id, checkpoint) => {
        const rt = this.monitor.get(id);
        rt.lastAckAt = Date.now();
        rt.lastCheckpoint = checkpoint;
      },
    };
  }

  #onStored(id: string, events: readonly AuditEvent[]): void {
    const rt = this.monitor.get(id);
    for (let i = events.length - 1; i >= 0; i--) {
      const e = events[i]!;
      if (e.action === 'alert' || e.action === 'heartbeat') continue;
      const t = Date.parse(e.time);
      rt.lastEventTimeMs = t;
      rt.lastPosition = e.position;
      rt.captureDelaySeconds = Math.max(0, (Date.parse(e.recorded_at) - t) / 1000);
      this.#lagAlert(id, e, rt.captureDelaySeconds);
      break;
    }
    this.metrics.onEvents(id, events);
    this.outputs.deliver(events);
  }

  /**
   * An event stored later than `replication_lag.max_seconds` after its
   * commit is itself evidence of lag (catching up after an outage or under
   * load), even for sources that cannot report lag. The alert derives its id
   * from that event and is raised at most once per `repeat_after` per source.
   */
  #lagAlert(id: string, e: AuditEvent, delaySeconds: number): void {
    const rule = this.#alerts.rules.replication_lag;
    const chain = this.monitor.get(id).chain;
    const now = Date.now();
    if (!rule.enabled || chain === null || delaySeconds <= rule.max_seconds || now - (this.#lastLagAlert.get(id) ?? 0) < durationMs(this.#alerts.repeat_after)) return;
    this.#lastLagAlert.set(id, now);
    const { seq: _s, recorded_at: _r, prev: _p, hash: _h, ...trigger } = e;
    const draft = alertFromTrigger(trigger, ALERT_CODES.lag, `event stored ${delaySeconds.toFixed(1)} s after its commit (limit ${rule.max_seconds} s)`, { lag_seconds: delaySeconds.toFixed(3), limit_seconds: String(rule.max_seconds) });
    chain.append([draft]).then(
      (stored) => {
        if (stored.length > 0) this.#onStored(id, stored);
      },
      (err: unknown) => this.#o.logger.warn({ alert: ALERT_CODES.lag, source: id, err: err instanceof Error ? err.message : String(err) }, 'lag alert not stored'),
    );
  }

  async start(): Promise<void> {
    const listen = this.#o.httpListen ?? this.#o.config.http?.listen;
    if (listen !== undefined) {
      const { host, port } = parseListen(listen);
      this.#http = new DaemonHttpServer({ monitor: this.monitor, metrics: this.metrics, maxSilenceMs: durationMs(this.#o.config.http?.ready_max_silence ?? '2m'), logger: this.#o.logger });
      const addr = await this.#http.listen(host, port);
      this.httpAddress = { host: addr.address, port: addr.port };
    }
    const a = this.#anchorsCfg;
    if (a.file !== undefined) this.#anchorFile = await AnchorFile.open(a.file);
    const anchorWebhook = a.webhook ? this.webhook : null;
    if (this.#anchorFile !== null || anchorWebhook !== null) {
      this.#anchors = new AnchorPublisher({
        targets: () =>
          this.monitor.all().flatMap((rt) => {
            const head = this.monitor.head(rt);
            return head === null ? [] : [{ sourceId: rt.id, head: () => head }];
          }),
        key: this.#o.signingKey,
        file: this.#anchorFile,
        webhook: anchorWebhook,
        intervalMs: durationMs(a.interval),
        logger: this.#o.logger,
        onPublished: (anchor) => this.metrics.anchorPublished(anchor.source),
      });
      this.#anchors.start();
    }
    this.#checks = new PeriodicChecks({
      monitor: this.monitor,
      rules: () => this.#alerts.rules,
      intervalMs: durationMs(this.#alerts.check_interval),
      repeatAfterMs: durationMs(this.#alerts.repeat_after),
      logger: this.#o.logger,
      onStored: (id, events) => this.#onStored(id, events),
    });
    this.#checks.start();
  }

  /** Publishes anchors now (tests, and SIGHUP). */
  async anchorNow(): Promise<void> {
    await this.#anchors?.publish();
  }

  /** After the supervisor drained: final anchors, then outputs and the endpoint close. */
  async stop(): Promise<void> {
    await this.#checks?.stop();
    if (this.#anchors !== null) {
      await this.#anchors.publish();
      await this.#anchors.stop();
    }
    await this.#anchorFile?.close();
    await this.webhook?.close(2000);
    await this.#http?.close();
  }
}
