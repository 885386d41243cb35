/**
 * Turns binlog events into the SourceMessage stream of ports.ts: one
 * `begin`/`commit` pair per transaction that touched an audited table, an
 * `identity` from the session marker (MariaDB triggers) or from the
 * connection registry (thread id of MySQL 8 BEGIN / MariaDB 11.5+ GTID),
 * one `change` per row, DDL as its own transaction, and `idle` checkpoints
 * while only unaudited work (or nothing) passes.
 *
 * Pure and synchronous: the same events give the same messages, which is
 * what makes a replay after reconnect line up with what was already sent.
 */
import { GtidSet } from '@vlasky/zongji';
import type { Row } from '../../src/core/event.js';
import { isoMicros, microsToIso } from '../../src/core/ids.js';
import type { RowChange, SessionIdentity, SourceMessage } from '../../src/core/ports.js';
import type { BinlogEvent } from './binlog-events.js';
import { advanceMariaPos, encodeCheckpoint, mariaGtidText, type Checkpoint, type MariaGtid } from './binlog-checkpoint.js';
import type { ConnectionRegistry } from './connection-registry.js';
import { identityFromMarker } from './session-marker.js';
import { changeWeight } from '../../src/pipeline/change-weight.js';
import { ddlTarget } from './ddl-target.js';

export interface AssemblerOptions {
  readonly start: Checkpoint;
  /** [database, table] of the session-marker table. */
  readonly marker: readonly [string, string];
  /** [database, table] of the MySQL connection registry, if installed. */
  readonly registryTable?: readonly [string, string] | undefined;
  readonly registry?: ConnectionRegistry | undefined;
  /** The server's @@hostname: session ids are `<host>:<connection id>` (session-marker.ts sessionId). */
  readonly serverHost?: string | null | undefined;
  /** Databases whose DDL is audited (lower-cased match on schema or statement text). */
  readonly ddlDatabases: readonly string[];
  /**
   * Changes held while waiting for the transaction's marker row (the AFTER
   * trigger writes it just after the first row). Beyond this, changes flow
   * without identity so memory stays bounded.
   */
  readonly holdLimit?: number;
  /** The same bound by weight (change-weight.ts; default 1 MiB): 1,000 wide rows would be 10 MB or more. */
  readonly holdWeight?: number;
  /** Minimum milliseconds between `idle` messages for unaudited traffic. */
  readonly idleIntervalMs?: number;
  readonly now?: () => number;
}

interface OpenTx {
  readonly txId: string;
  readonly gtid: { readonly maria?: MariaGtid; readonly mysql?: string } | null;
  commitMicros: bigint | null;
  threadId: number | null;
  begun: boolean;
  identityKnown: boolean;
  held: RowChange[];
  heldWeight: number;
  statement: string | null;
  changes: number;
}

/**
 * Where a checkpoint message (commit or idle) stands in the server's binlog
 * files, and the commit times of the transactions it covers: what `lag()`
 * measures bytes and seconds from. Kept beside the message, not in it, so
 * the port's message shapes stay as they are.
 */
export interface BinlogMark {
  /** Binlog file and offset just after the last event the checkpoint covers ('' when not yet known). */
  readonly file: string;
  readonly offset: number;
  /** Commit time (ms) of the oldest transaction ended since the previous checkpoint message; null if none. */
  readonly oldestMs: number | null;
  /** Commit time (ms) of the newest transaction ended so far; null before the first. */
  readonly newestMs: number | null;
}

const marks = new WeakMap<SourceMessage, BinlogMark>();

/** The binlog position of a commit or idle message this module emitted. */
export function binlogMarkOf(m: SourceMessage): BinlogMark | undefined {
  return marks.get(m);
}

const IGNORED_QUERIES = /^(SAVEPOINT|ROLLBACK TO|RELEASE SAVEPOINT|XA START|XA END|XA PREPARE)\b/i;
const COMMIT_QUERIES = /^(COMMIT|ROLLBACK|XA COMMIT|XA ROLLBACK)\b/i;

export class TxAssembler {
  #pos: Checkpoint;
  #file = '';
  #offset = 0;
  /**
   * False from a GTID resume's artificial rotate until an event gives the
   * real offset: marks made meanwhile carry no position, because the
   * rotate's (the file's start) would read as the whole file being lag.
   */
  #offsetKnown = true;
  #tx: OpenTx | null = null;
  #lastIdleAt = 0;
  /** Commit times for marks: first transaction ended since the last checkpoint message, and the newest. */
  #sinceMs: number | null = null;
  #newestMs: number | null = null;
  readonly #o: Required<Omit<AssemblerOptions, 'registryTable' | 'registry' | 'serverHost'>> & Pick<AssemblerOptions, 'registryTable' | 'registry' | 'serverHost'>;

