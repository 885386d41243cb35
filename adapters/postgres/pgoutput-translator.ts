/**
 * Turns decoded pgoutput messages into the SourceMessages of ports.ts.
 *
 * Keys: under REPLICA IDENTITY FULL pgoutput flags every column as key, so
 * the primary key columns are looked up in the catalog (`KeyColumnLookup`)
 * once per relation message; PostgreSQL re-sends the relation message after
 * a schema change, which refreshes the cache.
 */
import type { Row, ColumnValue } from '../../src/core/event.js';
import { microsToIso, nowMicros, PG_EPOCH_MICROS } from '../../src/core/ids.js';
import { setOwn } from '../../src/core/own-field.js';
import { compareKeys } from '../../src/core/canonical.js';
import type { RowChange, SourceMessage } from '../../src/core/ports.js';
import { DDL_PREFIX, HEARTBEAT_PREFIX, IDENTITY_PREFIX } from './postgres-config.js';
import { heartbeatNonce } from './heartbeat-tracker.js';
import { actingAs, DdlPayload, parseIdentity, parsePayload, toSessionIdentity, verifySessionToken, type IdentityPayloadV1, type SessionTokenProblem } from './identity-message.js';
import { SessionKeyRing } from './session-key-ring.js';
import { checkpointOf, formatLsn } from './lsn.js';
import type { PgoutputMessage, Relation, Tuple, TupleValue } from './pgoutput-decoder.js';

/** Primary key (or replica identity index) columns of a relation, in key order; null when it has none. */
export type KeyColumnLookup = (relation: Relation) => Promise<readonly string[] | null>;

/** Told the nonce of every heartbeat message read from the stream (null when its content has none). */
export type HeartbeatListener = (nonce: string | null) => void;

interface OpenTx {
  readonly xid: string;
  readonly finalLsn: bigint;
  readonly commitTime: bigint;
}

interface CachedRelation {
  readonly relation: Relation;
  readonly key: readonly string[] | null;
  /**
   * Column indexes in canonical key order. Rows are built in this order so
   * the store serializes them natively (a flat object whose keys are already
   * sorted is its own canonical form); `columns` lists keep table order.
   */
  readonly sortedIdx: readonly number[];
}

function sortedIndexes(relation: Relation): number[] {
  const names = relation.columns.map((c) => c.name);
  return names.map((_, i) => i).sort((a, b) => compareKeys(names[a] as string, names[b] as string));
}

/** The row's columns in table order. */
function tableOrder(relation: Relation, row: Row): string[] {
  const out: string[] = [];
  for (const c of relation.columns) if (Object.hasOwn(row, c.name)) out.push(c.name);
  return out;
}

export function pgTimeToIso(pgMicros: bigint): string {
  return microsToIso(pgMicros + PG_EPOCH_MICROS);
}

export class PgoutputTranslator {
  readonly #relations = new Map<number, CachedRelation>();
  readonly #lookupKey: KeyColumnLookup;
  /**
   * Validated identities by message text: a session sends the same message in
   * every transaction, and parsing plus schema validation per transaction
   * is a measurable share of the decoding cost.
   */
  readonly #identities = new Map<string, SourceMessage>();
  readonly #onHeartbeat: HeartbeatListener;
  #tx: OpenTx | null = null;

  /** The keys that sign session ids (identity-sql.ts), and when to read them again. */
  readonly #keys: SessionKeyRing;

  constructor(lookupKey: KeyColumnLookup, onHeartbeat: HeartbeatListener = () => undefined, keys: SessionKeyRing = new SessionKeyRing()) {
    this.#lookupKey = lookupKey;
    this.#onHeartbeat = onHeartbeat;
    this.#keys = keys;
  }

  get inTransaction(): boolean {
    return this.#tx !== null;
  }

