/**
 * Log timestamps -> UTC ISO 8601 with microseconds (the event contract).
 * PostgreSQL's jsonlog and csvlog carry milliseconds (`%m`): the last three
 * digits are zero-filled. MariaDB's server_audit carries whole seconds in
 * the server's local time.
 */

/** `2026-11-26 10:07:21.664 UTC` (also GMT, or a numeric zone such as +02, -0530). */
const PG_TS = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? (UTC|GMT|[+-]\d{2}(?::?\d{2})?)$/;

export function pgLogTime(text: string): string | null {
  const m = PG_TS.exec(text);
  if (m === null) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  return toUtc(`${y}-${mo}-${d}T${h}:${mi}:${s}`, (frac ?? '').padEnd(6, '0'), zone === 'UTC' || zone === 'GMT' ? 0 : offsetMinutes(zone!));
}

/** `20261126 10:07:38` in a fixed offset from UTC (server_audit writes local time). */
const MARIADB_TS = /^(\d{4})(\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

export function mariadbAuditTime(text: string, offsetMin: number): string | null {
  const m = MARIADB_TS.exec(text);
  if (m === null) return null;
  const [, y, mo, d, h, mi, s] = m;
  return toUtc(`${y}-${mo}-${d}T${h}:${mi}:${s}`, '000000', offsetMin);
}

/** `+02:00`, `-0530`, `+02` -> minutes east of UTC; null when malformed. */
export function parseOffset(text: string): number | null {
  if (text === 'UTC' || text === 'Z') return 0;
  if (!/^[+-]\d{2}(?::?\d{2})?$/.test(text)) return null;
  return offsetMinutes(text);
}

function offsetMinutes(zone: string): number {
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
}

/**
 * Consecutive records nearly always share their second: remember the last
 * conversion (Date parsing and formatting dominated the per-record cost).
 */
let lastKey = '';
let lastSeconds: string | null = null;

function toUtc(localIsoSeconds: string, micros: string, offsetMin: number): string | null {
  const key = `${localIsoSeconds}${offsetMin}`;
  if (key !== lastKey) {
    lastSeconds = utcSeconds(localIsoSeconds, offsetMin);
    lastKey = key;
  }
  return lastSeconds === null ? null : `${lastSeconds}.${micros}Z`;
}

function utcSeconds(localIsoSeconds: string, offsetMin: number): string | null {
  const ms = Date.parse(`${localIsoSeconds}Z`);
  if (Number.isNaN(ms)) return null;
  // Date.parse rolls 2026-02-30 over to March; a real log never writes it, a hostile one may.
  if (new Date(ms).toISOString().slice(0, 19) !== localIsoSeconds) return null;
  return new Date(ms - offsetMin * 60_000).toISOString().slice(0, 19);
}