  constructor(o: AssemblerOptions) {
    this.#o = { holdLimit: 1_000, holdWeight: 1024 * 1024, idleIntervalMs: 1000, now: Date.now, ...o };
    this.#pos = o.start;
    if (o.start.kind === 'file') {
      this.#file = o.start.file;
      this.#offset = o.start.offset;
    }
  }

  /** The checkpoint after the last complete transaction. */
  get checkpoint(): string {
    return encodeCheckpoint(this.#pos);
  }

  get inTransaction(): boolean {
    return this.#tx !== null;
  }

  push(e: BinlogEvent): SourceMessage[] {
    const out: SourceMessage[] = [];
    switch (e.type) {
      case 'mariadb-gtid': {
        if (this.#tx) this.#commit(out, e.timestampMs, this.#offset);
        const g: MariaGtid = { domain: e.domain, server: e.server, seq: e.seq };
        this.#open(mariaGtidText(g), { maria: g }, e.threadId);
        break;
      }
      case 'mysql-gtid':
        if (this.#tx) this.#commit(out, e.timestampMs, this.#offset);
        this.#open(e.gtid, { mysql: e.gtid }, null);
        this.#tx!.commitMicros = e.commitMicros ?? null;
        break;
      case 'query':
        this.#query(e, out);
        break;
      case 'statement':
        if (this.#tx) this.#tx.statement = e.text;
        break;
      case 'rows':
        this.#rows(e, out);
        break;
      case 'xid':
        if (e.nextPosition > 0) this.#setOffset(e.nextPosition);
        if (this.#tx) this.#commit(out, e.timestampMs, e.nextPosition);
        break;
      case 'rotate':
        this.#file = e.file;
        if (e.artificial === true && this.#pos.kind !== 'file') {
          // The server streams from the transaction after the GTID, somewhere in this file.
          this.#offsetKnown = false;
          break;
        }
        this.#setOffset(e.position);
        if (!this.#tx) this.#idle(out, true);
        break;
      case 'heartbeat':
        if (e.file) this.#file = e.file;
        if (e.position > 0 && !this.#tx) this.#setOffset(e.position);
        if (!this.#tx) this.#idle(out, true);
        break;
    }
    return out;
  }

  #open(txId: string, gtid: OpenTx['gtid'], threadId: number | null): void {
    this.#tx = { txId, gtid, commitMicros: null, threadId, begun: false, identityKnown: false, held: [], heldWeight: 0, statement: null, changes: 0 };
  }

  #query(e: Extract<BinlogEvent, { type: 'query' }>, out: SourceMessage[]): void {
    const q = e.query.trim();
    if (/^BEGIN\b/i.test(q)) {
      if (!this.#tx) this.#open(`${this.#file}:${this.#offset}`, null, e.threadId);
      else this.#tx.threadId = e.threadId;
      if (e.nextPosition > 0) this.#setOffset(e.nextPosition);
      return;
    }
    if (e.nextPosition > 0) this.#setOffset(e.nextPosition);
    if (IGNORED_QUERIES.test(q)) return;
    if (COMMIT_QUERIES.test(q)) {
      if (this.#tx) this.#commit(out, e.timestampMs, e.nextPosition);
      return;
    }
    // DDL (or another statement-logged query): its own event group.
    if (!this.#tx) this.#open(`${this.#file}:${e.nextPosition}`, null, e.threadId);
    const tx = this.#tx!;
    if (this.#ddlAudited(e.schema, q)) {
      this.#begin(tx, out);
      const target = ddlTarget(q, e.schema);
      out.push({
        kind: 'change',
        change: {
          action: target.truncate ? 'truncate' : 'ddl',
          schema: target.schema,
          table: target.table,
          key: null,
          before: null,
          after: null,
          columns: [],
          statement: q,
          detail: { thread_id: String(e.threadId) },
        },
      });
      tx.changes++;
    }
    this.#commit(out, e.timestampMs, e.nextPosition);
  }

  #ddlAudited(schema: string, q: string): boolean {
    const dbs = this.#o.ddlDatabases.map((d) => d.toLowerCase());
    if (dbs.includes(schema.toLowerCase())) return true;
    const lower = q.toLowerCase();
    return dbs.some((d) => lower.includes(d));
  }

  #rows(e: Extract<BinlogEvent, { type: 'rows' }>, out: SourceMessage[]): void {
    const tx = this.#tx ?? (this.#open(`${this.#file}:${this.#offset}`, null, null), this.#tx!);
    const [mdb, mtable] = this.#o.marker;
    if (e.schema === mdb && e.table === mtable) {
      for (const r of e.rows) {
        if (!r.after) continue; // marker clean-up deletes carry no identity
        this.#identity(tx, identityFromMarker(r.after, this.#o.serverHost ?? null), out);
      }
      return;
    }
    const reg = this.#o.registryTable;
    if (reg && e.schema === reg[0] && e.table === reg[1]) {
      for (const r of e.rows) if (r.after) this.#o.registry?.observe(r.after, tx.threadId);
      return;
    }
    if (!tx.identityKnown && tx.threadId !== null && this.#o.registry) {
      const id = this.#o.registry.lookup(tx.threadId);
      if (id) this.#identity(tx, id, out);
    }
    for (const r of e.rows) {
      const change = toChange(e, r.before, r.after, tx.statement);
      if (!tx.identityKnown && tx.held.length < this.#o.holdLimit && tx.heldWeight < this.#o.holdWeight) {
        tx.held.push(change);
        tx.heldWeight += changeWeight(change);
      } else {
        this.#flushHeld(tx, out);
        this.#begin(tx, out);
        out.push({ kind: 'change', change });
        tx.changes++;
      }
    }
  }

  #identity(tx: OpenTx, identity: SessionIdentity, out: SourceMessage[]): void {
    this.#begin(tx, out);
    out.push({ kind: 'identity', identity });
    tx.identityKnown = true;
    this.#flushHeld(tx, out);
  }

  #flushHeld(tx: OpenTx, out: SourceMessage[]): void {
    if (tx.held.length === 0) return;
    this.#begin(tx, out);
    for (const change of tx.held) out.push({ kind: 'change', change });
    tx.changes += tx.held.length;
    tx.held = [];
    tx.heldWeight = 0;
  }

  #begin(tx: OpenTx, out: SourceMessage[]): void {
    if (tx.begun) return;
    tx.begun = true;
    out.push({ kind: 'begin', txId: tx.txId });
  }

  #commit(out: SourceMessage[], timestampMs: number, endOffset: number): void {
    const tx = this.#tx!;
    this.#flushHeld(tx, out);
    this.#tx = null;
    if (endOffset > 0) this.#setOffset(endOffset);
    this.#advance(tx);
    if (timestampMs > 0) {
      this.#sinceMs ??= timestampMs;
      this.#newestMs = timestampMs;
    }
    if (tx.begun) {
      this.#emit(out, {
        kind: 'commit',
        position: tx.gtid?.maria ? mariaGtidText(tx.gtid.maria) : tx.gtid?.mysql ?? `${this.#file}:${this.#offset}`,
        checkpoint: this.checkpoint,
        // Binlog event timestamps have whole seconds (microseconds zero)
        // unless a MySQL 8 GTID event gave its microsecond commit time.
        commitTime: tx.commitMicros !== null ? microsToIso(tx.commitMicros) : isoMicros(new Date(timestampMs)),
      });
      this.#lastIdleAt = this.#o.now();
    } else {
      this.#idle(out, false);
    }
  }

  #advance(tx: OpenTx): void {
    const p = this.#pos;
    if (p.kind === 'mariadb-gtid' && tx.gtid?.maria) {
      this.#pos = { kind: 'mariadb-gtid', pos: advanceMariaPos(p.pos, tx.gtid.maria) };
    } else if (p.kind === 'mysql-gtid' && tx.gtid?.mysql) {
      const set = GtidSet.parse(p.set);
      set.add(tx.gtid.mysql);
      this.#pos = { kind: 'mysql-gtid', set: set.toString() };
    } else if (p.kind === 'file') {
      this.#pos = { kind: 'file', file: this.#file, offset: this.#offset };
    }
  }

