/**
 * Appends events to the index with their watermark. Rows of one batch and
 * the watermark that covers them commit in one SQLite transaction, so the
 * index never claims an event it does not hold (and never holds one twice).
 */
import { canonicalJson } from '../core/canonical.js';
import type { AuditEvent, Row } from '../core/event.js';
import type { Db } from './schema.js';
import type { ChainGap } from './store-scan.js';

export interface IndexEntry {
  readonly event: AuditEvent;
  /** Segment file relative to the store directory, e.g. `pg1/seg-000001.jsonl` (null when unknown). */
  readonly file: string | null;
  readonly offset: number | null;
}

export interface Watermark {
  readonly source: string;
  readonly seq: number;
  readonly hash: string;
  readonly eventFile: string | null;
  readonly eventOffset: number | null;
  readonly scanFile: string | null;
  readonly scanBytes: number | null;
}

/** Where a scan of the store stopped (events and store records consumed). */
export interface ScanPosition {
  readonly file: string;
  readonly bytes: number;
}

interface WatermarkRow {
  source: string;
  seq: number;
  hash: string;
  event_file: string | null;
  event_offset: number | null;
  scan_file: string | null;
  scan_bytes: number | null;
}

export class IndexWriter {
  readonly #db: Db;
  readonly #fileIds = new Map<string, number>();
  readonly #marks: Map<string, Watermark>;
  readonly #insert;
  readonly #insertFile;
  readonly #locate;
  /** Rows added without a store location exist (pipeline `add`): a catch-up fills them in. */
  #unlocated: boolean;
  readonly #upsertMark;

