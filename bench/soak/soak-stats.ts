/** Slope, peak and late/early ratio of a sampled series ([minute, value] pairs). */
export type Series = Array<[number, number]>;

export interface SeriesSummary {
  readonly peak: number;
  /** Least-squares slope, units per minute. */
  readonly slopePerMinute: number;
  /** Median of the second fifth of the run (after warm-up): the baseline. */
  readonly early: number;
  /** Median of the last fifth. */
  readonly late: number;
  readonly ratio: number;
}

export function summarize(s: Series): SeriesSummary {
  const n = s.length;
  const peak = Math.max(...s.map(([, v]) => v));
  const mx = s.reduce((a, [x]) => a + x, 0) / n;
  const my = s.reduce((a, [, y]) => a + y, 0) / n;
  const num = s.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = s.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  const fifth = Math.max(1, Math.floor(n / 5));
  const early = median(s.slice(fifth, 2 * fifth).map(([, v]) => v));
  const late = median(s.slice(n - fifth).map(([, v]) => v));
  return { peak, slopePerMinute: den === 0 ? 0 : num / den, early, late, ratio: early === 0 ? (late === 0 ? 1 : Infinity) : late / early };
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}
