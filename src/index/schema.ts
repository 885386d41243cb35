/**
 * The query index: a SQLite file beside the store (DIR/index.sqlite) that
 * answers reviewer questions (one patient, one user, a time range) without
 * reading every event. The store stays the source of truth: the index holds
 * only derived columns plus each event's file and byte offset, so the full
 * event is read back from the store, and the whole file can be deleted and
 * rebuilt with `dbwitness reindex` at any time.
 *
 * Why SQLite (better-sqlite3): a single file with no server to run, B-tree
 * indexes on (patient_id, time) and friends, transactions that make a batch
 * of rows and its watermark land together, and a synchronous API that the
 * per-event lookup fallback of the redaction policy can call inline.
 */
import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3';
import { usageError } from '../core/errors.js';

export type Db = Database.Database;

/** Bump when the tables change: an index of another version is rebuilt. */
export const INDEX_SCHEMA_VERSION = '1';

export const INDEX_FILE = 'index.sqlite';

const TABLES = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS watermark (
  source TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,          -- indexed up to this seq (contiguous from 1)
  hash TEXT NOT NULL,            -- hash of that event: detects a store replaced under the index
  event_file INTEGER,            -- where that event is
  event_offset INTEGER,
  scan_file INTEGER,             -- how far the store was read (events and records)
  scan_bytes INTEGER
);
-- Events the index does not hold because their segment was archived and could not be read, or
-- deleted under the retention policy, when they were indexed. Reports list these so that an
-- answer is never silently shorter than the store's history; a rebuild with the archive
-- reachable (reindex --archive DIR) fills them in.
CREATE TABLE IF NOT EXISTS gaps (
  source TEXT NOT NULL,
  segment INTEGER NOT NULL,
  file TEXT NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  after_time TEXT,               -- time of the last event indexed before the gap, when known
  sealed_at TEXT,                -- the segment's seal time: none of its events is younger
  reason TEXT NOT NULL,
  PRIMARY KEY (source, segment)
);
CREATE TABLE IF NOT EXISTS events (
  id TEXT NOT NULL,
  source TEXT NOT NULL,
  seq INTEGER NOT NULL,
  time TEXT NOT NULL,
  action TEXT NOT NULL,
  outcome TEXT NOT NULL,
  db_user TEXT,
  role TEXT,
  app_user TEXT,
  client_addr TEXT,
  client_port INTEGER,
  application TEXT,
  session_id TEXT,
  identity TEXT NOT NULL,
  schema_name TEXT,
  table_name TEXT,
  key_text TEXT,                 -- single-column key: its value; else canonical JSON of the key
  mapped INTEGER NOT NULL,       -- 1 when the event has a subject.patient_id entry (even null)
  patient_id TEXT,
  patient_before TEXT,           -- subject.patient_id_before (an update moved the row)
  tx_id TEXT,
  tx_index INTEGER,
  position TEXT NOT NULL,
  columns TEXT,                  -- changed column names, JSON array
  detail TEXT,                   -- detail block, JSON (alert codes, DDL identity)
  statement TEXT,                -- kept for ddl events only (already redacted by policy)
  file INTEGER,
  offset INTEGER
);
`;

/** Secondary indexes; created after a bulk rebuild (faster than maintaining them row by row). */
const INDEXES = `
CREATE INDEX IF NOT EXISTS events_patient_time ON events (patient_id, time) WHERE patient_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_patient_before ON events (patient_before) WHERE patient_before IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_user_time ON events (db_user, time);
CREATE INDEX IF NOT EXISTS events_app_user_time ON events (app_user, time) WHERE app_user IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_time ON events (time);
CREATE INDEX IF NOT EXISTS events_action_time ON events (action, time);
CREATE INDEX IF NOT EXISTS events_unattributed ON events (time) WHERE identity = 'unattributed';
CREATE INDEX IF NOT EXISTS events_unlocated ON events (source, seq) WHERE file IS NULL;
CREATE INDEX IF NOT EXISTS events_unresolved ON events (time) WHERE mapped = 1 AND patient_id IS NULL;
CREATE INDEX IF NOT EXISTS events_row ON events (schema_name, table_name, key_text) WHERE mapped = 1;
`;

export interface OpenIndexOptions {
  readonly readonly?: boolean;
  /** Bulk mode for a rebuild into a fresh file: no journal, no fsync, indexes added at the end. */
  readonly bulk?: boolean;
  /** SQLite page cache in KiB (default: better-sqlite3's build, 16 MiB per connection). */
  readonly cacheKiB?: number | undefined;
}

export function openIndexDb(path: string, opts: OpenIndexOptions = {}): Db {
  let db: Db;
  try {
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (e) {
    throw usageError('E_INDEX_OPEN', `cannot open the index ${path}: ${(e as Error).message}`, opts.readonly ? 'build it with `dbwitness reindex STORE_DIR`' : 'check that the directory is writable, or pass --index PATH');
  }
  db.pragma('busy_timeout = 10000');
  if (opts.cacheKiB !== undefined) db.pragma(`cache_size = -${Math.max(64, Math.floor(opts.cacheKiB))}`);
  if (opts.readonly) return db;
  // Who touched which patient, when, is itself sensitive: owner-only, like the store's files.
  // SQLite gives the -wal and -shm files the main file's permissions.
  chmodSync(path, 0o600);
  if (opts.bulk) {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
  } else {
    // WAL: a reviewer's report can read while `run` appends.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
  db.exec(TABLES);
  if (!opts.bulk) db.exec(INDEXES);
  const version = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'version'").get();
  if (!version) db.prepare("INSERT INTO meta (key, value) VALUES ('version', ?)").run(INDEX_SCHEMA_VERSION);
  return db;
}

/** Ends a bulk build: secondary indexes, statistics for the planner, WAL for later appends. */
export function finishBulk(db: Db): void {
  db.exec(INDEXES);
  db.exec('ANALYZE');
  db.pragma('journal_mode = WAL');
}

export function indexVersion(db: Db): string | null {
  try {
    return db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'version'").get()?.value ?? null;
  } catch {
    return null;
  }
}
