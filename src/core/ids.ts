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

/** The current time as UTC ISO 8601 with microseconds (process.hrtime-derived). */
export function nowMicros(): string {
  const ns = process.hrtime.bigint() - HR_ORIGIN + WALL_ORIGIN_NS;
  const ms = Number(ns / 1_000_000n);
  const micros = Number((ns / 1_000n) % 1_000n);
  return isoMicros(new Date(ms), micros);
}

const WALL_ORIGIN_NS = BigInt(Date.now()) * 1_000_000n;
const HR_ORIGIN = process.hrtime.bigint();

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
