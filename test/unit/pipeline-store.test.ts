/**
 * Pipeline + the real file store: a crash between the parts of a large
 * transaction, then a replay of the whole transaction by the source, leaves
 * every row stored exactly once and the chain intact.
 */
import { describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent, DraftEvent, Source } from '../../src/core/event.js';
import type { Chain, ChangeSource, SourceMessage } from '../../src/core/ports.js';
import { silentLogger } from '../../src/core/logger.js';
import { runPipeline } from '../../src/pipeline/index.js';
import { openStore, readEvents } from '../../src/store/index.js';

const SOURCE: Source = { id: 'crash', engine: 'postgres', server: 'localhost:5432', database: 'clinic' };

function bigTx(n: number, rows: number): SourceMessage[] {
  const msgs: SourceMessage[] = [{ kind: 'begin', txId: String(n) }];
  msgs.push({ kind: 'identity', identity: { db_user: 'alice', role: 'alice', app_user: null, client_addr: '127.0.0.1', client_port: 1, application: 'ehr', session_id: 's' } });
  for (let i = 0; i < rows; i++) {
    msgs.push({ kind: 'change', change: { action: 'insert', schema: 'clinic', table: 'patients', key: { id: `${n}-${i}` }, before: null, after: { id: `${n}-${i}` }, columns: ['id'], statement: null, detail: null } });
  }
  msgs.push({ kind: 'commit', position: `0/${n}`, checkpoint: `cp-${n}`, commitTime: '2026-11-26T10:00:00.000001Z' });
  return msgs;
}

/** Replays messages after the given checkpoint, as a server would. */
function replayingSource(txs: SourceMessage[][], acks: string[]): ChangeSource {
  return {
    source: SOURCE,
    async *messages(checkpoint) {
      const from = checkpoint === null ? 0 : txs.findIndex((t) => t.at(-1)!.kind === 'commit' && (t.at(-1) as { checkpoint: string }).checkpoint === checkpoint) + 1;
      for (const tx of txs.slice(from)) yield* tx;
    },
    async acknowledge(cp) {
      acks.push(cp);
    },
    async close() {},
  };
}

/** A chain that "crashes" (throws) on its Nth append, after N-1 durable appends. */
function crashingOn(chain: Chain, n: number): Chain {
  let calls = 0;
  return {
    source: chain.source,
    head: () => chain.head(),
    checkpoint: () => chain.checkpoint(),
    tail: () => chain.tail(),
    append: async (drafts: readonly DraftEvent[], cp?: string): Promise<readonly AuditEvent[]> => {
      if (++calls === n) throw new Error('simulated crash');
      return chain.append(drafts, cp);
    },
    close: () => chain.close(),
  };
}

describe('pipeline with the file store', () => {
  it('stores a transaction cut by a crash exactly once after the replay', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dbw-pipeline-store-'));
    const txs = [bigTx(1, 3), bigTx(2, 2500), bigTx(3, 4)];
    const acks: string[] = [];

    const store1 = await openStore(dir, { unsigned: true, logger: silentLogger() });
    const chain1 = await store1.openChain(SOURCE);
    // Appends: [tx1 + checkpoint], [tx2 part 1], crash on [tx2 part 2].
    await expect(
      runPipeline({ source: replayingSource(txs, acks), chain: crashingOn(chain1, 3), logger: silentLogger(), signal: new AbortController().signal, batchMaxEvents: 1000, txMemoryLimit: 100 }),
    ).rejects.toThrow('simulated crash');
    await chain1.close();
    await store1.close();
    expect(acks).toEqual(['cp-1']);

    const store2 = await openStore(dir, { unsigned: true, logger: silentLogger() });
    const chain2 = await store2.openChain(SOURCE);
    expect(chain2.checkpoint()?.checkpoint).toBe('cp-1');
    expect(chain2.tail()).toMatchObject({ position: '0/2', txId: '2' });
    await runPipeline({ source: replayingSource(txs, acks), chain: chain2, logger: silentLogger(), signal: new AbortController().signal, batchMaxEvents: 1000, txMemoryLimit: 100 });
    await chain2.close();
    await store2.close();

    const events: AuditEvent[] = [];
    for await (const ref of readEvents(dir)) events.push(ref.event);
    expect(events).toHaveLength(3 + 2500 + 4);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const tx2 = events.filter((e) => e.tx?.id === '2');
    expect(tx2.map((e) => e.tx!.index)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(acks.at(-1)).toBe('cp-3');
  });
});
