/**
 * One PostgreSQL log record, from either structured format:
 * - jsonlog (PG15+): one JSON object per line; absent fields are omitted.
 * - csvlog: RFC 4180 columns in the fixed order of the PostgreSQL manual
 *   ("Using CSV-Format Log Output"), 23 columns up to application_name in
 *   PG13, then backend_type (13+), leader_pid and query_id (14+).
 * Both carry the same facts; the interpreter sees only this shape.
 */
import { splitCsv } from '../../src/log-tail/index.js';

export interface PgLogRecord {
  readonly timestamp: string;
  readonly user: string | null;
  readonly dbname: string | null;
  readonly remoteHost: string | null;
  readonly remotePort: number | null;
  readonly sessionId: string | null;
  /** Command tag of the statement being run (`ps` in jsonlog, command_tag in csvlog). */
  readonly commandTag: string | null;
  readonly severity: string;
  readonly sqlstate: string | null;
  readonly message: string;
  readonly statement: string | null;
  readonly application: string | null;
}

export type ParsedRecord = { readonly ok: true; readonly record: PgLogRecord } | { readonly ok: false; readonly reason: string };

export function parseJsonlogRecord(line: string): ParsedRecord {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'not_json' };
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return { ok: false, reason: 'not_json_object' };
  const o = obj as Record<string, unknown>;
  const timestamp = o.timestamp;
  const severity = o.error_severity;
  const message = o.message;
  if (typeof timestamp !== 'string' || typeof severity !== 'string' || typeof message !== 'string') return { ok: false, reason: 'missing_fields' };
  const port = o.remote_port;
  return {
    ok: true,
    record: {
      timestamp,
      user: str(o.user),
      dbname: str(o.dbname),
      remoteHost: str(o.remote_host),
      remotePort: typeof port === 'number' && Number.isInteger(port) && port >= 0 && port <= 65535 ? port : null,
      sessionId: str(o.session_id),
      commandTag: str(o.ps),
      severity,
      sqlstate: str(o.state_code),
      message,
      statement: str(o.statement),
      application: str(o.application_name),
    },
  };
}

export function parseCsvlogRecord(text: string): ParsedRecord {
  const fields = splitCsv(text.endsWith('\n') ? text.slice(0, -1) : text);
  if (fields === null) return { ok: false, reason: 'bad_csv' };
  if (fields.length < 23) return { ok: false, reason: 'too_few_columns' };
  const f = (i: number): string | null => {
    const v = fields[i];
    return v === undefined || v === '' ? null : v;
  };
  const [host, port] = splitConnectionFrom(f(4));
  return {
    ok: true,
    record: {
      timestamp: fields[0]!,
      user: f(1),
      dbname: f(2),
      remoteHost: host,
      remotePort: port,
      sessionId: f(5),
      commandTag: f(7),
      severity: fields[11]!,
      sqlstate: f(12),
      message: fields[13]!,
      statement: f(19),
      application: f(22),
    },
  };
}

/** csvlog's connection_from is `host:port` (port last, so IPv6 works) or `[local]`. */
function splitConnectionFrom(v: string | null): [string | null, number | null] {
  if (v === null) return [null, null];
  const colon = v.lastIndexOf(':');
  if (colon < 0 || v === '[local]') return [v, null];
  const port = Number(v.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) return [v, null];
  return [v.slice(0, colon), port];
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}
