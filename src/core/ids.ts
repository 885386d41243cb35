/**
 * Deterministic event ids and exact time formatting.
 *
 * An id is derived only from where the change sits in the source (source
 * id, commit position, transaction id, index within the transaction, and a
 * kind tag), never from wall-clock time, so a replay after a crash produces
 * the same id and the store can drop it.
 */
import { sha256Hex } from './canonical.js';

export function eventId(sourceId: string, position: string, txId: string | null, index: number, kind = 'change'): string {
  return sha256Hex(`${sourceId}\u0000${position}\u0000${txId ?? ''}\u0000${index}\u0000${kind}`).slice(0, 32);
}

/** Date -> UTC ISO 8601 with six fractional digits (the extra three are zero). */
export function isoMicros(date: Date, extraMicros = 0): string {
  const iso = date.toISOString(); // 2026-11-26T10:00:00.123Z
  return `${iso.slice(0, 23)}${String(extraMicros).padStart(3, '0')}Z`;
}

/**
 * The current time as UTC ISO 8601 with microseconds: the monotonic clock
 * (process.hrtime) anchored to the wall clock.
 *
 * The anchor is taken the moment Date.now() ticks over to a new
 * millisecond, so it is exact to a few microseconds. Taken at an arbitrary
 * moment it was up to 1 ms early, and `recorded_at` could precede the
 * source's own commit time (bench/postgres latency showed a median of
 * -0.3 ms). Once a second at most, the two clocks are compared again, and
 * a wall clock that was stepped (or drifted 1 ms apart) is followed.
 */
export function nowMicros(): string {
  let hr = process.hrtime.bigint();
  if (hr - clock.checkedHr > 1_000_000_000n) {
    clock.checkedHr = hr;
    // Date.now() truncates: the derived time is 0..1 ms ahead of it when the clocks agree.
    const ahead = hr - clock.hr + clock.wallNs - BigInt(Date.now()) * 1_000_000n;
    if (ahead < -100_000n || ahead > 1_100_000n) {
      clock = anchorClock();
      hr = process.hrtime.bigint();
    }
  }
  const ns = hr - clock.hr + clock.wallNs;
  const ms = Number(ns / 1_000_000n);
  const micros = Number((ns / 1_000n) % 1_000n);
  return isoMicros(new Date(ms), micros);
}

interface ClockAnchor {
  /** hrtime at the anchor, and the wall clock then, in ns since the epoch. */
  readonly hr: bigint;
  readonly wallNs: bigint;
  checkedHr: bigint;
}

function anchorClock(): ClockAnchor {
  // A round can only read hrtime late (the first calls are slow, and the
  // thread may be preempted between seeing the tick and reading hrtime),
  // which makes wall - hr too small; so the largest of a few rounds is the
  // best estimate. Each round spins at most 1 ms, at start-up and after a
  // clock step.
  let best: bigint | null = null;
  for (let round = 0; round < 4; round++) {
    const start = Date.now();
    let now = start;
    // Bounded: a wall clock that does not move (a test's fake timers) must not hang the caller.
    const giveUp = process.hrtime.bigint() + 5_000_000n;
    while (now === start && process.hrtime.bigint() < giveUp) now = Date.now();
    const hr = process.hrtime.bigint();
    const offset = BigInt(now) * 1_000_000n - hr;
    if (best === null || offset > best) best = offset;
  }
  const hr = process.hrtime.bigint();
  return { hr, wallNs: hr + (best as bigint), checkedHr: hr };
}

let clock = anchorClock();

/**
 * Microseconds since the Unix epoch (bigint, exact) -> ISO with microseconds.
 * PostgreSQL's commit timestamps are microseconds since 2000-01-01; convert
 * with `PG_EPOCH_MICROS` first.
 */
export function microsToIso(micros: bigint): string {
  const ms = micros / 1000n;
  let rem = micros % 1000n;
  let msAdj = ms;
  if (rem < 0n) {
    rem += 1000n;
    msAdj -= 1n;
  }
  return isoMicros(new Date(Number(msAdj)), Number(rem));
}

/** Microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch). */
export const PG_EPOCH_MICROS = 946_684_800_000_000n;
