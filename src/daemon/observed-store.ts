/**
 * Wraps the `AuditStore` handed to the supervisor. Every chain it opens:
 * - runs the alert rules over each append's drafts and stores the alerts in
 *   the same append (same fsync, before the checkpoint is acknowledged);
 * - times each append (queueing + write + fdatasync) for the metrics, and
 *   has the file chain report the duration of each fdatasync alone (one per
 *   group commit, which may serve many appends);
 * - is registered with the monitor, for anchors, head metrics and the
 *   periodic rules that append source-level alerts.
 *
 * Placement of rule alerts: after the drafts when the append carries a
 * checkpoint (they are covered by it, like the events); before them in a
 * checkpoint-less part of a large transaction, so that the chain's `tail`
 * still names the transaction's last stored change after a crash.
 */
import type { AuditEvent, DraftEvent, Source } from '../core/event.js';
import type { AuditStore, Chain } from '../core/ports.js';
import type { AlertRules } from '../alerts/alert-rules.js';
import type { SourceMonitor } from './source-monitor.js';

export interface AppendTimer {
  /** A whole append: group-commit queueing, write and fdatasync. */
  observeAppend(sourceId: string, seconds: number): void;
  /** One fdatasync of a segment file. */
  observeFsync(sourceId: string, seconds: number): void;
}

export interface FileChainStats {
  readonly fsyncs: number;
  readonly bytes: number;
  readonly events: number;
  /** The file chain's fsync hook (src/store/segment-file.ts WriteStats). */
  onFsync?: (seconds: number) => void;
}

export function observeStore(store: AuditStore, opts: { monitor: SourceMonitor; rules: () => AlertRules | null; timer: AppendTimer | null }): AuditStore {
  return {
    // A pipeline restart (retry, SIGHUP restart, removal and re-adding)
    // closes its chain and opens it again: reopening runs the store's
    // recovery, which also repairs a chain stopped by a failed write.
    openChain: async (source: Source) => {
      const chain = await store.openChain(source);
      const rt = opts.monitor.get(source.id);
      const observed: ObservedChain = new ObservedChain(chain, opts.rules, opts.timer, () => {
        rt.closedHead = observed.head();
        if (rt.chain === observed) rt.chain = null;
      });
      rt.chain = observed;
      return observed;
    },
    close: () => store.close(),
  };
}

export class ObservedChain implements Chain {
  readonly #inner: Chain;
  readonly #rules: () => AlertRules | null;
  readonly #timer: AppendTimer | null;
  readonly #onClose: () => void;

  constructor(inner: Chain, rules: AlertRules | null | (() => AlertRules | null), timer: AppendTimer | null, onClose: () => void = () => undefined) {
    this.#inner = inner;
    // A getter, so a reload (SIGHUP) swaps the rules of open chains.
    this.#rules = typeof rules === 'function' ? rules : () => rules;
    this.#timer = timer;
    this.#onClose = onClose;
    const stats = this.writeStats;
    if (timer !== null && stats !== null) {
      const id = inner.source.id;
      stats.onFsync = (seconds) => timer.observeFsync(id, seconds);
    }
  }

  get source(): Source {
    return this.#inner.source;
  }

  get preferredBatchEvents(): number | undefined {
    return this.#inner.preferredBatchEvents;
  }

  /** Write counters of the underlying file chain, when it has them. */
  get writeStats(): FileChainStats | null {
    const s = (this.#inner as { stats?: FileChainStats }).stats;
    return s !== undefined && typeof s.fsyncs === 'number' ? s : null;
  }

  head() {
    return this.#inner.head();
  }
  checkpoint() {
    return this.#inner.checkpoint();
  }
  tail() {
    return this.#inner.tail();
  }

  async append(drafts: readonly DraftEvent[], checkpoint?: string): Promise<readonly AuditEvent[]> {
    const rules = this.#rules();
    const alerts = rules === null || drafts.length === 0 ? [] : rules.evaluate(drafts);
    const all = alerts.length === 0 ? drafts : checkpoint === undefined ? [...alerts, ...drafts] : [...drafts, ...alerts];
    const started = process.hrtime.bigint();
    const stored = checkpoint === undefined ? await this.#inner.append(all) : await this.#inner.append(all, checkpoint);
    this.#timer?.observeAppend(this.source.id, Number(process.hrtime.bigint() - started) / 1e9);
    return stored;
  }

  close(): Promise<void> {
    this.#onClose();
    return this.#inner.close();
  }
}
