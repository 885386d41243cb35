/**
 * "Did you mean ...?" for names a user typed: the closest candidate by edit
 * distance, when it is close enough to be the likely intent. Comparison is
 * case-insensitive, so `Patient_ID` finds `patient_id` (a case slip is the
 * most common one, and MySQL column names ignore case where dbwitness's
 * lookups do not).
 */

/** Levenshtein distance, two rows of the table at a time. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The candidate closest to `name`, if within a third of the name's length
 * (at least 1, at most 3 edits); null when nothing is that close.
 */
export function similarName(name: string, candidates: Iterable<string>): string | null {
  const wanted = name.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(wanted.length / 3)));
  let best: string | null = null;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    const d = editDistance(wanted, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}
