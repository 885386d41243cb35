/**
 * `query` by full scan: every event of the store through `matchesEvent`.
 * Writes respect stdout backpressure, so memory stays flat on large stores.
 */
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import type { AuditEvent } from '../core/event.js';
import { readEvents } from '../store/reader.js';
import { matchesEvent, type EventFilter } from './filter.js';
import { COLUMNS, csvLine, eventCells, fitWidths, jsonlLine, tableLine, type OutputFormat } from './format.js';

export interface QueryOutput {
  readonly out: Writable;
  readonly format: OutputFormat;
  /** Terminal width for the table format (Infinity: no truncation). */
  readonly width: number;
}

/** Rows used to size table columns before streaming the rest. */
const TABLE_SAMPLE = 200;

export async function* scanMatching(dir: string, filter: EventFilter, encryptionKey: Buffer | undefined): AsyncGenerator<AuditEvent> {
  let n = 0;
  const opts = { ...(encryptionKey === undefined ? {} : { encryptionKey }), ...(filter.sources === undefined ? {} : { sources: filter.sources }) };
  for await (const { event } of readEvents(dir, opts)) {
    if (!matchesEvent(event, filter)) continue;
    yield event;
    if (filter.limit !== undefined && ++n >= filter.limit) return;
  }
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