  constructor(db: Db) {
    this.#db = db;
    this.#insert = db.prepare(
      `INSERT INTO events (id, source, seq, time, action, outcome, db_user, role, app_user, client_addr, client_port, application, session_id, identity,
        schema_name, table_name, key_text, mapped, patient_id, patient_before, tx_id, tx_index, position, columns, detail, statement, file, offset)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insertFile = db.prepare<[string], { id: number }>('INSERT INTO files (path) VALUES (?) ON CONFLICT (path) DO UPDATE SET path = excluded.path RETURNING id');
    this.#upsertMark = db.prepare(
      `INSERT INTO watermark (source, seq, hash, event_file, event_offset, scan_file, scan_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (source) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, event_file = excluded.event_file,
         event_offset = excluded.event_offset, scan_file = excluded.scan_file, scan_bytes = excluded.scan_bytes`,
    );
    this.#locate = db.prepare('UPDATE events SET file = ?, offset = ? WHERE source = ? AND seq = ? AND file IS NULL');
    this.#unlocated = db.prepare('SELECT 1 FROM events WHERE file IS NULL LIMIT 1').get() !== undefined;
    this.#marks = readWatermarks(db);
  }

  watermark(source: string): Watermark | null {
    return this.#marks.get(source) ?? null;
  }

  watermarks(): Watermark[] {
    return [...this.#marks.values()];
  }

  /**
   * Adds events that follow each source's watermark. Events at or below it
   * are skipped (replays); at the first gap in a source's seq the rest of
   * that source's events are left out (the next `updateIndex` catch-up
   * reads them from the store). Returns how many rows were added.
   */
  add(entries: readonly IndexEntry[], scan?: ReadonlyMap<string, ScanPosition>): number {
    return this.append(entries, scan).added;
  }

  /** `add`, also telling which sources stopped at a gap in their seq. */
  append(entries: readonly IndexEntry[], scan?: ReadonlyMap<string, ScanPosition>): { added: number; gaps: ReadonlySet<string> } {
    let added = 0;
    const blocked = new Set<string>();
    const run = this.#db.transaction(() => {
      // Another process (run's periodic catch-up, a report's) may have advanced the watermarks since we
      // read them: re-read under the write lock so no event is inserted twice.
      for (const [source, mark] of readWatermarks(this.#db)) this.#marks.set(source, mark);
      const last = new Map<string, IndexEntry>();
      for (const entry of entries) {
        const e = entry.event;
        const sourceId = e.source.id;
        if (blocked.has(sourceId)) continue;
        const expected = (last.get(sourceId)?.event.seq ?? this.#marks.get(sourceId)?.seq ?? 0) + 1;
        if (e.seq < expected) {
          if (this.#unlocated && entry.file !== null) this.#locate.run(this.#fileId(entry.file), entry.offset, sourceId, e.seq);
          continue;
        }
        if (e.seq > expected) {
          blocked.add(sourceId);
          continue;
        }
        this.#insertRow(entry);
        last.set(sourceId, entry);
        added++;
      }
      const sources = new Set([...last.keys(), ...(scan?.keys() ?? [])]);
      for (const sourceId of sources) {
        const prev = this.#marks.get(sourceId);
        const entry = last.get(sourceId);
        const pos = blocked.has(sourceId) ? undefined : scan?.get(sourceId);
        if (!entry && !prev) continue; // nothing indexed for this source yet
        const mark: Watermark = {
          source: sourceId,
          seq: entry?.event.seq ?? prev!.seq,
          hash: entry?.event.hash ?? prev!.hash,
          eventFile: entry ? entry.file : prev!.eventFile,
          eventOffset: entry ? entry.offset : prev!.eventOffset,
          // Without a scan position (events handed in by the pipeline) the store was not read here.
          scanFile: pos ? pos.file : entry ? null : (prev?.scanFile ?? null),
          scanBytes: pos ? pos.bytes : entry ? null : (prev?.scanBytes ?? null),
        };
        this.#upsertMark.run(mark.source, mark.seq, mark.hash, this.#fileId(mark.eventFile), mark.eventOffset, this.#fileId(mark.scanFile), mark.scanBytes);
        this.#marks.set(sourceId, mark);
      }
    });
    // IMMEDIATE: take the write lock before reading the watermarks.
    run.immediate();
    if (this.#unlocated && entries.some((x) => x.file !== null)) {
      this.#unlocated = this.#db.prepare('SELECT 1 FROM events WHERE file IS NULL LIMIT 1').get() !== undefined;
    }
    return { added, gaps: blocked };
  }

  /**
   * Moves a source's watermark across events that cannot be indexed (an
   * archived segment out of reach), recording them as a gap. Returns false
   * when the gap does not continue the indexed sequence (events before it are
   * missing too): the caller treats that as a store the index cannot follow.
   */
  skipGap(gap: ChainGap, afterTime: string | null): boolean {
    let ok = true;
    const run = this.#db.transaction(() => {
      for (const [source, mark] of readWatermarks(this.#db)) this.#marks.set(source, mark);
      const prev = this.#marks.get(gap.source);
      const expected = (prev?.seq ?? 0) + 1;
      if (gap.lastSeq < expected) return; // indexed already (a replay, or read before it was archived)
      if (gap.firstSeq > expected) {
        ok = false;
        return;
      }
      // Only the part after the watermark is missing (the rest was indexed before the segment was archived).
      this.#db
        .prepare(
          `INSERT INTO gaps (source, segment, file, first_seq, last_seq, after_time, sealed_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (source, segment) DO UPDATE SET first_seq = MIN(gaps.first_seq, excluded.first_seq), last_seq = excluded.last_seq, reason = excluded.reason`,
        )
        .run(gap.source, gap.segment, gap.file, expected, gap.lastSeq, afterTime, gap.sealedAt, gap.reason);
      const mark: Watermark = { source: gap.source, seq: gap.lastSeq, hash: gap.lastHash ?? '', eventFile: null, eventOffset: null, scanFile: gap.file, scanBytes: 0 };
      this.#upsertMark.run(mark.source, mark.seq, mark.hash, null, null, this.#fileId(mark.scanFile), mark.scanBytes);
      this.#marks.set(gap.source, mark);
    });
    run.immediate();
    return ok;
  }

  #insertRow({ event: e, file, offset }: IndexEntry): void {
    const a = e.actor;
    const subject = e.subject;
    const mapped = subject !== null && 'patient_id' in subject ? 1 : 0;
    this.#insert.run(
      e.id,
      e.source.id,
      e.seq,
      e.time,
      e.action,
      e.outcome,
      a.db_user,
      a.role,
      a.app_user,
      a.client_addr,
      a.client_port,
      a.application,
      a.session_id,
      a.identity,
      e.object?.schema ?? null,
      e.object?.table ?? null,
      keyText(e.object?.key ?? null),
      mapped,
      subject?.['patient_id'] ?? null,
      subject?.['patient_id_before'] ?? null,
      e.tx?.id ?? null,
      e.tx?.index ?? null,
      e.position,
      e.changes ? JSON.stringify(e.changes.columns) : null,
      e.detail ? JSON.stringify(e.detail) : null,
      e.action === 'ddl' ? e.statement : null,
      this.#fileId(file),
      offset,
    );
  }

  #fileId(path: string | null): number | null {
    if (path === null) return null;
    let id = this.#fileIds.get(path);
    if (id === undefined) {
      id = this.#insertFile.get(path)!.id;
      this.#fileIds.set(path, id);
    }
    return id;
  }
}

/** Every source's watermark. */
export function readWatermarks(db: Db): Map<string, Watermark> {
  const rows = db
    .prepare<[], WatermarkRow>(
      `SELECT w.source, w.seq, w.hash, ef.path AS event_file, w.event_offset, sf.path AS scan_file, w.scan_bytes
       FROM watermark w LEFT JOIN files ef ON ef.id = w.event_file LEFT JOIN files sf ON sf.id = w.scan_file`,
    )
    .all();
  const marks = new Map<string, Watermark>();
  for (const r of rows) {
    marks.set(r.source, { source: r.source, seq: r.seq, hash: r.hash, eventFile: r.event_file, eventOffset: r.event_offset, scanFile: r.scan_file, scanBytes: r.scan_bytes });
  }
  return marks;
}

/** A key as one text: the value of a single-column key (what lookups match), else canonical JSON. */
export function keyText(key: Row | null): string | null {
  if (!key) return null;
  const cols = Object.keys(key);
  if (cols.length === 1) {
    const v = key[cols[0]!];
    if (typeof v === 'string') return v;
  }
  return canonicalJson(key);
}
