/**
 * Pipeline rules, with a scripted source and a recording chain: the real
 * store and real servers are exercised by the integration suites; here we
 * pin down ordering (acknowledge after append), batching, spilling, replay
 * skipping and unattributed alerts precisely.
 */
import { describe, expect, it } from 'vitest';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENESIS_HASH, type AuditEvent, type DraftEvent, type Source } from '../../src/core/event.js';
import type { Chain, ChainTail, ChangeSource, RowChange, SessionIdentity, SourceMessage, StoredCheckpoint } from '../../src/core/ports.js';
import { silentLogger } from '../../src/core/logger.js';
import { runPipeline } from '../../src/pipeline/index.js';
import { waitFor } from '../harness/index.js';

const SOURCE: Source = { id: 'test', engine: 'postgres', server: 'localhost:5432', database: 'clinic' };
const ALICE: SessionIdentity = { db_user: 'alice', role: 'alice', app_user: 'dr-a', client_addr: '127.0.0.1', client_port: 5000, application: 'ehr', session_id: 'abc.1' };

function row(i: number): RowChange {
  return { action: 'insert', schema: 'clinic', table: 'patients', key: { id: String(i) }, before: null, after: { id: String(i), name: `p${i}` }, columns: ['id', 'name'], statement: null, detail: null };
}

function tx(n: number, rows: number, identity: SessionIdentity | null = ALICE): SourceMessage[] {
  const msgs: SourceMessage[] = [{ kind: 'begin', txId: String(n) }];
  if (identity) msgs.push({ kind: 'identity', identity });
  for (let i = 0; i < rows; i++) msgs.push({ kind: 'change', change: row(n * 1_000_000 + i) });
  msgs.push({ kind: 'commit', position: `0/${n}`, checkpoint: `cp${n}`, commitTime: '2026-11-26T10:00:00.123456Z' });
  return msgs;
}

/**
 * A chain that refuses the appends `refuse` picks at once, as FileChain
 * refuses a draft it cannot serialize (a rejected promise, nothing
 * assigned), and passes the others to `inner`; `calls` records every append.
 */
function refusingChain(inner: Chain, refuse: (n: number, checkpoint: string | undefined) => boolean): { chain: Chain; calls: Array<{ events: number; checkpoint: string | undefined }> } {
  const calls: Array<{ events: number; checkpoint: string | undefined }> = [];
  const chain: Chain = {
    source: SOURCE,
    head: () => inner.head(),
    checkpoint: () => inner.checkpoint(),
    tail: () => inner.tail(),
    append: (drafts, cp) => {
      calls.push({ events: drafts.length, checkpoint: cp });
      return refuse(calls.length, cp) ? Promise.reject(new Error('bad draft')) : inner.append(drafts, cp);
    },
    close: async () => undefined,
  };
  return { chain, calls };
}

type Log = Array<{ kind: 'append'; ids: string[]; checkpoint: string | undefined } | { kind: 'ack'; checkpoint: string }>;

class RecordingChain implements Chain {
  readonly source = SOURCE;
  readonly stored: AuditEvent[] = [];
  #cp: StoredCheckpoint | null = null;
  #tail: ChainTail | null;
  constructor(readonly log: Log, tail: ChainTail | null = null) {
    this.#tail = tail;
  }
  head() {
    return { seq: this.stored.length, hash: GENESIS_HASH };
  }
  checkpoint() {
    return this.#cp;
  }
  tail() {
    return this.#tail;
  }
  async append(drafts: readonly DraftEvent[], checkpoint?: string) {
    await new Promise((r) => setImmediate(r));
    const out = drafts.map((d, i) => ({ ...d, seq: this.stored.length + i + 1, recorded_at: d.time, prev: GENESIS_HASH, hash: GENESIS_HASH }));
    this.stored.push(...out);
    if (checkpoint !== undefined) this.#cp = { checkpoint, seq: this.stored.length, at: '' };
    this.log.push({ kind: 'append', ids: out.map((e) => e.id), checkpoint });
    return out;
  }
  async close() {}
}