  /**
   * The source messages of one pgoutput message. Synchronous except for a
   * relation message whose key columns must be looked up (the caller awaits
   * only then: a promise per row change was measurable in the drain).
   */
  translate(msg: PgoutputMessage): SourceMessage[] | Promise<SourceMessage[]> {
    switch (msg.tag) {
      case 'begin':
        // xid is an unsigned 32-bit counter (the decoder reads it unsigned).
        this.#tx = { xid: String(msg.xid), finalLsn: msg.finalLsn, commitTime: msg.commitTime };
        return [{ kind: 'begin', txId: String(msg.xid) }];
      case 'commit':
        this.#tx = null;
        return [{ kind: 'commit', position: formatLsn(msg.commitLsn), checkpoint: checkpointOf(msg.endLsn), commitTime: pgTimeToIso(msg.commitTime) }];
      case 'relation':
        return this.#addRelation(msg.relation);
      case 'insert': {
        const rel = this.#relation(msg.relationId);
        const after = toRow(rel, msg.after, null);
        return [change(rel, 'insert', null, after, tableOrder(rel.relation, after))];
      }
      case 'update': {
        const rel = this.#relation(msg.relationId);
        const before = msg.before === null ? null : toRow(rel, msg.before, null, msg.oldKind === 'K' ? keyOnly(rel.relation) : null);
        const after = toRow(rel, msg.after, msg.oldKind === 'O' ? before : null);
        return [change(rel, 'update', before, after, changedColumns(rel.relation, before, after))];
      }
      case 'delete': {
        const rel = this.#relation(msg.relationId);
        const before = toRow(rel, msg.before, null, msg.oldKind === 'K' ? keyOnly(rel.relation) : null);
        return [change(rel, 'delete', before, null, tableOrder(rel.relation, before))];
      }
      case 'truncate':
        return msg.relationIds.map((id) => {
          const rel = this.#relation(id);
          return {
            kind: 'change',
            change: {
              action: 'truncate',
              schema: rel.relation.schema,
              table: rel.relation.name,
              key: null,
              before: null,
              after: null,
              columns: [],
              statement: null,
              detail: { cascade: String(msg.cascade), restart_identity: String(msg.restartIdentity) },
            },
          } satisfies SourceMessage;
        });
      case 'message':
        return this.#message(msg);
      case 'ignored':
        return [];
    }
  }

