/**
 * The dedupe window against a plain model (a Set and an array in insertion
 * order): same answers for every id, through table growth, ring wrap-around,
 * backward-shift deletion and ids that are not hex digests.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DedupeWindow } from '../../src/store/dedupe-window.js';
import { eventId } from '../../src/core/ids.js';
import { rng } from './seeded-random.js';

class Model {
  readonly ids: string[] = [];
  constructor(readonly capacity: number) {}
  has(id: string): boolean {
    return this.ids.includes(id);
  }
  add(id: string): void {
    if (this.has(id)) return;
    this.ids.push(id);
    if (this.ids.length > this.capacity) this.ids.shift();
  }
}


describe('DedupeWindow', () => {
  it('remembers exactly the newest `capacity` ids, as a Set would', () => {
    for (const capacity of [1, 7, 300, 2500]) {
      const w = new DedupeWindow(capacity);
      const m = new Model(capacity);
      const next = rng(capacity);
      const pool: string[] = [];
      for (let i = 0; i < capacity * 4 + 50; i++) {
        const r = next();
        // Mostly fresh digests, some repeats, a few ids of another shape.
        const id = r < 0.7 || pool.length === 0 ? eventId('s', String(i), null, i) : r < 0.95 ? pool[Math.floor(next() * pool.length)]! : `other-${Math.floor(next() * 50)}`;
        pool.push(id);
        expect(w.has(id)).toBe(m.has(id));
        w.add(id);
        m.add(id);
        expect(w.size).toBe(m.ids.length);
      }
      for (const id of pool) expect(w.has(id)).toBe(m.has(id));
    }
  });

  it('keeps probe chains intact when ids that share a home slot are evicted', () => {
    // Ids whose first 32 bits are equal all hash to one slot: a long probe chain that wraps the table.
    const colliding = (i: number): string => 'ffffffff' + createHash('sha256').update(String(i)).digest('hex').slice(0, 24);
    const w = new DedupeWindow(40);
    const m = new Model(40);
    for (let i = 0; i < 200; i++) {
      const id = i % 3 === 0 ? colliding(i) : eventId('s', String(i), null, 0);
      w.add(id);
      m.add(id);
      for (let j = Math.max(0, i - 60); j <= i; j++) {
        const probe = j % 3 === 0 ? colliding(j) : eventId('s', String(j), null, 0);
        expect(w.has(probe), `id ${j} after adding ${i}`).toBe(m.has(probe));
      }
    }
  });

  it('treats upper-case or short ids as other ids, exactly', () => {
    const w = new DedupeWindow(10);
    const id = eventId('s', '1', null, 0);
    w.add(id.toUpperCase());
    expect(w.has(id)).toBe(false);
    expect(w.has(id.toUpperCase())).toBe(true);
    w.add('abc');
    expect(w.has('abc')).toBe(true);
    expect(w.has('abd')).toBe(false);
  });
});
