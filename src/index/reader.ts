/**
 * Read access to the index: the row shape reports use, the subject lookup
 * the redaction policy falls back to, and reading full events back from
 * the store by file and offset.
 */
import { existsSync } from 'node:fs';
import { usageError } from '../core/errors.js';
import type { AuditEvent } from '../core/event.js';
import type { SubjectFallback } from '../policy/subjects.js';
import { INDEX_SCHEMA_VERSION, indexVersion, openIndexDb, type Db } from './schema.js';
import { ArchiveResolver } from './archived-chain.js';
import { readEventAt } from './store-scan.js';
import { defaultIndexPath } from './update.js';

/** One indexed event, as reports see it. */
export interface IndexedEvent {
  readonly id: string;
  readonly source: string;
  readonly seq: number;
  readonly time: string;
  readonly action: string;
  readonly outcome: string;
  readonly db_user: string | null;
  readonly role: string | null;
  readonly app_user: string | null;
  readonly client_addr: string | null;
  readonly client_port: number | null;
  readonly application: string | null;
  readonly session_id: string | null;
  readonly identity: string;
  readonly schema_name: string | null;
  readonly table_name: string | null;
  readonly key_text: string | null;
  readonly mapped: number;
  readonly patient_id: string | null;
  readonly patient_before: string | null;
  readonly tx_id: string | null;
  readonly tx_index: number | null;
  readonly position: string;
  readonly columns: string | null;
  readonly detail: string | null;
  readonly statement: string | null;
  readonly file: string | null;
  readonly offset: number | null;
}

/** SELECT list producing `IndexedEvent` (file resolved to its path). */
export const EVENT_COLUMNS = `e.id, e.source, e.seq, e.time, e.action, e.outcome, e.db_user, e.role, e.app_user, e.client_addr, e.client_port,
  e.application, e.session_id, e.identity, e.schema_name, e.table_name, e.key_text, e.mapped, e.patient_id, e.patient_before,
  e.tx_id, e.tx_index, e.position, e.columns, e.detail, e.statement, f.path AS file, e.offset`;

export const EVENT_FROM = 'events e LEFT JOIN files f ON f.id = e.file';

/** Events of a chain the index does not hold (see the gaps table in schema.ts). */
export interface IndexGap {
  readonly source: string;
  readonly segment: number;
  readonly file: string;
  readonly first_seq: number;
  readonly last_seq: number;
  readonly after_time: string | null;
  readonly sealed_at: string | null;
  readonly reason: string;
}

export class IndexReader {
  readonly db: Db;
  readonly #storeDir: string;
  readonly #encryptionKey: Buffer | undefined;
  readonly #archive: ArchiveResolver;

  private constructor(db: Db, storeDir: string, encryptionKey: Buffer | undefined, archiveDirs: readonly string[]) {
    this.db = db;
    this.#storeDir = storeDir;
    this.#encryptionKey = encryptionKey;
    this.#archive = new ArchiveResolver(storeDir, archiveDirs);
  }

  /** `archiveDirs`: where segments retention archived are now, tried before the paths in archived.jsonl. */
  static open(indexPath: string, storeDir: string, encryptionKey?: Buffer, archiveDirs: readonly string[] = []): IndexReader {
    if (!existsSync(indexPath)) {
      throw usageError('E_INDEX_MISSING', `there is no index at ${indexPath}`, `build it with \`dbwitness reindex ${storeDir}\``);
    }
    const db = openIndexDb(indexPath, { readonly: true });
    if (indexVersion(db) !== INDEX_SCHEMA_VERSION) {
      db.close();
      throw usageError('E_INDEX_VERSION', `the index at ${indexPath} was built by another version of dbwitness`, `rebuild it with \`dbwitness reindex ${storeDir}\``);
    }
    return new IndexReader(db, storeDir, encryptionKey, archiveDirs);
  }

  /** Rows of a query over `EVENT_FROM`, streamed (reports over millions of events stay in bounded memory). */
  *events(where: string, params: readonly (string | number | null)[], order = 'e.time, e.source, e.seq'): IterableIterator<IndexedEvent> {
    const stmt = this.db.prepare<(string | number | null)[], IndexedEvent>(`SELECT ${EVENT_COLUMNS} FROM ${EVENT_FROM} WHERE ${where} ORDER BY ${order}`);
    yield* stmt.iterate(...params);
  }

  /** The full stored event behind an index row. */
  async readEvent(row: Pick<IndexedEvent, 'file' | 'offset'>): Promise<AuditEvent | null> {
    if (row.file === null || row.offset === null) return null;
    return readEventAt(this.#storeDir, row.file, row.offset, this.#encryptionKey, this.#archive);
  }

  /** Archived events the index could not read when it was built, in chain order. */
  gaps(): IndexGap[] {
    // An index written before the gaps table existed has none recorded (it was built when nothing was out of reach).
    const table = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gaps'").get();
    if (table === undefined) return [];
    return this.db.prepare<[], IndexGap>('SELECT source, segment, file, first_seq, last_seq, after_time, sealed_at, reason FROM gaps ORDER BY source, segment').all();
  }

  /**
   * The policy's lookup fallback: the patient of the newest indexed event
   * on the parent row (matched by its single-column key). Only works for
   * parent keys the policy keeps in clear (the default for primary keys).
   */
  subjectFallback(): SubjectFallback {
    const stmt = this.db.prepare<[string, string, string], { patient_id: string | null }>(
      'SELECT patient_id FROM events WHERE schema_name = ? AND table_name = ? AND key_text = ? AND mapped = 1 ORDER BY rowid DESC LIMIT 1',
    );
    return (parentTable, key, subject) => {
      if (subject !== 'patient_id') return undefined;
      const dot = parentTable.indexOf('.');
      const row = stmt.get(parentTable.slice(0, dot), parentTable.slice(dot + 1), key);
      return row ? row.patient_id : undefined;
    };
  }

  close(): void {
    this.db.close();
  }
}

/**
 * The lookup fallback for `compilePolicy` from the store's index, or null
 * when there is no index yet (lookups then use memory only). The daemon
 * keeps it open; rows that `updateIndex` adds later are seen by it.
 *
 * @example
 * ```ts
 * const fb = openSubjectFallback(storeDir);
 * const policy = policyFromConfig(config, { lookupFallback: fb?.fallback });
 * ```
 */
export function openSubjectFallback(storeDir: string, indexPath = defaultIndexPath(storeDir)): { fallback: SubjectFallback; close(): void } | null {
  if (!existsSync(indexPath)) return null;
  let reader: IndexReader;
  try {
    reader = IndexReader.open(indexPath, storeDir);
  } catch {
    return null; // an index of another version: memory-only lookups until `reindex`
  }
  return { fallback: reader.subjectFallback(), close: () => reader.close() };
}