  async #addRelation(relation: Relation): Promise<SourceMessage[]> {
    const key = await this.#keyFor(relation);
    this.#relations.set(relation.id, { relation, key, sortedIdx: sortedIndexes(relation) });
    return [];
  }

  #message(msg: Extract<PgoutputMessage, { tag: 'message' }>): SourceMessage[] | Promise<SourceMessage[]> {
    if (msg.prefix === HEARTBEAT_PREFIX && !msg.transactional) return this.#heartbeat(msg);
    if (msg.prefix !== IDENTITY_PREFIX && msg.prefix !== DDL_PREFIX) return [];
    const tx = this.#tx;
    if (!msg.transactional || tx === null) {
      // The emitter only writes transactional messages; anything else with our prefix is not ours.
      return [this.#alert('identity_not_transactional', `a non-transactional "${msg.prefix}" message at ${formatLsn(msg.lsn)} was ignored`, msg.lsn)];
    }
    if (msg.prefix === IDENTITY_PREFIX) {
      if (this.#keys.stale) return this.#reloadKeys().then(() => this.#identityMessage(msg, tx));
      return this.#identityMessage(msg, tx);
    }
    const r = parsePayload(DdlPayload, msg.content);
    if (!r.ok) return [this.#alert('ddl_invalid', `DDL message at ${formatLsn(msg.lsn)} failed validation (${r.problem})`, msg.lsn)];
    const d = r.value;
    const detail: Record<string, string> = { command_tag: d.command_tag };
    if (d.object_type !== null) detail['object_type'] = d.object_type;
    if (d.object_identity !== null) detail['object_identity'] = d.object_identity;
    // DDL messages read the login fresh from the backend (no cache a session could write): trusted as is.
    const acting = this.#actingAlert(d, msg.lsn);
    return [
      ...(acting === null ? [] : [acting]),
      { kind: 'identity', identity: toSessionIdentity(actingAs(d), d.session_id) },
      {
        kind: 'change',
        change: { action: 'ddl', schema: d.schema, table: null, key: null, before: null, after: null, columns: [], statement: d.statement, detail },
      },
    ];
  }

  /**
   * A heartbeat is a position, never an event or an alert: pgoutput sends a
   * non-transactional message when decoding reaches it, after every
   * transaction that committed before it, so with no transaction open
   * everything up to its LSN has been handed out. Resuming at that LSN
   * delivers the message once more (the walsender skips only what starts
   * before the start position); the source ignores an idle that does not
   * move forward. Its content is not trusted: only the nonce is read, for
   * timing. (A transactional message with this prefix is not the function's
   * and, like any foreign prefix, is ignored.)
   */
  #heartbeat(msg: Extract<PgoutputMessage, { tag: 'message' }>): SourceMessage[] {
    this.#onHeartbeat(heartbeatNonce(msg.content));
    return this.#tx === null ? [{ kind: 'idle', checkpoint: checkpointOf(msg.lsn) }] : [];
  }

  #identityMessage(msg: Extract<PgoutputMessage, { tag: 'message' }>, tx: OpenTx): SourceMessage[] | Promise<SourceMessage[]> {
    const text = msg.content.toString('utf8');
    const known = this.#identities.get(text);
    if (known !== undefined) return [known];
    const r = parseIdentity(msg.content);
    if (!r.ok) return [this.#alert('identity_invalid', `identity message at ${formatLsn(msg.lsn)} failed validation (${r.problem}); the transaction's changes are treated as unattributed`, msg.lsn)];
    const p = r.value;
    if (p.v === 1) return this.#identity(text, p, p.session_id, null);
    // The native emitter reads the session id (and the login) from the backend itself: nothing to verify.
    if (p.v === 3) return this.#identity(text, actingAs(p), p.session, this.#actingAlert(p, msg.lsn));
    const atMs = Number((tx.commitTime + PG_EPOCH_MICROS) / 1000n);
    // An unverified message's login is not trusted: its changes keep SESSION_USER, with the session alert.
    const unverified = { ...p, login: null };
    const verified = (): SourceMessage[] | null => {
      const t = verifySessionToken(p, this.#keys.keys, atMs);
      // Accepted by the previous key: only until its grace period ends, so not cached.
      if ('sid' in t) return this.#identity(text, actingAs(p), t.sid, this.#actingAlert(p, msg.lsn), !t.previousKey);
      return t.problem === 'bad_signature' && this.#keys.mayRetry ? null : this.#identity(text, unverified, null, this.#sessionAlert(t.problem, p.db_user, p.pid, msg.lsn));
    };
    // null: signed with a key not held (yet): read the keys and check once more.
    return verified() ?? this.#reloadKeys().then(() => verified() ?? this.#identity(text, unverified, null, this.#sessionAlert('bad_signature', p.db_user, p.pid, msg.lsn)));
  }

  /**
   * A superuser's SET SESSION AUTHORIZATION: the changes are attributed to
   * the login (actingAs), and this says so once per distinct message.
   */
  #actingAlert(p: { db_user: string; login: string | null; pid: number }, lsn: bigint): SourceMessage | null {
    if (p.login === null) return null;
    const where = `identity message at ${formatLsn(lsn)} (backend pid ${p.pid})`;
    return this.#alert(
      'identity_session_authorization',
      `${where}: login ${JSON.stringify(p.login)} acts as ${JSON.stringify(p.db_user)} (SET SESSION AUTHORIZATION); its changes are attributed to login ${JSON.stringify(p.login)} with role ${JSON.stringify(p.db_user)} or the role it set`,
      lsn,
      { db_user: p.login, session_user: p.db_user, pid: String(p.pid) },
    );
  }

  /** New keys make every cached verdict stale: a key dropped at once must stop passing. */
  async #reloadKeys(): Promise<void> {
    if (await this.#keys.reload()) this.#identities.clear();
  }

  /** The identity of a validated message, cached by its text; `alert` (a rejected session id) goes first. */
  #identity(text: string, p: Omit<IdentityPayloadV1, 'v' | 'session_id'>, sessionId: string | null, alert: SourceMessage | null, cache = true): SourceMessage[] {
    const out: SourceMessage = { kind: 'identity', identity: Object.freeze(toSessionIdentity(p, sessionId)) };
    if (this.#identities.size >= 1024) this.#identities.clear();
    // A rejected session id is reported once per distinct message, not in every transaction of the session.
    if (cache) this.#identities.set(text, out);
    return alert === null ? [out] : [alert, out];
  }

  /** The changes keep their login, role and address; only the session id is dropped. */
  #sessionAlert(problem: SessionTokenProblem, dbUser: string, pid: number, lsn: bigint): SourceMessage {
    const where = `identity message at ${formatLsn(lsn)} (login ${JSON.stringify(dbUser)}, backend pid ${pid})`;
    const kept = 'the changes keep their login, role and address; the session id is left out';
    const detail = { db_user: dbUser, pid: String(pid), problem };
    if (problem === 'no_key') {
      return this.#alert('identity_session_unverified', `${where}: its session id cannot be checked because the daemon could not read the session key; re-run \`dbwitness setup postgres --apply\` (it grants the daemon role SELECT on it) and restart the daemon; ${kept}`, lsn, detail);
    }
    if (problem === 'unsigned') {
      return this.#alert('identity_session_unverified', `${where}: its session id is unsigned because the database has no session key; re-run \`dbwitness setup postgres --apply\`; ${kept}`, lsn, detail);
    }
    return this.#alert('identity_session_forged', `${where}: its session id has no valid signature, so the session wrote dbwitness.session itself; ${kept}`, lsn, detail);
  }

  #alert(code: string, message: string, lsn: bigint, extra: Readonly<Record<string, string>> = {}): SourceMessage {
    const tx = this.#tx;
    return {
      kind: 'alert',
      code,
      message,
      position: formatLsn(tx?.finalLsn ?? lsn),
      time: tx === null ? nowMicros() : pgTimeToIso(tx.commitTime),
      detail: { message_lsn: formatLsn(lsn), ...extra },
    };
  }

  #relation(id: number): CachedRelation {
    const rel = this.#relations.get(id);
    if (rel === undefined) {
      // pgoutput sends a relation message before the first change of each relation per connection.
      throw new Error(`pgoutput change for relation ${id} arrived before its relation message`);
    }
    return rel;
  }

  async #keyFor(relation: Relation): Promise<readonly string[] | null> {
    if (relation.replicaIdentity !== 'f') {
      const flagged = relation.columns.filter((c) => (c.flags & 1) !== 0).map((c) => c.name);
      if (flagged.length > 0) return flagged;
    }
    return this.#lookupKey(relation);
  }
}

