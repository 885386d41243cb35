import { describe, expect, it } from 'vitest';
import { parseBound, parseRange, ZoneClock } from '../../src/report/index.js';

describe('report time handling', () => {
  const ny = new ZoneClock('America/New_York');

  it('reads date-only bounds as local days, across a daylight-saving change', () => {
    // 2026-03-08 is the 23-hour day on which New York moves from EST (-5) to EDT (-4).
    expect(parseBound('2026-03-08', ny, 'from')).toBe('2026-03-08T05:00:00.000000Z');
    expect(parseBound('2026-03-08', ny, 'to')).toBe('2026-03-09T04:00:00.000000Z');
    expect(parseBound('2026-11-26T08:00', ny, 'from')).toBe('2026-11-26T13:00:00.000000Z');
  });

  it('keeps absolute instants and their microseconds exact', () => {
    expect(parseBound('2026-11-26T08:00:00.5+01:00', ny, 'from')).toBe('2026-11-26T07:00:00.500000Z');
    expect(parseBound('2026-11-26T08:00:00.123456Z', ny, 'to')).toBe('2026-11-26T08:00:00.123456Z');
  });

  it('rejects malformed and inverted ranges with a fix', () => {
    expect(() => parseBound('26/11/2026', ny, 'from')).toThrow(/is not a date or time/);
    expect(() => parseRange('2026-11-27', '2026-11-26', ny)).toThrow(/not before/);
    expect(() => new ZoneClock('Mars/Olympus')).toThrow(/unknown time zone/);
  });

  it('converts event times to local wall-clock time and weekday', () => {
    expect(ny.local('2026-07-01T12:00:00.000000Z')).toEqual({ weekday: 3, minutes: 8 * 60, text: '2026-07-01 08:00' });
    expect(new ZoneClock('Asia/Kolkata').local('2026-11-26T00:00:00.000001Z')).toEqual({ weekday: 4, minutes: 5 * 60 + 30, text: '2026-11-26 05:30' });
  });
});
