/**
 * The ports between the core and its adapters. Core code never imports an
 * adapter; an engine is added by implementing `SourceAdapter` in one folder
 * under `adapters/` and registering it in the CLI (the composition root).
 */
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { Action, Actor, AuditEvent, Detail, DraftEvent, Outcome, Row, Source } from './event.js';

// ---------------------------------------------------------------------------
// What a source emits
// ---------------------------------------------------------------------------

/**
 * One changed row, one truncated table, one DDL statement, or (for log
 * sources) one read, login, logout, failed login or privilege change.
 */
export interface RowChange {
  readonly action: Exclude<Action, 'alert' | 'heartbeat'>;
  /** Defaults to success; log sources report refused statements and failed logins. */
  readonly outcome?: Outcome;
  readonly schema: string | null;
  readonly table: string | null;
  /** Primary-key (replica identity) values of the row; null for truncate/ddl. */
  readonly key: Row | null;
  readonly before: Row | null;
  readonly after: Row | null;
  /** Columns whose value changed: all columns for insert/delete. */
  readonly columns: readonly string[];
  /** SQL text where the source provides it (MariaDB annotate rows, DDL). */
  readonly statement: string | null;
  readonly detail: Detail | null;
}

/** Identity of the session that made the following changes of its transaction. */
export type SessionIdentity = Omit<Actor, 'identity'>;

/**
 * The stream a `ChangeSource` yields. Rules:
 * - Transactions arrive whole and in commit order: `begin`, then any mix of
 *   `identity` and `change`, then `commit`. Rolled-back work never appears.
 * - An `identity` applies to every later `change` of the same transaction
 *   until the next `identity` (SET ROLE shows as a second identity).
 * - `commit.checkpoint` is the opaque resume token that, once durable,
 *   makes the source skip this transaction on the next start.
 * - `idle.checkpoint` may arrive between transactions when the server
 *   reports progress with nothing to deliver (keepalive, heartbeat); storing
 *   and acknowledging it lets the server release retained WAL/binlog.
 * - `alert` is a source-level finding (e.g. a gap) to record as an event.
 */
export type SourceMessage =
  | { readonly kind: 'begin'; readonly txId: string }
  | { readonly kind: 'identity'; readonly identity: SessionIdentity }
  | { readonly kind: 'change'; readonly change: RowChange }
  | {
      readonly kind: 'commit';
      /** Human-readable source position written into events (LSN, GTID, file:offset). */
      readonly position: string;
      readonly checkpoint: string;
      /** Commit time, UTC ISO 8601 with microseconds. */
      readonly commitTime: string;
    }
  | { readonly kind: 'idle'; readonly checkpoint: string }
  | { readonly kind: 'alert'; readonly code: string; readonly message: string; readonly position: string; readonly time: string; readonly detail: Detail | null };

