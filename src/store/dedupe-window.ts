/**
 * Ids of the most recent events of a chain, bounded. Replays after a crash
 * restart at the newest checkpoint, so only events written after it can come
 * again; a window far larger than any transaction covers them while keeping
 * memory bounded: about 140 bytes per id, 14 MB per chain at the default
 * 100,000 (measured; the 32-character id is a slice that keeps its
 * 64-character digest alive). A daemon's heap grows by that much during its
 * first 100,000 events per chain and then stays flat (bench/soak/RESULTS.md).
 */
export class DedupeWindow {
  readonly #capacity: number;
  readonly #set = new Set<string>();
  readonly #ring: (string | undefined)[];
  #next = 0;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
    this.#ring = new Array<string | undefined>(this.#capacity);
  }

  has(id: string): boolean {
    return this.#set.has(id);
  }

  add(id: string): void {
    if (this.#set.has(id)) return;
    const old = this.#ring[this.#next];
    if (old !== undefined) this.#set.delete(old);
    this.#ring[this.#next] = id;
    this.#set.add(id);
    this.#next = (this.#next + 1) % this.#capacity;
  }

  get size(): number {
    return this.#set.size;
  }
}
