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
  const observed: ChangeSource & Partial<Record<'lag' | 'heartbeat', unknown>> = {
    source: source.source,
    messages(checkpoint, signal) {
      const iterable = source.messages(checkpoint, signal);
      return {
        [Symbol.asyncIterator]() {
          const it = iterable[Symbol.asyncIterator]();
          const note = (r: IteratorResult<SourceMessage>): IteratorResult<SourceMessage> => {
            if (!r.done) {
              const rt = monitor.get(sourceId);
              rt.lastMessageAt = Date.now();
              if (r.value.kind === 'idle') {
                rt.caughtUp = true;
                if (rt.lastIdleCheckpoint === r.value.checkpoint) rt.keepsAlive = true;
                rt.lastIdleCheckpoint = r.value.checkpoint;
              } else if (r.value.kind === 'begin') {
                rt.caughtUp = false;
              }
            }
            return r;
          };
          return {
            next: () => it.next().then(note),
            return: async (v?: unknown) => (it.return ? it.return(v) : { done: true as const, value: undefined }),
          };
        },
      };
    },
    acknowledge: (cp) => source.acknowledge(cp),
    close: () => source.close(),
  };
  return observed;
}
