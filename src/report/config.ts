/**
 * The `reports` section of the config file.
 *
 * @example
 * ```yaml
 * reports:
 *   time_zone: America/New_York      # IANA zone; working hours and --from/--to dates are read in it
 *   working_hours: { start: "07:00", end: "19:00", days: [mon, tue, wed, thu, fri] }
 *   bulk: { patients: 20, rows: 1000 }
 * ```
 */
import { z } from 'zod';
import { usageError } from '../core/errors.js';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const CLOCK = z.string().regex(/^([01]\d|2[0-4]):[0-5]\d$/, 'a time of day as HH:MM (24-hour clock)');

export const WorkingHours = z
  .object({
    start: CLOCK.default('07:00'),
    end: CLOCK.default('19:00'),
    days: z.array(z.enum(WEEKDAYS)).default(['mon', 'tue', 'wed', 'thu', 'fri']),
  })
  .strict();
export type WorkingHours = z.infer<typeof WorkingHours>;

export const ReportsConfig = z
  .object({
    time_zone: z.string().default('UTC'),
    working_hours: WorkingHours.default({ start: '07:00', end: '19:00', days: ['mon', 'tue', 'wed', 'thu', 'fri'] }),
    bulk: z
      .object({
        /** A transaction or session touching more distinct patients than this is listed. */
        patients: z.number().int().positive().default(20),
        /** ... or more rows than this. */
        rows: z.number().int().positive().default(1000),
      })
      .strict()
      .default({ patients: 20, rows: 1000 }),
  })
  .strict();
export type ReportsConfig = z.infer<typeof ReportsConfig>;

/** Throws a usage error unless `tz` is an IANA time zone this Node knows. */
export function assertTimeZone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw usageError('E_REPORT_TIME_ZONE', `unknown time zone "${tz}"`, 'use an IANA name such as UTC, Europe/Berlin or America/New_York');
  }
}

/** "07:00" -> 420 */
export function clockMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}
