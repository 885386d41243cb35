/**
 * `query` by full scan: every event of the store, and of the segments
 * retention archived, through `matchesEvent`.
 * Writes respect stdout backpressure, so memory stays flat on large stores.
 */
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import type { AuditEvent } from '../core/event.js';
import { chainFiles } from '../index/archived-chain.js';
import { assertEncryptionKey } from '../store/encryption.js';
import { listSources, readSegmentEvents } from '../store/reader.js';
import { unreadableSegments, type QueryMissingSegment } from './archive-missing.js';
import { matchesEvent, type EventFilter } from './filter.js';
import { COLUMNS, csvLine, eventCells, fitWidths, jsonlLine, tableLine, type OutputFormat } from './format.js';

export interface QueryOutput {
  readonly out: Writable;
  readonly format: OutputFormat;
  /** Terminal width for the table format (Infinity: no truncation). */
  readonly width: number;
  /** Written before any row (an incomplete answer's statement, missing-format.ts). */
  readonly preamble?: string;
}

/** Rows used to size table columns before streaming the rest. */
const TABLE_SAMPLE = 200;

/**
 * Matching events of every segment of the store, those retention archived
 * included (read from `archiveDirs`, then the path archived.jsonl recorded).
 * Segments that cannot be read are skipped here: `scanMissing` names them.
 */
export async function* scanMatching(dir: string, filter: EventFilter, encryptionKey: Buffer | undefined, archiveDirs: readonly string[] = []): AsyncGenerator<AuditEvent> {
  if (encryptionKey !== undefined) assertEncryptionKey(encryptionKey);
  let n = 0;
  for (const sourceId of await wantedSources(dir, filter)) {
    for (const f of await chainFiles(dir, sourceId, archiveDirs)) {
      if (f.path === null) continue;
      for await (const { event } of readSegmentEvents(f.path, sourceId, encryptionKey)) {
        if (!matchesEvent(event, filter)) continue;
        yield event;
        if (filter.limit !== undefined && ++n >= filter.limit) return;
      }
    }
  }
}

/** The archived segments `scanMatching` cannot read for this filter, in the order it would have read them. */
export async function scanMissing(dir: string, filter: EventFilter, encryptionKey: Buffer | undefined, archiveDirs: readonly string[] = []): Promise<QueryMissingSegment[]> {
  const out: QueryMissingSegment[] = [];
  for (const sourceId of await wantedSources(dir, filter)) out.push(...(await unreadableSegments(sourceId, await chainFiles(dir, sourceId, archiveDirs), encryptionKey)));
  return out;
}

async function wantedSources(dir: string, filter: EventFilter): Promise<string[]> {
  const all = await listSources(dir);
  return filter.sources === undefined ? all : all.filter((s) => filter.sources?.includes(s));
}

class OutputClosed extends Error {}

/**
 * Writes the matching events; returns how many (-1 when the reader went
 * away). A reader that goes away
 * (`| head`: EPIPE) ends the output quietly, as Unix tools do.
 */
export async function writeEvents(events: AsyncIterable<AuditEvent>, o: QueryOutput): Promise<number> {
  let failure: NodeJS.ErrnoException | null = null;
  const onError = (e: NodeJS.ErrnoException): void => {
    failure = e;
  };
  o.out.on('error', onError);
  const write = async (s: string): Promise<void> => {
    if (failure !== null) throw (failure as NodeJS.ErrnoException).code === 'EPIPE' ? new OutputClosed() : failure;
    if (!o.out.write(s)) {
      try {
        await once(o.out, 'drain');
      } catch (e) {
        throw (e as NodeJS.ErrnoException).code === 'EPIPE' ? new OutputClosed() : e;
      }
    }
  };
  try {
    if (o.preamble !== undefined) await write(o.preamble);
    return await writeAll(events, o, write);
  } catch (e) {
    if (e instanceof OutputClosed) return -1;
    throw e;
  } finally {
    o.out.off('error', onError);
  }
}

async function writeAll(events: AsyncIterable<AuditEvent>, o: QueryOutput, write: (s: string) => Promise<void>): Promise<number> {
  let count = 0;
  if (o.format === 'table') {
    const sample: string[][] = [];
    let widths: number[] | null = null;
    for await (const e of events) {
      count++;
      if (widths === null) {
        sample.push(eventCells(e));
        if (sample.length < TABLE_SAMPLE) continue;
        widths = fitWidths(COLUMNS, sample, o.width);
        await write(tableLine(COLUMNS, widths));
        for (const r of sample) await write(tableLine(r, widths));
        continue;
      }
      await write(tableLine(eventCells(e), widths));
    }
    if (widths === null) {
      widths = fitWidths(COLUMNS, sample, o.width);
      await write(tableLine(COLUMNS, widths));
      for (const r of sample) await write(tableLine(r, widths));
    }
    return count;
  }
  if (o.format === 'csv') await write(csvLine(COLUMNS));
  for await (const e of events) {
    count++;
    await write(o.format === 'csv' ? csvLine(eventCells(e)) : jsonlLine(e));
  }
  return count;
}
