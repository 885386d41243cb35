/**
 * Shared pieces of the daemon integration tests: a local webhook receiver,
 * a /metrics parser, and helpers for a `dbwitness run` child process.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditEvent } from '../../src/core/event.js';
import { readEvents } from '../../src/store/reader.js';

export class WebhookReceiver {
  readonly bodies: Array<{ id: string; type: string; alert?: AuditEvent; anchor?: { source: string; seq: number } }> = [];
  #server: Server | null = null;
  port = 0;

  async start(port = 0): Promise<void> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookReceiver['bodies'][number]);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => this.#server!.listen(port, '127.0.0.1', r));
    this.port = (this.#server.address() as AddressInfo).port;
  }

  alertCodes(source?: string): Set<string> {
    return new Set(this.bodies.filter((b) => b.type === 'alert' && (source === undefined || b.alert?.source.id === source)).map((b) => b.alert?.detail?.['code'] ?? ''));
  }

  async stop(): Promise<void> {
    if (this.#server === null) return;
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server!.close(() => r()));
    this.#server = null;
  }
}

/** Prometheus text -> value of the first sample matching name and labels. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

export async function storedEvents(dir: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  try {
    for await (const ref of readEvents(dir)) out.push(ref.event);
  } catch {
    // A chain being written may end in a partial line; the next read sees it complete.
  }
  return out;
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/** Collects a child's stderr (pino JSON lines) for assertions and failure reports. */
export function captureLog(child: ChildProcess): { text: () => string } {
  const chunks: Buffer[] = [];
  child.stderr?.on('data', (c: Buffer) => chunks.push(c));
  return { text: () => Buffer.concat(chunks).toString('utf8') };
}
