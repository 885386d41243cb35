/**
 * Webhook delivery against a real local HTTP receiver: in-order delivery,
 * HMAC signature, retries while the receiver is down, a bounded queue that
 * drops the oldest, and repeat suppression in the alert outputs.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import type { AuditEvent } from '../../src/core/event.js';
import { WebhookSink } from '../../src/alerts/webhook-sink.js';
import { AlertOutputs } from '../../src/alerts/alert-outputs.js';
import { waitFor } from '../harness/index.js';
import { draft } from './store-helpers.js';

interface Received {
  id: string;
  type: string;
  signature: string | undefined;
  raw: string;
}

class Receiver {
  readonly got: Received[] = [];
  server: Server | null = null;
  port = 0;
  failNext = 0;

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.failNext > 0) {
          this.failNext--;
          res.writeHead(503).end();
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const body = JSON.parse(raw) as { id: string; type: string };
        this.got.push({ id: body.id, type: body.type, signature: req.headers['x-dbwitness-signature'] as string | undefined, raw });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    if (this.server === null) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
    this.server = null;
  }
}

const receivers: Receiver[] = [];
const sinks: WebhookSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close(0)));
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
});

function sink(port: number, opts: { maxQueue?: number; secret?: string } = {}): WebhookSink {
  const s = new WebhookSink({ url: `http://127.0.0.1:${port}/hook`, logger: silentLogger(), minBackoffMs: 20, maxBackoffMs: 100, timeoutMs: 1000, ...opts });
  sinks.push(s);
  return s;
}

describe('webhook sink', () => {
  it('delivers in order with an HMAC signature, retrying refused deliveries', async () => {
    const rx = new Receiver();
    receivers.push(rx);
    await rx.start();
    rx.failNext = 2;
    const s = sink(rx.port, { secret: 's3cret' });
    for (let i = 0; i < 5; i++) s.enqueue({ id: `d${i}`, type: 'alert', body: { n: i } });
    await waitFor(() => rx.got.length === 5, { what: 'five deliveries' });
    expect(rx.got.map((g) => g.id)).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
    expect(s.stats.failures).toBe(2);
    for (const g of rx.got) expect(g.signature).toBe(`sha256=${createHmac('sha256', 's3cret').update(g.raw).digest('hex')}`);
  });

  it('keeps deliveries while the receiver is down and sends them when it is back; enqueue never blocks', async () => {
    const rx = new Receiver();
    receivers.push(rx);
    await rx.start();
    const port = rx.port;
    await rx.stop();
    const s = sink(port);
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) s.enqueue({ id: `q${i}`, type: 'alert', body: {} });
    expect(performance.now() - t0).toBeLessThan(50);
    await waitFor(() => s.stats.failures >= 3, { what: 'failed attempts while down' });
    expect(rx.got).toEqual([]);
    await rx.start(port);
    await waitFor(() => rx.got.length === 100, { what: 'backlog delivered', timeoutMs: 10_000 });
    expect(rx.got.map((g) => g.id)).toEqual(Array.from({ length: 100 }, (_, i) => `q${i}`));
  });

  it('a full queue drops the oldest and counts it', async () => {
    const rx = new Receiver();
    receivers.push(rx);
    await rx.start();
    const port = rx.port;
    await rx.stop();
    const s = sink(port, { maxQueue: 10 });
    for (let i = 0; i < 25; i++) s.enqueue({ id: `o${i}`, type: 'alert', body: {} });
    expect(s.stats.dropped).toBe(15);
    expect(s.depth).toBe(10);
    await rx.start(port);
    await waitFor(() => rx.got.some((g) => g.id === 'o24'), { what: 'remaining deliveries', timeoutMs: 10_000 });
    // The head in flight when the queue overflowed may still be delivered once; the newest ten always are.
    expect(rx.got.slice(-10).map((g) => g.id)).toEqual(Array.from({ length: 10 }, (_, i) => `o${i + 15}`));
  });
});

describe('alert outputs', () => {
  function alert(seq: number, code: string, user: string): AuditEvent {
    const d = draft(seq, { action: 'alert', actor: { ...draft(0).actor, db_user: user }, object: { schema: 'clinic', table: 'patients', key: null }, detail: { code, message: 'm' }, changes: null });
    return { ...d, seq, recorded_at: d.time, prev: '0'.repeat(64), hash: '1'.repeat(64) };
  }

  it('delivers alerts only, suppresses repeats within repeat_after, and counts them', async () => {
    const rx = new Receiver();
    receivers.push(rx);
    await rx.start();
    const out = new AlertOutputs({ logger: silentLogger(), webhook: sink(rx.port), repeatAfterMs: 60_000 });
    const change = alert(1, 'x', 'alice');
    out.deliver([{ ...change, action: 'insert' }, alert(2, 'bulk_access', 'alice'), alert(3, 'bulk_access', 'alice'), alert(4, 'bulk_access', 'bob')], 1_000);
    out.deliver([alert(5, 'bulk_access', 'alice')], 1_000 + 61_000);
    await waitFor(() => rx.got.length === 3, { what: 'three deliveries' });
    expect(out.stats.suppressed).toBe(1);
    const last = JSON.parse(rx.got[2]!.raw) as { alert: { seq: number; repeats_suppressed?: number } };
    expect(last.alert.seq).toBe(5);
    expect(last.alert.repeats_suppressed).toBe(1);
  });
});
