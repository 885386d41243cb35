/** Slope, peak and late/early ratio of a sampled series ([minute, value] pairs). */
export type Series = Array<[number, number]>;

export interface SeriesSummary {
  readonly peak: number;
  /** Least-squares slope, units per minute. */
  readonly slopePerMinute: number;
  /**
   * The same over the second half of the run only. Bounded caches (the
   * store's dedupe window holds the last 100,000 event ids per chain) fill
   * during the first minutes and then stay flat; a leak keeps its slope.
   */
  readonly lateSlopePerMinute: number;
  /** Median of the second fifth of the run (after warm-up): the baseline. */
  readonly early: number;
  /** Median of the last fifth. */
  readonly late: number;
  readonly ratio: number;
}

export function summarize(s: Series): SeriesSummary {
  const n = s.length;
  const peak = Math.max(...s.map(([, v]) => v));
  const fifth = Math.max(1, Math.floor(n / 5));
  const early = median(s.slice(fifth, 2 * fifth).map(([, v]) => v));
  const late = median(s.slice(n - fifth).map(([, v]) => v));
  const lateHalf = s.slice(Math.floor(n / 2));
  return { peak, slopePerMinute: slope(s), lateSlopePerMinute: slope(lateHalf), early, late, ratio: early === 0 ? (late === 0 ? 1 : Infinity) : late / early };
}

/** Least-squares slope per minute. */
function slope(s: Series): number {
  const n = s.length;
  if (n < 2) return 0;
  const mx = s.reduce((a, [x]) => a + x, 0) / n;
  const my = s.reduce((a, [, y]) => a + y, 0) / n;
  const num = s.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = s.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}
