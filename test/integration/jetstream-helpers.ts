/**
 * Shared checks of the JetStream tests: the archive's chains verify (seq
 * 1..n, prev links, hash of every event), and every expected row is in it
 * exactly once.
 */
import { eventHash } from '../../src/core/canonical.js';
import { GENESIS_HASH, type AuditEvent } from '../../src/core/event.js';
import { readEvents } from '../../src/store/index.js';
import { applyNatsSetup, NatsSetupConfig } from '../../src/jetstream/index.js';
import { Writable } from 'node:stream';
import { createLogger, silentLogger, type Logger } from '../../src/core/logger.js';

export async function readChain(dir: string, sourceId: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  try {
    for await (const ref of readEvents(dir, { sources: [sourceId] })) out.push(ref.event);
  } catch (e) {
    if ((e as { code?: string }).code === 'E_STORE_MISSING') return [];
    throw e;
  }
  return out;
}

/** Throws on the first break of the hash chain. */
export function assertChainValid(events: readonly AuditEvent[]): void {
  let prev = GENESIS_HASH;
  events.forEach((e, i) => {
    if (e.seq !== i + 1) throw new Error(`seq ${e.seq} at position ${i + 1}`);
    if (e.prev !== prev) throw new Error(`prev of seq ${e.seq} does not link`);
    if (eventHash(e) !== e.hash) throw new Error(`hash of seq ${e.seq} does not match its content`);
    prev = e.hash;
  });
}

/** Row keys (`n-i`) of the change events, with how often each occurs. */
export function keyCounts(events: readonly AuditEvent[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of events) {
    if (e.action !== 'insert') continue;
    const k = String(e.object?.key?.id);
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

/** Keys of transactions 1..transactions that are missing or duplicated. */
export function exactlyOnceProblems(events: readonly AuditEvent[], transactions: number, changesPerTx: number): string[] {
  const counts = keyCounts(events);
  const problems: string[] = [];
  for (let n = 1; n <= transactions; n++) {
    for (let i = 0; i < changesPerTx; i++) {
      const c = counts.get(`${n}-${i}`) ?? 0;
      if (c !== 1) problems.push(`${n}-${i} x${c}`);
    }
  }
  if (counts.size !== transactions * changesPerTx) problems.push(`${counts.size} distinct keys, expected ${transactions * changesPerTx}`);
  return problems;
}

export const TEST_LEASE_TTL = '3s';

export async function setupNats(url: string, extra: Record<string, unknown> = {}): Promise<NatsSetupConfig> {
  // max_bytes is reserved up front by the server: keep it small so many test streams fit on one disk.
  const config = NatsSetupConfig.parse({ servers: url, replicas: 1, lease_ttl: TEST_LEASE_TTL, ack_wait: '30s', max_bytes: 256 * 1024 * 1024, ...extra });
  await applyNatsSetup(config, { logger: silentLogger() });
  return config;
}

/** A logger whose lines land in `lines`, to see the edge retrying (never row values: the edge logs counts only). JS_TEST_DEBUG=1 echoes them. */
export function capturingLogger(lines: string[]): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      if (process.env['JS_TEST_DEBUG']) process.stderr.write(chunk);
      done();
    },
  });
  return createLogger('warn', sink);
}