function keyOnly(relation: Relation): ReadonlySet<string> {
  return new Set(relation.columns.filter((c) => (c.flags & 1) !== 0).map((c) => c.name));
}

function value(v: TupleValue): ColumnValue {
  switch (v.kind) {
    case 'null':
      return null;
    case 'toast':
      return { unchanged_toast: true };
    case 'text':
      return v.text;
    case 'binary':
      return { base64: v.data.toString('base64') };
  }
}

/**
 * A tuple as a row. `u` in a new tuple means "unchanged and not sent": when
 * the old tuple (REPLICA IDENTITY FULL, which stores it flattened) has the
 * value, that is the value; otherwise the marker stays.
 * `only`: a key-only old tuple ('K') carries nulls for non-key columns,
 * which are placeholders, not values, so they are left out.
 */
function toRow(rel: CachedRelation, tuple: Tuple, old: Row | null, only: ReadonlySet<string> | null = null): Row {
  const row: Row = {};
  for (const i of rel.sortedIdx) {
    const v = tuple[i];
    const col = rel.relation.columns[i];
    if (v === undefined || col === undefined) continue;
    if (only !== null && !only.has(col.name)) continue;
    const oldValue = old !== null && Object.hasOwn(old, col.name) ? old[col.name] : undefined;
    setOwn(row, col.name, v.kind === 'toast' && typeof oldValue === 'string' ? oldValue : value(v));
  }
  return row;
}

function changedColumns(relation: Relation, before: Row | null, after: Row): string[] {
  const cols = tableOrder(relation, after);
  if (before === null) return cols.filter((c) => !isToastMarker(after[c]));
  return cols.filter((c) => !isToastMarker(after[c]) && JSON.stringify(before[c]) !== JSON.stringify(after[c]));
}

function isToastMarker(v: ColumnValue | undefined): boolean {
  return typeof v === 'object' && v !== null && 'unchanged_toast' in v;
}

function change(rel: CachedRelation, action: 'insert' | 'update' | 'delete', before: Row | null, after: Row | null, columns: string[]): SourceMessage {
  const image = after ?? before ?? {};
  let key: Row | null = null;
  if (rel.key !== null) {
    key = {};
    // The row as it is after the change; a delete's row is its before-image.
    const source = action === 'delete' ? before ?? image : image;
    for (const k of rel.key) setOwn(key, k, Object.hasOwn(source, k) ? (source[k] ?? null) : null);
  }
  const c: RowChange = { action, schema: rel.relation.schema, table: rel.relation.name, key, before, after, columns, statement: null, detail: null };
  return { kind: 'change', change: c };
}
