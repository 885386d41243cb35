/**
 * One hash chain backed by segment files, implementing core `Chain`.
 *
 * Group commit: `append` only queues; one runner at a time takes everything
 * queued, builds the lines (seq, prev, hash, recorded_at), writes them with
 * one write and one fdatasync, then resolves every caller in the group. The
 * checkpoint of each `append` is written right after its own events in the
 * same write, so events and checkpoint become durable together or not at all.
 *
 * After a failed write the file may end in a partial batch, so the chain
 * refuses further appends; reopening the store repairs the torn tail.
 */
import { canonicalJson } from '../core/canonical.js';
import { DbwitnessError } from '../core/errors.js';
import type { AuditEvent, DraftEvent, Source } from '../core/event.js';
import { nowMicros } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import type { Chain, ChainHead, ChainTail, StoredCheckpoint } from '../core/ports.js';
import { appendEventLine, buildEvent } from './event-line.js';
import { LineBatch } from './line-batch.js';
import { DedupeWindow } from './dedupe-window.js';
import { encryptLine } from './encryption.js';
import { headSigningPayload, type CheckpointRecord, type HeadRecord, type SegmentRecord } from './records.js';
import type { RecoveredChain, TornTailRepair } from './recovery.js';
import { SegmentFile, type WriteStats } from './segment-file.js';
import { sealSegment } from './rotation.js';
import { signText, type SigningKey } from './keys.js';
import type { ChainLock } from './chain-lock.js';
import { sha256Hex } from './sha256.js';

export interface ChainSettings {
  readonly chainDir: string;
  readonly signingKey: SigningKey | null;
  readonly encryptionKey: Buffer | undefined;
  readonly segmentMaxBytes: number;
  readonly segmentMaxAgeMs: number;
  readonly groupCommitMaxDelayMs: number;
  readonly dedupeWindow: number;
  readonly logger: Logger;
}

/** The state of the chain after a request: assigned at build time, made current when durable. */
interface ChainState {
  readonly head: ChainHead;
  readonly checkpoint: StoredCheckpoint | null;
  readonly tail: ChainTail | null;
}

type Request =
  | { kind: 'append'; data: Buffer; events: readonly AuditEvent[]; after: ChainState; resolve: (e: readonly AuditEvent[]) => void; reject: (e: unknown) => void }
  | { kind: 'rotate'; resolve: (e: readonly AuditEvent[]) => void; reject: (e: unknown) => void };

export class FileChain implements Chain {
  readonly source: Source;
  readonly repair: TornTailRepair | null;
  readonly stats: WriteStats = { fsyncs: 0, writes: 0, events: 0, bytes: 0 };
  readonly #s: ChainSettings;
  readonly #window: DedupeWindow;
  readonly #batch = new LineBatch();
  /** Durable state (what head()/checkpoint()/tail() report). */
  #durable: ChainState;
  /** State after every accepted append, durable or still queued: the next event links to this head. */
  #assigned: ChainState;
  #segment: SegmentFile | null;
  #nextSegment: number;
  #queue: Request[] = [];
  #running = false;
  #failed: unknown = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  #idle: Promise<void> = Promise.resolve();
  #idleResolve: (() => void) | null = null;
  readonly #timer: NodeJS.Timeout | null;

  readonly #lock: ChainLock;

  constructor(source: Source, recovered: RecoveredChain, segment: SegmentFile | null, settings: ChainSettings, lock: ChainLock) {
    this.#lock = lock;
    this.source = source;
    this.#s = settings;
    this.repair = recovered.repair;
    this.#durable = { head: recovered.head, checkpoint: recovered.checkpoint, tail: recovered.tail };
    this.#assigned = this.#durable;
    this.#segment = segment;
    this.#nextSegment = recovered.nextSegment;
    this.#window = new DedupeWindow(settings.dedupeWindow);
    for (const id of recovered.recentIds) this.#window.add(id);
    // Age rotation must also happen on an idle chain, so a quiet source's
    // events still get sealed within segmentMaxAgeMs.
    if (Number.isFinite(settings.segmentMaxAgeMs)) {
      const every = Math.max(50, Math.min(settings.segmentMaxAgeMs / 4, 60_000));
      this.#timer = setInterval(() => this.#maybeRotateByAge(), every);
      this.#timer.unref();
    } else {
      this.#timer = null;
    }
  }

