/**
 * The daemon's HTTP endpoint (off unless `http.listen` is set; bound to
 * 127.0.0.1 unless a host is given, since metrics name users and tables):
 *
 *   GET /healthz  200 while the process runs (liveness)
 *   GET /readyz   200 when every source is streaming and none is silent for
 *                 longer than `ready_max_silence` where silence means trouble:
 *                 a stream that keeps alive when idle (binlog heartbeats) or
 *                 offers heartbeats, or any stream stopped mid-delivery (not
 *                 caught up). 503 with the reasons otherwise.
 *   GET /metrics  Prometheus text format
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { usageError } from '../core/errors.js';
import type { DaemonMetrics } from './metrics.js';
import type { SourceMonitor } from './source-monitor.js';

export interface ReadyReport {
  readonly ready: boolean;
  readonly sources: Record<string, { state: string; ready: boolean; reason?: string; last_progress_ms_ago: number | null }>;
}

export function readiness(monitor: SourceMonitor, maxSilenceMs: number, now = Date.now()): ReadyReport {
  const sources: ReadyReport['sources'] = {};
  let ready = monitor.all().some((s) => s.state !== 'stopped');
  for (const s of monitor.all()) {
    // Stopped: removed by a reload (about to be forgotten) or draining at shutdown.
    if (s.state === 'stopped') continue;
    const last = monitor.lastProgressAt(s);
    const ago = last === 0 ? null : now - last;
    let reason: string | undefined;
    if (s.state !== 'streaming') reason = s.lastError === null ? `state ${s.state}` : `state ${s.state}: ${s.lastError.code}`;
    else if ((monitor.expectsProgress(s) || (!s.caughtUp && s.lastMessageAt !== 0)) && now - Math.max(last, s.addedAt) > maxSilenceMs) reason = ago === null ? 'no message from the source yet' : `no progress for ${Math.round(ago / 1000)} s`;
    sources[s.id] = { state: s.state, ready: reason === undefined, ...(reason !== undefined ? { reason } : {}), last_progress_ms_ago: ago };
    if (reason !== undefined) ready = false;
  }
  return { ready, sources };
}

export function parseListen(listen: number | string): { host: string; port: number } {
  if (typeof listen === 'number') return { host: '127.0.0.1', port: listen };
  if (/^\d+$/.test(listen)) return { host: '127.0.0.1', port: Number(listen) };
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(listen.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw usageError('E_HTTP_LISTEN', `http listen address "${listen}" has no valid port`, 'write it as 127.0.0.1:9464');
  }
  return { host, port };
}

export class DaemonHttpServer {
  readonly #server: Server;
  readonly #log: Logger;

  constructor(opts: { monitor: SourceMonitor; metrics: DaemonMetrics; maxSilenceMs: number; logger: Logger }) {
    this.#log = opts.logger.child({ component: 'http' });
    this.#server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}\n');
        return;
      }
      if (path === '/readyz') {
        const report = readiness(opts.monitor, opts.maxSilenceMs);
        res.writeHead(report.ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(report) + '\n');
        return;
      }
      if (path === '/metrics') {
        opts.metrics
          .text()
          .then(({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body))
          .catch((e: unknown) => {
            this.#log.error({ err: e instanceof Error ? e.message : String(e) }, 'metrics collection failed');
            res.writeHead(500).end();
          });
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz or /metrics\n');
    });
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        reject(usageError('E_HTTP_LISTEN', `cannot listen on ${host}:${port} for health and metrics (${e.code ?? 'error'})`, e.code === 'EADDRINUSE' ? 'choose a free port in http.listen' : 'check http.listen'));
      };
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    const addr = this.#server.address() as AddressInfo;
    this.#log.info({ host: addr.address, port: addr.port }, 'health and metrics listening');
    return addr;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
