/**
 * Ids of the most recent events of a chain, bounded. Replays after a crash
 * restart at the newest checkpoint, so only events written after it can come
 * again; a window far larger than any transaction covers them while keeping
 * memory bounded.
 *
 * Event ids are 32 lowercase hex digits (core/ids.ts), so each is kept as
 * 128 bits in typed arrays: an open-addressing hash table (linear probing,
 * at most half full) and a ring in insertion order. That is about 60 bytes
 * per id, 6 MB per chain at the default 100,000, where a Set of
 * the id strings measured 140 bytes per id (each id a slice keeping its
 * 64-character digest alive) and gave the garbage collector 100,000 more
 * objects per chain to trace. Both arrays grow with use, so a quiet chain
 * costs little. Any other id (a producer with its own id scheme) is kept
 * exactly, as a string, beside them.
 */
const WORDS = 4;
const MIN_SLOTS = 1024;
/** Value of each lowercase hex digit by character code; -1 for anything else. */
const HEX = new Int8Array(128).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) HEX[97 + c] = 10 + c;

export class DedupeWindow {
  readonly #capacity: number;
  /** Hash table: WORDS words per slot; `#used` marks occupied slots. */
  #keys: Uint32Array;
  #used: Uint8Array;
  #mask: number;
  #count = 0;
  /** Ids in insertion order, WORDS words each; entry `#next` is the oldest once full. */
  #ring: Uint32Array;
  #ringLen = 0;
  #next = 0;
  /** Ids that are not 32 hex digits: exact strings, at their ring entry. */
  #other: Set<string> | null = null;
  #otherAt: Map<number, string> | null = null;
  readonly #key = new Uint32Array(WORDS);

  constructor(capacity: number) {
    this.#capacity = Math.max(1, Math.floor(capacity));
    const slots = MIN_SLOTS;
    this.#keys = new Uint32Array(slots * WORDS);
    this.#used = new Uint8Array(slots);
    this.#mask = slots - 1;
    this.#ring = new Uint32Array(Math.min(this.#capacity, MIN_SLOTS) * WORDS);
  }

  has(id: string): boolean {
    if (!this.#parse(id)) return this.#other?.has(id) ?? false;
    const k = this.#key;
    return this.#find(k[0]!, k[1]!, k[2]!, k[3]!) >= 0;
  }

  add(id: string): void {
    const hex = this.#parse(id);
    const k = this.#key;
    const k0 = k[0]!, k1 = k[1]!, k2 = k[2]!, k3 = k[3]!;
    if (hex ? this.#find(k0, k1, k2, k3) >= 0 : (this.#other?.has(id) ?? false)) return;
    let at: number;
    if (this.#ringLen < this.#capacity) {
      at = this.#ringLen++;
      if (at * WORDS >= this.#ring.length) this.#growRing();
    } else {
      at = this.#next;
      this.#next = (this.#next + 1) % this.#capacity;
      this.#evict(at);
    }
    if (hex) {
      const r = this.#ring;
      const o = at * WORDS;
      r[o] = k0;
      r[o + 1] = k1;
      r[o + 2] = k2;
      r[o + 3] = k3;
      this.#insert(k0, k1, k2, k3);
    } else {
      (this.#other ??= new Set()).add(id);
      (this.#otherAt ??= new Map()).set(at, id);
    }
  }

  get size(): number {
    return this.#count + (this.#other?.size ?? 0);
  }

  /** Loads `#key` from a 32-digit lowercase hex id; false for any other id. */
  #parse(id: string): boolean {
    if (id.length !== 32) return false;
    const k = this.#key;
    for (let w = 0, i = 0; w < WORDS; w++) {
      let v = 0;
      for (const end = i + 8; i < end; i++) {
        const c = id.charCodeAt(i);
        const d = c < 128 ? HEX[c]! : -1;
        if (d < 0) return false;
        v = (v << 4) | d;
      }
      k[w] = v;
    }
    return true;
  }

  /** Slot holding the id, or -1. Ids are digests: their first word is already a uniform hash. */
  #find(k0: number, k1: number, k2: number, k3: number): number {
    const keys = this.#keys;
    const used = this.#used;
    const mask = this.#mask;
    let i = k0 & mask;
    while (used[i] === 1) {
      const o = i * WORDS;
      if (keys[o] === k0 && keys[o + 1] === k1 && keys[o + 2] === k2 && keys[o + 3] === k3) return i;
      i = (i + 1) & mask;
    }
    return -1;
  }

  /** Inserts an id known to be absent. */
  #insert(k0: number, k1: number, k2: number, k3: number): void {
    if ((this.#count + 1) * 2 > this.#used.length) this.#growTable();
    const mask = this.#mask;
    let i = k0 & mask;
    while (this.#used[i] === 1) i = (i + 1) & mask;
    const o = i * WORDS;
    const keys = this.#keys;
    keys[o] = k0;
    keys[o + 1] = k1;
    keys[o + 2] = k2;
    keys[o + 3] = k3;
    this.#used[i] = 1;
    this.#count++;
  }

  /** Forgets the id at ring entry `at`. */
  #evict(at: number): void {
    const other = this.#otherAt?.get(at);
    if (other !== undefined) {
      this.#otherAt!.delete(at);
      this.#other!.delete(other);
      return;
    }
    const r = this.#ring;
    const o = at * WORDS;
    const slot = this.#find(r[o]!, r[o + 1]!, r[o + 2]!, r[o + 3]!);
    if (slot >= 0) this.#remove(slot);
  }

  /** Backward-shift deletion: keeps every probe sequence unbroken without tombstones. */
  #remove(slot: number): void {
    const keys = this.#keys;
    const used = this.#used;
    const mask = this.#mask;
    let i = slot;
    let j = slot;
    for (;;) {
      j = (j + 1) & mask;
      if (used[j] !== 1) break;
      const home = keys[j * WORDS]! & mask;
      // The entry at j may move to i only if its home is not cyclically within (i, j].
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      keys.copyWithin(i * WORDS, j * WORDS, j * WORDS + WORDS);
      i = j;
    }
    used[i] = 0;
    this.#count--;
  }

  #growTable(): void {
    const oldKeys = this.#keys;
    const oldUsed = this.#used;
    const slots = oldUsed.length * 2;
    this.#keys = new Uint32Array(slots * WORDS);
    this.#used = new Uint8Array(slots);
    this.#mask = slots - 1;
    for (let s = 0; s < oldUsed.length; s++) {
      if (oldUsed[s] !== 1) continue;
      let i = oldKeys[s * WORDS]! & this.#mask;
      while (this.#used[i] === 1) i = (i + 1) & this.#mask;
      this.#keys.set(oldKeys.subarray(s * WORDS, s * WORDS + WORDS), i * WORDS);
      this.#used[i] = 1;
    }
  }

  #growRing(): void {
    const ring = new Uint32Array(Math.min(this.#capacity, (this.#ring.length / WORDS) * 2) * WORDS);
    ring.set(this.#ring);
    this.#ring = ring;
  }
}