function scripted(messages: SourceMessage[], log: Log, opts: { pauseAt?: number } = {}): ChangeSource & { started: string | null } {
  const src = {
    source: SOURCE,
    started: null as string | null,
    async *messages(checkpoint: string | null, signal: AbortSignal) {
      src.started = checkpoint;
      for (let i = 0; i < messages.length; i++) {
        if (signal.aborted) return;
        // Simulate network arrival: some messages arrive later than others.
        if (opts.pauseAt !== undefined && i === opts.pauseAt) await new Promise((r) => setTimeout(r, 5));
        yield messages[i]!;
      }
    },
    async acknowledge(checkpoint: string) {
      log.push({ kind: 'ack', checkpoint });
    },
    async close() {},
  };
  return src;
}

/** A source that sends `messages` and then nothing at all, as an idle server does, until stopped. */
function thenQuiet(messages: SourceMessage[], log: Log): ChangeSource {
  return {
    source: SOURCE,
    async *messages(_cp: string | null, signal: AbortSignal) {
      yield* messages;
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    },
    async acknowledge(checkpoint: string) {
      log.push({ kind: 'ack', checkpoint });
    },
    async close() {},
  };
}

/** A chain whose appends resolve or fail only when the test says so, to observe overlapping appends. */
class GatedChain implements Chain {
  readonly source = SOURCE;
  readonly calls: Array<{ checkpoint: string | undefined; settle: (error?: Error) => void }> = [];
  maxOutstanding = 0;
  #outstanding = 0;
  #seq = 0;
  head() {
    return { seq: this.#seq, hash: GENESIS_HASH };
  }
  checkpoint() {
    return null;
  }
  tail() {
    return null;
  }
  append(drafts: readonly DraftEvent[], checkpoint?: string): Promise<readonly AuditEvent[]> {
    const out = drafts.map((d) => ({ ...d, seq: ++this.#seq, recorded_at: d.time, prev: GENESIS_HASH, hash: GENESIS_HASH }));
    this.maxOutstanding = Math.max(this.maxOutstanding, ++this.#outstanding);
    let settled = false;
    return new Promise((resolve, reject) =>
      this.calls.push({
        checkpoint,
        settle: (error) => {
          if (settled) return;
          settled = true;
          this.#outstanding--;
          if (error) reject(error);
          else resolve(out);
        },
      }),
    );
  }
  async close() {}
}

/** Settles every append (those issued later too) until `checkpoint` is acknowledged; acknowledgements follow the appends' order. */
async function settleThrough(chain: GatedChain, log: Log, checkpoint: string): Promise<void> {
  await waitFor(() => {
    for (const c of chain.calls) c.settle();
    return log.some((e) => e.checkpoint === checkpoint);
  });
  expect(log.map((e) => e.checkpoint)).toEqual(chain.calls.map((c) => c.checkpoint).filter((c) => c !== undefined));
}

const run = (source: ChangeSource, chain: Chain, extra: Partial<Parameters<typeof runPipeline>[0]> = {}) =>
  runPipeline({ source, chain, logger: silentLogger(), signal: new AbortController().signal, ...extra });

describe('pipeline', () => {
  it('acknowledges a checkpoint only after the append that carries it', async () => {
    const log: Log = [];
    const chain = new RecordingChain(log);
    await run(scripted([...tx(1, 2), ...tx(2, 3)], log, { pauseAt: 4 }), chain);
    expect(chain.stored.map((e) => e.tx)).toEqual([
      { id: '1', index: 0, count: 2 },
      { id: '1', index: 1, count: 2 },
      { id: '2', index: 0, count: 3 },
      { id: '2', index: 1, count: 3 },
      { id: '2', index: 2, count: 3 },
    ]);
    for (const [i, entry] of log.entries()) {
      if (entry.kind !== 'ack') continue;
      const appendIdx = log.findIndex((e) => e.kind === 'append' && e.checkpoint === entry.checkpoint);
      expect(appendIdx).toBeGreaterThanOrEqual(0);
      expect(appendIdx).toBeLessThan(i);
    }
    expect(log.filter((e) => e.kind === 'ack').map((e) => e.checkpoint)).toContain('cp2');
  });

  it('reads a source that offers batches group by group, with the same events and acknowledgements as one by one', async () => {
    const msgs = [...tx(1, 2), ...tx(2, 3), ...tx(3, 1)];
    const singleLog: Log = [];
    const single = new RecordingChain(singleLog);
    await run(scripted(msgs, singleLog), single);
    const batchLog: Log = [];
    const batched = new RecordingChain(batchLog);
    let groups = 0;
    const src: ChangeSource = {
      source: SOURCE,
      async *messages() {
        throw new Error('the pipeline must use batches when the source offers them');
      },
      async *batches() {
        // Group boundaries fall inside transactions, as socket reads do.
        for (let i = 0; i < msgs.length; i += 4) {
          groups++;
          yield msgs.slice(i, i + 4);
        }
      },
      async acknowledge(checkpoint: string) {
        batchLog.push({ kind: 'ack', checkpoint });
      },
      async close() {},
    };
    await run(src, batched);
    expect(groups).toBeGreaterThan(1);
    expect(batched.stored.map((e) => [e.id, e.tx])).toEqual(single.stored.map((e) => [e.id, e.tx]));
    expect(batchLog.filter((e) => e.kind === 'ack').at(-1)).toEqual({ kind: 'ack', checkpoint: 'cp3' });
  });

  it('batches transactions that are ready into one append', async () => {
    const log: Log = [];
    const chain = new RecordingChain(log);
    const msgs = Array.from({ length: 50 }, (_, i) => tx(i + 1, 2)).flat();
    await run(scripted(msgs, log), chain, { batchMaxEvents: 1000 });
    const appends = log.filter((e) => e.kind === 'append');
    expect(chain.stored).toHaveLength(100);
    expect(appends.length).toBeLessThan(5);
  });

  it("cuts batches at the chain's preferred size unless told otherwise (128 without one)", async () => {
    const msgs = Array.from({ length: 150 }, (_, i) => tx(i + 1, 2)).flat();
    const sizes = async (chain: RecordingChain, extra = {}): Promise<number[]> => {
      await run(scripted(msgs, chain.log), chain, extra);
      return chain.log.filter((e) => e.kind === 'append').map((e) => (e.kind === 'append' ? e.ids.length : 0));
    };
    const plain = await sizes(new RecordingChain([]));
    expect(Math.max(...plain)).toBeLessThanOrEqual(128 + 1); // a transaction's events are cut only at a full batch
    expect(plain.reduce((a, b) => a + b, 0)).toBe(300);
    const prefers = Object.assign(new RecordingChain([]), { preferredBatchEvents: 10 });
    expect(Math.max(...(await sizes(prefers)))).toBeLessThanOrEqual(10);
    const told = Object.assign(new RecordingChain([]), { preferredBatchEvents: 10 });
    expect(Math.max(...(await sizes(told, { batchMaxEvents: 1000 })))).toBeGreaterThan(10);
  });

  it('attaches the identity in force and alerts on changes without one', async () => {
    const log: Log = [];
    const chain = new RecordingChain(log);
    const bob: SessionIdentity = { ...ALICE, db_user: 'bob', role: 'billing' };
    const msgs: SourceMessage[] = [
      { kind: 'begin', txId: '7' },
      { kind: 'change', change: row(1) },
      { kind: 'identity', identity: ALICE },
      { kind: 'change', change: row(2) },
      { kind: 'identity', identity: bob },
      { kind: 'change', change: row(3) },
      { kind: 'commit', position: '0/7', checkpoint: 'cp7', commitTime: '2026-11-26T10:00:00.000001Z' },
    ];
    await run(scripted(msgs, log), chain);
    const [e1, e2, e3, alert] = chain.stored;
    expect(e1!.actor.identity).toBe('unattributed');
    expect(e2!.actor).toMatchObject({ db_user: 'alice', identity: 'verified' });
    expect(e3!.actor).toMatchObject({ db_user: 'bob', role: 'billing', identity: 'verified' });
    expect(alert!.action).toBe('alert');
    expect(alert!.detail).toMatchObject({ code: 'unattributed_change', tx_id: '7', changes: '1', tables: 'clinic.patients' });
    expect(chain.stored).toHaveLength(4);
  });

  it('keeps the identity in force for every spilled change, including changes before the first identity and after a SET ROLE', async () => {
    const log: Log = [];
    const chain = new RecordingChain(log);
    const bob: SessionIdentity = { ...ALICE, db_user: 'bob', role: 'billing', client_port: null };
    const msgs: SourceMessage[] = [{ kind: 'begin', txId: '7' }];
    // 3 changes without an identity, 4 as alice, 3 as bob: the memory limit of 2 spills all but the first two.
    for (let i = 0; i < 10; i++) {
      if (i === 3) msgs.push({ kind: 'identity', identity: ALICE });
      if (i === 7) msgs.push({ kind: 'identity', identity: bob });
      const change = row(i);
      msgs.push({ kind: 'change', change: { ...change, after: { ...change.after, name: `p${i} "quoted" \u00e9 \n` } } });
    }
    msgs.push({ kind: 'commit', position: '0/7', checkpoint: 'cp7', commitTime: '2026-11-26T10:00:00.123456Z' });
    await run(scripted(msgs, log), chain, { txMemoryLimit: 2, spillDir: await mkdtemp(join(tmpdir(), 'dbw-spill-id-')) });
    const changes = chain.stored.filter((e) => e.action === 'insert');
    expect(changes.map((e) => e.actor.db_user)).toEqual([null, null, null, 'alice', 'alice', 'alice', 'alice', 'bob', 'bob', 'bob']);
    expect(changes.map((e) => e.actor.identity)).toEqual([...Array(3).fill('unattributed'), ...Array(7).fill('verified')]);
    expect(changes[8]!.actor).toMatchObject({ role: 'billing', client_port: null });
    // Changes read back from the spill share their identity's actor, as in memory.
    expect(changes[8]!.actor).toBe(changes[9]!.actor);
    expect(changes.map((e) => e.changes!.after!['name'])).toEqual(Array.from({ length: 10 }, (_, i) => `p${i} "quoted" \u00e9 \n`));
    expect(chain.stored.filter((e) => e.action === 'alert')).toHaveLength(1); // the three unattributed changes
  });

  it('spills a large transaction to disk and removes the spill file', async () => {
    const log: Log = [];
    const chain = new RecordingChain(log);
    const spillDir = await mkdtemp(join(tmpdir(), 'dbw-spill-test-'));
    await run(scripted(tx(1, 2500), log), chain, { txMemoryLimit: 100, batchMaxEvents: 1000, spillDir });
    expect(chain.stored).toHaveLength(2500);
    expect(chain.stored.map((e) => e.tx!.index)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(chain.stored.every((e) => e.tx!.count === 2500)).toBe(true);
    // Parts without checkpoint, the last with it, then the acknowledgement.
    const appends = log.filter((e) => e.kind === 'append');
    expect(appends.slice(0, -1).every((a) => a.kind === 'append' && a.checkpoint === undefined)).toBe(true);
    expect(appends.at(-1)).toMatchObject({ checkpoint: 'cp1' });
    expect(log.at(-1)).toEqual({ kind: 'ack', checkpoint: 'cp1' });
    expect(await readdir(spillDir)).toEqual([]);
  });

  it('writes the checkpoint right after the events it covers when a later transaction is cut into parts', async () => {
    const log: Log = [];
    const chain = new RecordingChain(log);
    await run(scripted([...tx(1, 3), ...tx(2, 25)], log), chain, { batchMaxEvents: 10 });
    const first = log.find((e) => e.kind === 'append' && e.checkpoint === 'cp1');
    expect(first).toBeDefined();
    expect(first!.kind === 'append' && first!.ids.length).toBe(3);
  });

  it('skips the stored part of a transaction cut by a crash', async () => {
    const log: Log = [];
    const chain = new RecordingChain(log, { position: '0/2', txId: '2', txIndex: 5 });
    await run(scripted(tx(2, 10), log), chain);
    expect(chain.stored.map((e) => e.tx!.index)).toEqual([6, 7, 8, 9]);
  });

  it('produces the same ids on replay', async () => {
    const a = new RecordingChain([]);
    const b = new RecordingChain([]);
    await run(scripted(tx(3, 4), []), a);
    await run(scripted(tx(3, 4), []), b);
    expect(a.stored.map((e) => e.id)).toEqual(b.stored.map((e) => e.id));
    expect(new Set(a.stored.map((e) => e.id)).size).toBe(4);
  });

  it('on abort stores complete transactions and drops the open one', async () => {
    const log: Log = [];
    const chain = new RecordingChain(log);
    const controller = new AbortController();
    const source: ChangeSource = {
      source: SOURCE,
      async *messages() {
        yield* tx(1, 2);
        yield { kind: 'begin', txId: '2' } as SourceMessage;
        yield { kind: 'change', change: row(9) } as SourceMessage;
        controller.abort();
      },
      async acknowledge(checkpoint) {
        log.push({ kind: 'ack', checkpoint });
      },
      async close() {},
    };
    await runPipeline({ source, chain, logger: silentLogger(), signal: controller.signal });
    expect(chain.stored).toHaveLength(2);
    expect(log.at(-1)).toEqual({ kind: 'ack', checkpoint: 'cp1' });
  });

  it('stores idle progress as a checkpoint without events', async () => {
    const log: Log = [];
    const chain = new RecordingChain(log);
    await run(scripted([{ kind: 'idle', checkpoint: 'cpIdle' }], log), chain, { idleCheckpointIntervalMs: 0 });
    expect(log).toEqual([
      { kind: 'append', ids: [], checkpoint: 'cpIdle' },
      { kind: 'ack', checkpoint: 'cpIdle' },
    ]);
  });

  it('stores the newest idle position passed over by the interval once the interval has passed, even when the source goes quiet', async () => {
    const log: Log = [];
    const chain = new RecordingChain(log);
    const controller = new AbortController();
    // cpB comes within the interval and is held back; cpC replaces it; then the source goes quiet.
    const source = thenQuiet(
      [
        { kind: 'idle', checkpoint: 'cpA' },
        { kind: 'idle', checkpoint: 'cpB' },
        { kind: 'idle', checkpoint: 'cpC' },
      ],
      log,
    );
    const running = runPipeline({ source, chain, logger: silentLogger(), signal: controller.signal, idleCheckpointIntervalMs: 200 });
    await new Promise((r) => setTimeout(r, 100));
    expect(log.filter((e) => e.kind === 'ack')).toEqual([{ kind: 'ack', checkpoint: 'cpA' }]);
    // Polled, not a fixed sleep: on a loaded machine the timer may fire late, never early.
    await waitFor(() => log.some((e) => e.kind === 'ack' && e.checkpoint === 'cpC'), { what: 'cpC stored', timeoutMs: 5000 });
    controller.abort();
    await running;
    expect(log.filter((e) => e.kind === 'ack')).toEqual([
      { kind: 'ack', checkpoint: 'cpA' },
      { kind: 'ack', checkpoint: 'cpC' },
    ]);
  });

  it('stores a held-back idle position together with a source alert that arrived after it', async () => {
    const log: Log = [];
    const chain = new RecordingChain(log);
    const controller = new AbortController();
    const source = thenQuiet(
      [
        { kind: 'idle', checkpoint: 'cpA' },
        { kind: 'idle', checkpoint: 'cpB' },
        { kind: 'alert', code: 'gap', message: 'a gap', position: '0/B', time: '2026-11-26T10:00:00.000000Z', detail: null },
      ],
      log,
    );
    const running = runPipeline({ source, chain, logger: silentLogger(), signal: controller.signal, idleCheckpointIntervalMs: 200 });
    await waitFor(() => log.some((e) => e.kind === 'ack' && e.checkpoint === 'cpB'), { what: 'cpB stored', timeoutMs: 5000 });
    controller.abort();
    await running;
    expect(log.filter((e) => e.kind === 'ack').map((e) => e.checkpoint)).toEqual(['cpA', 'cpB']);
    expect(chain.stored.map((e) => e.action)).toEqual(['alert']);
  });

  it('never stores a held-back idle position after a later commit', async () => {
    const log: Log = [];
    const chain = new RecordingChain(log);
    const msgs: SourceMessage[] = [{ kind: 'idle', checkpoint: 'cpA' }, { kind: 'idle', checkpoint: 'cpB' }, ...tx(1, 1)];
    await run(scripted(msgs, log), chain, { idleCheckpointIntervalMs: 60_000 });
    expect(log.filter((e) => e.kind === 'ack').map((e) => e.checkpoint)).toEqual(['cpA', 'cp1']);
  });

  it('starts from the stored checkpoint', async () => {
    const log: Log = [];
    const chain = new RecordingChain(log);
    await chain.append([], 'cp41');
    const src = scripted(tx(42, 1), log);
    await run(src, chain);
    expect(src.started).toBe('cp41');
  });

  it('builds the next batch while an append is in flight and acknowledges in order, only after each is durable', async () => {
    const log: Log = [];
    const chain = new GatedChain();
    const msgs = Array.from({ length: 6 }, (_, i) => tx(i + 1, 1)).flat();
    const stop = new AbortController();
    const done = run(thenQuiet(msgs, log), chain, { batchMaxEvents: 2, maxOutstandingEvents: 2, signal: stop.signal });
    // More appends are issued while the first is still outstanding.
    await waitFor(() => chain.calls.length >= 2);
    await new Promise((r) => setTimeout(r, 20));
    const issued = chain.calls.length;
    for (const c of chain.calls.slice(1)) c.settle();
    await new Promise((r) => setTimeout(r, 20));
    expect(log).toEqual([]); // later appends are durable, but the first is not yet
    chain.calls[0]!.settle();
    await settleThrough(chain, log, 'cp6');
    expect(issued).toBeGreaterThan(1);
    // Bounded by maxOutstandingEvents: the flush that goes past it waits, so at
    // most the bound plus one batch (each possibly split around its checkpoint).
    expect(chain.maxOutstanding).toBeLessThanOrEqual(4);
    stop.abort();
    await done;
  });

  it('keeps many small appends outstanding, bounded by maxOutstandingEvents, and acknowledges them in order', async () => {
    const log: Log = [];
    const chain = new GatedChain();
    const msgs = Array.from({ length: 40 }, (_, i) => tx(i + 1, 1)).flat();
    const stop = new AbortController();
    const done = run(thenQuiet(msgs, log), chain, { batchMaxEvents: 2, maxOutstandingEvents: 8, signal: stop.signal });
    // Nothing settles: the pipeline issues appends until the bound, then waits.
    await waitFor(() => chain.calls.length >= 4);
    await new Promise((r) => setTimeout(r, 50));
    const issued = chain.calls.length;
    expect(issued).toBeGreaterThan(2); // more than the two batches the old rule allowed
    // Every append holds at least one event: the bound, plus the batch that went past it (split around its checkpoint).
    expect(chain.maxOutstanding).toBeLessThanOrEqual(8 + 2);
    expect(log).toEqual([]);
    await settleThrough(chain, log, 'cp40');
    stop.abort();
    await done;
  });

  it('bounds batches and what is outstanding by weight too, so wide rows do not multiply memory', async () => {
    const log: Log = [];
    const chain = new GatedChain();
    const note = 'n'.repeat(50_000);
    const wide = (n: number): SourceMessage[] => [
      { kind: 'begin', txId: String(n) },
      { kind: 'identity', identity: ALICE },
      { kind: 'change', change: { action: 'insert', schema: 'clinic', table: 'patients', key: { id: String(n) }, before: null, after: { id: String(n), note }, columns: ['id', 'note'], statement: null, detail: null } },
      { kind: 'commit', position: `0/${n}`, checkpoint: `cp${n}`, commitTime: '2026-11-26T10:00:00.000001Z' },
    ];
    const msgs = Array.from({ length: 60 }, (_, i) => wide(i + 1)).flat();
    const stop = new AbortController();
    // Counts alone would allow 128 events per batch and 2,000 outstanding (100 MB of these rows).
    const done = run(thenQuiet(msgs, log), chain, { batchMaxWeight: 200_000, maxOutstandingWeight: 400_000, signal: stop.signal });
    await waitFor(() => chain.calls.length >= 2);
    await new Promise((r) => setTimeout(r, 50));
    // Nothing settled: ~4 rows per batch, at most the bound plus one batch outstanding.
    expect(chain.maxOutstanding).toBeLessThanOrEqual(4);
    await settleThrough(chain, log, 'cp60');
    stop.abort();
    await done;
  });

  it('issues no append after one the chain refused', async () => {
    const log: Log = [];
    const inner = new RecordingChain(log);
    // The second append is refused.
    const { chain: refusing, calls } = refusingChain(inner, (n) => n === 2);
    const msgs = Array.from({ length: 20 }, (_, i) => tx(i + 1, 1)).flat();
    await expect(run(scripted(msgs, log), refusing, { batchMaxEvents: 2 })).rejects.toThrow('bad draft');
    expect(calls).toHaveLength(2);
    expect(log.filter((e) => e.kind === 'ack').length).toBeLessThanOrEqual(1);
  });

  it('a batch split around its checkpoint appends the rest only once the first part was not refused', async () => {
    const log: Log = [];
    const inner = new RecordingChain(log);
    // The part with the checkpoint is refused.
    const { chain: refusing, calls } = refusingChain(inner, (_n, cp) => cp !== undefined);
    // One complete transaction, then a large one: the batch fills with tx 1 (covered by cp1) and the start of tx 2.
    const msgs = [...tx(1, 1), ...tx(2, 10)];
    await expect(run(scripted(msgs, log), refusing, { batchMaxEvents: 4 })).rejects.toThrow('bad draft');
    // Nothing of tx 2 may be stored ahead of the refused tx 1: it would sit in the chain before tx 1's replay.
    expect(calls).toEqual([{ events: 1, checkpoint: 'cp1' }]);
    expect(inner.stored).toEqual([]);
  });

  it('acknowledges nothing after an append that failed, even when later appends succeed', async () => {
    const log: Log = [];
    const chain = new GatedChain();
    const msgs = Array.from({ length: 4 }, (_, i) => tx(i + 1, 1)).flat();
    const done = run(thenQuiet(msgs, log), chain, { batchMaxEvents: 2 });
    await waitFor(() => chain.calls.length >= 2);
    for (const c of chain.calls.slice(1)) c.settle();
    chain.calls[0]!.settle(new Error('disk full'));
    await expect(done).rejects.toThrow('disk full');
    expect(log).toEqual([]);
  });

  it('stops with the error when an append fails while the source is idle, acknowledging nothing', async () => {
    const log: Log = [];
    const chain = new RecordingChain(log);
    const failing: Chain = {
      source: SOURCE,
      head: () => chain.head(),
      checkpoint: () => chain.checkpoint(),
      tail: () => chain.tail(),
      append: async () => {
        throw new Error('disk full');
      },
      close: async () => undefined,
    };
    // The source then sends nothing: only the failed append can end the run.
    await expect(run(thenQuiet(tx(1, 2), log), failing)).rejects.toThrow('disk full');
    expect(log.filter((e) => e.kind === 'ack')).toEqual([]);
  });
});
