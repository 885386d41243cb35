/**
 * Report time handling. Events carry UTC with microseconds as text, which
 * sorts chronologically, so ranges are compared as strings and never pass
 * through a lossy Date. Local wall-clock time (working hours, date-only
 * bounds) comes from Intl with the configured IANA zone, which follows
 * daylight-saving changes.
 */
import { usageError } from '../core/errors.js';
import { assertTimeZone } from './config.js';

export interface TimeRange {
  /** Inclusive, UTC ISO with microseconds; null: unbounded. */
  readonly from: string | null;
  /** Exclusive. */
  readonly to: string | null;
}

export interface LocalTime {
  /** 0 = Sunday. */
  readonly weekday: number;
  /** Minutes since local midnight. */
  readonly minutes: number;
  /** YYYY-MM-DD HH:MM in the zone. */
  readonly text: string;
}

const WEEKDAY_INDEX: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** Converts UTC instants to local wall-clock time; cached per UTC minute (events cluster heavily). */
export class ZoneClock {
  readonly zone: string;
  readonly #fmt: Intl.DateTimeFormat;
  readonly #cache = new Map<string, LocalTime>();

  constructor(zone: string) {
    assertTimeZone(zone);
    this.zone = zone;
    this.#fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    });
  }

  /** `iso`: an event time (UTC). Zones differ from UTC by whole minutes, so the minute prefix decides. */
  local(iso: string): LocalTime {
    const minute = iso.slice(0, 16);
    let lt = this.#cache.get(minute);
    if (!lt) {
      lt = this.#compute(Date.parse(`${minute}:00Z`));
      if (this.#cache.size > 100_000) this.#cache.clear();
      this.#cache.set(minute, lt);
    }
    return lt;
  }

  #compute(ms: number): LocalTime {
    const p: Record<string, string> = {};
    for (const part of this.#fmt.formatToParts(new Date(ms))) p[part.type] = part.value;
    return {
      weekday: WEEKDAY_INDEX[p['weekday']!] ?? 0,
      minutes: Number(p['hour']) * 60 + Number(p['minute']),
      text: `${p['year']}-${p['month']}-${p['day']} ${p['hour']}:${p['minute']}`,
    };
  }

  /** The UTC instant (ms) of a local wall-clock time in this zone. */
  toUtcMs(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
    const wall = Date.UTC(y, mo - 1, d, h, mi, s);
    // Offset at the guess, then once more at the corrected instant (DST edges).
    let utc = wall - this.#offsetMs(wall);
    utc = wall - this.#offsetMs(utc);
    return utc;
  }

  #offsetMs(utcMs: number): number {
    const p: Record<string, string> = {};
    const fmt = new Intl.DateTimeFormat('en-US', { timeZone: this.zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    for (const part of fmt.formatToParts(new Date(utcMs))) p[part.type] = part.value;
    const asUtc = Date.UTC(Number(p['year']), Number(p['month']) - 1, Number(p['day']), Number(p['hour']), Number(p['minute']), Number(p['second']));
    return asUtc - Math.floor(utcMs / 1000) * 1000;
  }
}

const BOUND = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * Parses a --from/--to value: `2026-11-26` (a local date in the report's
 * zone; as --to it means the end of that day), `2026-11-26T08:00` (local),
 * or an absolute instant with `Z` or an offset.
 */
export function parseBound(value: string, clock: ZoneClock, which: 'from' | 'to'): string {
  const m = BOUND.exec(value.trim());
  if (!m) {
    throw usageError('E_REPORT_TIME', `--${which} "${value}" is not a date or time`, 'use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS[.ffffff]] (in the report time zone) or add Z / an offset for UTC');
  }
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const dateOnly = h === undefined;
  const micros = (frac ?? '').padEnd(6, '0');
  let ms: number;
  if (zone !== undefined) {
    const base = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0));
    const sign = zone === 'Z' ? 0 : zone.startsWith('-') ? -1 : 1;
    const offMin = zone === 'Z' ? 0 : Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6));
    ms = base - sign * offMin * 60_000;
  } else {
    ms = clock.toUtcMs(Number(y), Number(mo), Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0));
  }
  if (dateOnly && which === 'to') {
    // The end of that local day: the start of the next one (found through the zone, as days can be 23 or 25 hours).
    const next = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d) + 1));
    ms = clock.toUtcMs(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), 0, 0, 0);
  }
  if (Number.isNaN(ms)) throw usageError('E_REPORT_TIME', `--${which} "${value}" is not a valid date`, 'check the day and month');
  return `${new Date(ms).toISOString().slice(0, 19)}.${micros}Z`;
}

export function parseRange(from: string | undefined, to: string | undefined, clock: ZoneClock): TimeRange {
  const range = { from: from ? parseBound(from, clock, 'from') : null, to: to ? parseBound(to, clock, 'to') : null };
  if (range.from && range.to && range.from >= range.to) {
    throw usageError('E_REPORT_TIME', `--from (${range.from}) is not before --to (${range.to})`, 'swap the values or widen the range');
  }
  return range;
}

/**
 * SQL condition on e.time for a range, with its parameters. `filterOnly`
 * writes `+e.time`, which keeps SQLite from choosing the time index for a
 * query that a more selective index (one patient) answers better, whatever
 * the planner's statistics say.
 */
export function rangeSql(range: TimeRange, opts: { filterOnly?: boolean } = {}): { sql: string; params: string[] } {
  const parts: string[] = [];
  const params: string[] = [];
  const col = opts.filterOnly ? '+e.time' : 'e.time';
  if (range.from) {
    parts.push(`${col} >= ?`);
    params.push(range.from);
  }
  if (range.to) {
    parts.push(`${col} < ?`);
    params.push(range.to);
  }
  return { sql: parts.length ? parts.join(' AND ') : '1 = 1', params };
}