  #idle(out: SourceMessage[], force: boolean): void {
    const now = this.#o.now();
    if (!force && now - this.#lastIdleAt < this.#o.idleIntervalMs) return;
    this.#lastIdleAt = now;
    if (this.#pos.kind === 'file' && this.#file) this.#pos = { kind: 'file', file: this.#file, offset: this.#offset };
    this.#emit(out, { kind: 'idle', checkpoint: this.checkpoint });
  }

  #setOffset(offset: number): void {
    this.#offset = offset;
    this.#offsetKnown = true;
  }

  #emit(out: SourceMessage[], m: Extract<SourceMessage, { kind: 'commit' | 'idle' }>): void {
    marks.set(m, { file: this.#offsetKnown ? this.#file : '', offset: this.#offset, oldestMs: this.#sinceMs, newestMs: this.#newestMs });
    this.#sinceMs = null;
    out.push(m);
  }
}

function toChange(e: Extract<BinlogEvent, { type: 'rows' }>, before: Row | null, after: Row | null, statement: string | null): RowChange {
  const image = after ?? before;
  const key: Row | null = image && e.keyColumns.length > 0 ? Object.fromEntries(e.keyColumns.map((c) => [c, image[c] ?? null])) : null;
  let columns: readonly string[] = e.columns;
  if (e.action === 'update' && before && after) {
    columns = e.columns.filter((c) => !sameValue(before[c], after[c]));
  }
  return { action: e.action, schema: e.schema, table: e.table, key, before, after, columns, statement, detail: null };
}

function sameValue(a: Row[string] | undefined, b: Row[string] | undefined): boolean {
  if (a === b) return true;
  if (a && b && typeof a === 'object' && typeof b === 'object') return JSON.stringify(a) === JSON.stringify(b);
  return false;
}
