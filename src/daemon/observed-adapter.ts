/**
 * Wraps a `SourceAdapter` so that every source it opens reports to the
 * monitor: message arrival (progress, caught-up), and its optional
 * capabilities (lag, heartbeat). The stream itself is passed through
 * untouched: the wrapper's iterator forwards `next()` and records the
 * result, adding no buffering (the pipeline relies on `next()` resolving as
 * soon as the source has a message ready).
 */
import type { ChangeSource, SourceAdapter, SourceMessage } from '../core/ports.js';
import { heartbeatCapability, lagCapability } from './source-capabilities.js';
import type { SourceMonitor } from './source-monitor.js';

export function observeAdapter<C>(adapter: SourceAdapter<C>, sourceId: string, monitor: SourceMonitor): SourceAdapter<C> {
  return {
    name: adapter.name,
    urlSchemes: adapter.urlSchemes,
    configSchema: adapter.configSchema,
    planSetup: (c, ctx) => adapter.planSetup(c, ctx),
    planUninstall: (c, ctx) => adapter.planUninstall(c, ctx),
    applyPlan: (c, p, ctx) => adapter.applyPlan(c, p, ctx),
    doctor: (c, ctx) => adapter.doctor(c, ctx),
    openSource: async (config, ctx) => {
      const rt = monitor.get(sourceId);
      rt.attempts++;
      if (rt.attempts > 1) rt.reconnects++;
      const source = await adapter.openSource(config, ctx);
      rt.lag = lagCapability(source);
      rt.heartbeat = heartbeatCapability(source);
      return observeSource(source, sourceId, monitor);
    },
  };
}

function observeSource(source: ChangeSource, sourceId: string, monitor: SourceMonitor): ChangeSource {
  /** Records that messages arrived (progress); returns the source's monitor entry. */
  const arrived = (): ReturnType<SourceMonitor['get']> => {
    const rt = monitor.get(sourceId);
    rt.lastMessageAt = Date.now();
    return rt;
  };
  /** What one message says about being caught up; messages are noted in stream order. */
  const noteMessage = (rt: ReturnType<SourceMonitor['get']>, m: SourceMessage): void => {
    if (m.kind === 'idle') {
      rt.caughtUp = true;
      if (rt.lastIdleCheckpoint === m.checkpoint) rt.keepsAlive = true;
      rt.lastIdleCheckpoint = m.checkpoint;
    } else if (m.kind === 'begin') {
      rt.caughtUp = false;
    }
  };
  const observed: ChangeSource & Partial<Record<'lag' | 'heartbeat', unknown>> = {
    source: source.source,
    messages: (checkpoint, signal) =>
      forwarded(source.messages(checkpoint, signal), (r) => {
        if (!r.done) noteMessage(arrived(), r.value);
      }),
    acknowledge: (cp) => source.acknowledge(cp),
    close: () => source.close(),
  };
  const batches = source.batches?.bind(source);
  if (batches !== undefined) {
    observed.batches = (checkpoint, signal) =>
      forwarded(batches(checkpoint, signal), (r) => {
        if (r.done || r.value.length === 0) return;
        const rt = arrived();
        for (const m of r.value) noteMessage(rt, m);
      });
  }
  return observed;
}

/** `iterable` with `seen` called on every result; `next()` is forwarded as is, with no buffering. */
function forwarded<T>(iterable: AsyncIterable<T>, seen: (r: IteratorResult<T>) => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = iterable[Symbol.asyncIterator]();
      const note = (r: IteratorResult<T>): IteratorResult<T> => {
        seen(r);
        return r;
      };
      return {
        next: () => it.next().then(note),
        return: async (v?: unknown) => (it.return ? it.return(v) : { done: true as const, value: undefined }),
      };
    },
  };
}