export interface ChangeSource {
  /** The `source` block every event of this source carries. */
  readonly source: Source;
  /**
   * Streams from just after `checkpoint` (null: from the server-side state
   * only, e.g. the slot's confirmed position). Pull-based: the source must
   * stop reading from the server while the consumer is not pulling, so
   * memory stays bounded. Ends when `signal` aborts.
   */
  messages(checkpoint: string | null, signal: AbortSignal): AsyncIterable<SourceMessage>;
  /**
   * Optional: the same stream as `messages`, handed over in groups of the
   * messages that were ready together (everything received so far). A source
   * that decodes many small messages per read offers it so the consumer
   * pays one asynchronous step per group instead of one per message. The
   * pipeline uses it when present.
   */
  batches?(checkpoint: string | null, signal: AbortSignal): AsyncIterable<readonly SourceMessage[]>;
  /**
   * Tells the server everything up to `checkpoint` is durable.
   * MUST only be called after the events and checkpoint are fsync'd.
   */
  acknowledge(checkpoint: string): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------

export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

export interface StoredCheckpoint {
  /** The opaque resume token given to `Chain.append`. */
  readonly checkpoint: string;
  /** Chain head when the checkpoint was written. */
  readonly seq: number;
  readonly at: string;
}

/** The last event written after the newest checkpoint: a transaction cut by a crash. */
export interface ChainTail {
  readonly position: string;
  readonly txId: string | null;
  readonly txIndex: number | null;
}

/**
 * One hash chain: the events of one source in one store.
 *
 * Durability contract: `append` resolves only after the events and the
 * checkpoint given with them are fsync'd, in one durable step, so that a
 * checkpoint never exists without every event before it. A caller may
 * acknowledge a source position only after `append` resolves.
 */
export interface Chain {
  readonly source: Source;
  head(): ChainHead;
  /** The newest durable checkpoint, or null for a new chain. */
  checkpoint(): StoredCheckpoint | null;
  /** Set when events were written after the newest checkpoint (crash mid-transaction). */
  tail(): ChainTail | null;
  /**
   * Appends events (dropping any whose id is already in the chain's recent
   * window) and, if given, the checkpoint, then fsyncs. Concurrent calls are
   * group-committed. Returns the events as stored (with seq, prev, hash).
   */
  append(drafts: readonly DraftEvent[], checkpoint?: string): Promise<readonly AuditEvent[]>;
  close(): Promise<void>;
  /**
   * Events per append this chain works best with when more are ready (the
   * pipeline's default batch). Unset: 128, right for a chain that
   * group-commits concurrent appends (the file store), where a small append
   * costs no extra write and lets its events die young. A chain that takes
   * appends one after another, with round trips for each (JetStream), sets
   * more.
   */
  readonly preferredBatchEvents?: number | undefined;
}

export interface AuditStore {
  openChain(source: Source): Promise<Chain>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Adapters: setup plan, doctor, source
// ---------------------------------------------------------------------------

export interface SetupStep {
  readonly title: string;
  /** Why the DBA should accept this step. */
  readonly why: string;
  /** SQL run by `--apply`, in order. Empty for steps the DBA must do (config files). */
  readonly sql: readonly string[];
  /** Server configuration lines (postgresql.conf / my.cnf) for the DBA to add. */
  readonly config?: readonly string[];
  readonly requiresRestart?: boolean;
}

export interface SetupPlan {
  readonly engine: string;
  readonly steps: readonly SetupStep[];
}

export type FindingStatus = 'ok' | 'warn' | 'fail';

export interface Finding {
  /** Stable id, e.g. `pg.wal_level`. */
  readonly id: string;
  readonly status: FindingStatus;
  readonly title: string;
  /** What was observed. */
  readonly detail: string;
  /** How to fix it (required when status is not ok). */
  readonly fix?: string;
}

export interface AdapterContext {
  readonly logger: Logger;
}

/**
 * Everything an engine provides. `C` is the engine's source config, parsed
 * by `configSchema` from the config file or from CLI flags.
 */
export interface SourceAdapter<C = unknown> {
  /** Name used on the command line: `dbwitness setup <name>`. */
  readonly name: string;
  /** URL schemes that select this adapter, e.g. ['postgres:', 'postgresql:']. */
  readonly urlSchemes: readonly string[];
  readonly configSchema: z.ZodType<C>;
  planSetup(config: C, ctx: AdapterContext): Promise<SetupPlan>;
  planUninstall(config: C, ctx: AdapterContext): Promise<SetupPlan>;
  /**
   * Engines whose identity mechanism holds a signing key: a plan that
   * replaces it, accepting the old key for `graceMs` for sessions that
   * started before the rotation.
   */
  planKeyRotation?(config: C, graceMs: number, ctx: AdapterContext): Promise<SetupPlan>;
  applyPlan(config: C, plan: SetupPlan, ctx: AdapterContext): Promise<void>;
  doctor(config: C, ctx: AdapterContext): Promise<readonly Finding[]>;
  /**
   * The audited tables, named as the policy names them (`schema.table`),
   * each with its column names in table order: doctor checks the subject
   * mapping and redaction rules against them. Catalog reads only.
   */
  auditedColumns?(config: C, ctx: AdapterContext): Promise<ReadonlyMap<string, readonly string[]>>;
  openSource(config: C, ctx: AdapterContext): Promise<ChangeSource>;
}