  head(): ChainHead {
    return this.#durable.head;
  }

  checkpoint(): StoredCheckpoint | null {
    return this.#durable.checkpoint;
  }

  tail(): ChainTail | null {
    return this.#durable.tail;
  }

  /**
   * Builds the lines right away (seq, prev, hash, dedupe, encryption) in call
   * order, so that this CPU work overlaps the fsync of the group in flight;
   * only the write and fsync wait for the group commit.
   */
  append(drafts: readonly DraftEvent[], checkpoint?: string): Promise<readonly AuditEvent[]> {
    if (this.#closed) return Promise.reject(new DbwitnessError('E_STORE_CLOSED', `the chain of ${this.source.id} is closed`, 'open the store again'));
    if (this.#failed !== null) return Promise.reject(this.#failedError());
    let built: { data: Buffer; events: AuditEvent[]; after: ChainState };
    try {
      built = this.#build(drafts, checkpoint);
    } catch (e) {
      return Promise.reject(e); // a bad draft rejects its own append only; nothing was assigned
    }
    if (built.data.length === 0) {
      // Nothing new (a replay, or a repeated checkpoint): durable once everything queued before it is.
      return this.#queue.length === 0 && !this.#running ? Promise.resolve(built.events) : this.#enqueue(built);
    }
    return this.#enqueue(built);
  }

  #enqueue(built: { data: Buffer; events: AuditEvent[]; after: ChainState }): Promise<readonly AuditEvent[]> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ kind: 'append', ...built, resolve, reject });
      this.#kick();
    });
  }

  #build(drafts: readonly DraftEvent[], checkpoint: string | undefined): { data: Buffer; events: AuditEvent[]; after: ChainState } {
    const recordedAt = nowMicros();
    const enc = this.#s.encryptionKey;
    const batch = this.#batch;
    batch.reset();
    const events: AuditEvent[] = [];
    const ids = new Set<string>();
    let { head, checkpoint: cp, tail } = this.#assigned;
    let seq = head.seq;
    let hash = head.hash;
    let last: DraftEvent | null = null;
    for (const d of drafts) {
      if (this.#window.has(d.id) || ids.has(d.id)) continue;
      let event: AuditEvent;
      if (enc === undefined) {
        event = appendEventLine(batch, d, seq + 1, recordedAt, hash);
      } else {
        const b = buildEvent(d, seq + 1, recordedAt, hash);
        batch.appendLine(encryptLine(enc, b.line));
        event = b.event;
      }
      events.push(event);
      ids.add(d.id);
      seq++;
      hash = event.hash;
      last = d;
    }
    if (last !== null) {
      head = { seq, hash };
      tail = { position: last.position, txId: last.tx?.id ?? null, txIndex: last.tx?.index ?? null };
    }
    if (checkpoint !== undefined && !(cp?.checkpoint === checkpoint && cp.seq === head.seq)) {
      const rec: CheckpointRecord = { '@': 'checkpoint', at: recordedAt, checkpoint, hash: head.hash, seq: head.seq };
      const plain = canonicalJson(rec);
      batch.appendLine(enc === undefined ? plain : encryptLine(enc, plain));
      cp = { checkpoint, seq: head.seq, at: recordedAt };
      tail = null;
    }
    for (const id of ids) this.#window.add(id);
    this.#assigned = { head, checkpoint: cp, tail };
    return { data: batch.bytes(), events, after: this.#assigned };
  }

  /** Seals the open segment now (if it holds events) and starts a new one on the next write. */
  rotate(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ kind: 'rotate', resolve: () => resolve(), reject });
      this.#kick();
    });
  }

  /** True once `close` was called (the store may then open the chain again). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Idempotent: every caller waits for the same close, including the lock release. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.#idle;
    await this.#segment?.close();
    this.#segment = null;
    await this.#lock.release();
  }

  #maybeRotateByAge(): void {
    const seg = this.#segment;
    if (this.#closed || this.#running || seg === null || seg.count === 0) return;
    if (Date.now() - seg.createdAtMs >= this.#s.segmentMaxAgeMs) void this.rotate().catch(() => undefined);
  }

  #kick(): void {
    if (this.#running) return;
    this.#running = true;
    this.#idle = new Promise((r) => (this.#idleResolve = r));
    // Start on a microtask so appends issued in the same tick share the first group.
    queueMicrotask(() => void this.#run());
  }

  async #run(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        if (this.#s.groupCommitMaxDelayMs > 0) await new Promise((r) => setTimeout(r, this.#s.groupCommitMaxDelayMs));
        const group = this.#queue.splice(0);
        if (this.#failed !== null) {
          for (const r of group) r.reject(this.#failedError());
          continue;
        }
        try {
          const results = await this.#commit(group);
          group.forEach((r, i) => r.resolve(results[i] ?? []));
        } catch (e) {
          this.#failed = e;
          this.#s.logger.error({ source: this.source.id, err: e instanceof Error ? e.message : String(e) }, 'store write failed; chain stopped until reopened');
          for (const r of group) r.reject(e);
        }
      }
    } finally {
      this.#running = false;
      this.#idleResolve?.();
    }
  }

  #failedError(): DbwitnessError {
    const why = this.#failed instanceof Error ? this.#failed.message : String(this.#failed);
    return new DbwitnessError('E_STORE_FAILED', `an earlier write to the chain of ${this.source.id} failed (${why})`, 'fix the cause (disk space, permissions) and restart; the store repairs a partial write on open');
  }

  async #commit(group: Request[]): Promise<(readonly AuditEvent[])[]> {
    const seg0 = this.#segment;
    if (seg0 !== null && seg0.count > 0 && Date.now() - seg0.createdAtMs >= this.#s.segmentMaxAgeMs) await this.#rotateNow();
    const buffers: Buffer[] = [];
    const results: (readonly AuditEvent[])[] = [];
    let after: ChainState | null = null;
    let newEvents = 0;
    let rotate = false;
    for (const req of group) {
      if (req.kind === 'rotate') {
        rotate = true;
        results.push([]);
        continue;
      }
      if (req.data.length > 0) buffers.push(req.data);
      newEvents += req.events.length;
      after = req.after;
      results.push(req.events);
    }
    if (after !== null && buffers.length > 0) {
      const seg = this.#segment ?? (await this.#createSegment());
      const key = this.#s.signingKey;
      if (key !== null) {
        const at = nowMicros();
        const sig = signText(key.privateKey, headSigningPayload(this.source.id, after.head.seq, after.head.hash, at, after.checkpoint, seg.recordSha256));
        const rec: HeadRecord = { '@': 'head', at, hash: after.head.hash, key_id: key.keyId, seq: after.head.seq, sig };
        const enc = this.#s.encryptionKey;
        const plain = canonicalJson(rec);
        buffers.push(Buffer.from((enc === undefined ? plain : encryptLine(enc, plain)) + '\n', 'utf8'));
      }
      await seg.append(buffers, this.stats);
      // Durable: only now does the reported state move.
      this.stats.events += newEvents;
      if (newEvents > 0) seg.firstSeq ??= this.#durable.head.seq + 1;
      seg.count += newEvents;
      this.#durable = after;
      if (seg.size >= this.#s.segmentMaxBytes) rotate = true;
    } else if (after !== null) {
      this.#durable = after;
    }
    if (rotate && this.#segment !== null && (this.#segment.count > 0 || this.#segment.size >= this.#s.segmentMaxBytes)) await this.#rotateNow();
    return results;
  }

  async #createSegment(): Promise<SegmentFile> {
    const now = Date.now();
    const rec: SegmentRecord = {
      '@': 'segment',
      v: 1,
      source: this.source,
      segment: this.#nextSegment,
      created_at: nowMicros(),
      head: this.#durable.head,
      checkpoint: this.#durable.checkpoint,
      tail: this.#durable.tail,
    };
    const plain = canonicalJson(rec);
    const enc = this.#s.encryptionKey;
    const seg = await SegmentFile.create(this.#s.chainDir, this.#nextSegment, enc === undefined ? plain : encryptLine(enc, plain), sha256Hex(plain), now, this.#durable.head);
    this.#nextSegment++;
    this.#segment = seg;
    return seg;
  }

  async #rotateNow(): Promise<void> {
    const seg = this.#segment;
    if (seg === null) return;
    await sealSegment(this.#s.chainDir, this.source.id, seg, this.#durable.head, this.#s.signingKey);
    await seg.close();
    this.#segment = null;
    this.#s.logger.info({ source: this.source.id, segment: seg.number, lastSeq: this.#durable.head.seq }, 'segment sealed');
  }
}
