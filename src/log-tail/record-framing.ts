/**
 * Where one log record ends. Only complete records are consumed: bytes
 * after the last record boundary wait for the writer to finish them.
 *
 * - `lines`: one record per line (jsonlog escapes newlines inside JSON
 *   strings; server_audit escapes them as `\n`).
 * - `csv`: PostgreSQL's csvlog quotes fields holding commas, quotes or
 *   newlines (RFC 4180, quotes doubled), so a newline ends a record only
 *   outside quotes.
 */
export type Framing = 'lines' | 'csv';

export interface FramedRecords {
  /** [start, end) byte ranges of complete records, end just after the newline. */
  readonly records: Array<readonly [number, number]>;
  /** Bytes consumed (end of the last complete record). */
  readonly consumed: number;
}

export function frameRecords(buf: Buffer, framing: Framing): FramedRecords {
  const records: Array<readonly [number, number]> = [];
  let start = 0;
  if (framing === 'lines') {
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      records.push([start, nl + 1]);
      start = nl + 1;
    }
    return { records, consumed: start };
  }
  let inQuote = false;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (b === 0x22) inQuote = !inQuote;
    else if (b === 0x0a && !inQuote) {
      records.push([start, i + 1]);
      start = i + 1;
    }
  }
  return { records, consumed: start };
}
