/**
 * Working hours in a time zone, for the after-hours rule. Uses the ICU data
 * Node ships (Intl), so daylight-saving changes are honoured.
 */
import { usageError } from '../core/errors.js';

export interface WorkingHours {
  readonly start: string; // HH:MM
  readonly end: string; // HH:MM, exclusive
  readonly days: readonly number[]; // ISO weekday, 1 = Monday
  readonly time_zone: string;
}

const WEEKDAY: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

export class WorkingHoursClock {
  readonly #fmt: Intl.DateTimeFormat;
  readonly #start: number;
  readonly #end: number;
  readonly #days: ReadonlySet<number>;

  constructor(h: WorkingHours) {
    try {
      this.#fmt = new Intl.DateTimeFormat('en-US', { timeZone: h.time_zone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    } catch {
      throw usageError('E_CONFIG_TIME_ZONE', `alerts.rules.after_hours.time_zone "${h.time_zone}" is not a known time zone`, 'use an IANA name such as Europe/Berlin or America/New_York');
    }
    this.#start = minutes(h.start);
    this.#end = minutes(h.end);
    this.#days = new Set(h.days);
  }

  /** True when `date` falls on a working day between start (inclusive) and end (exclusive). */
  isWorkingTime(date: Date): boolean {
    const parts = this.#fmt.formatToParts(date);
    const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '';
    const day = WEEKDAY[get('weekday')] ?? 0;
    const m = Number(get('hour')) * 60 + Number(get('minute'));
    if (!this.#days.has(day)) return false;
    // A window crossing midnight (e.g. 22:00-06:00 night shift) wraps.
    return this.#start <= this.#end ? m >= this.#start && m < this.#end : m >= this.#start || m < this.#end;
  }
}

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}
