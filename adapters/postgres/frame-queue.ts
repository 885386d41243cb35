/**
 * The bounded hand-off between the socket (push, synchronous, in stream
 * order) and the consumer (pull, async). Above `high` items the socket is
 * paused; below `low` it is resumed. Frames already read from one socket
 * chunk still arrive while paused, so the bound is `high` plus one chunk.
 */
export type Frame =
  /** A pgoutput message, not yet decoded (see StreamHandlers.data). */
  | { readonly kind: 'data'; readonly bytes: Buffer }
  | { readonly kind: 'keepalive'; readonly walEnd: bigint }
  | { readonly kind: 'end'; readonly error: unknown };

export class FrameQueue {
  readonly #items: Frame[] = [];
  #head = 0;
  #waiter: (() => void) | null = null;
  #paused = false;

  constructor(
    private readonly high: number,
    private readonly low: number,
    private readonly flow: { pause(): void; resume(): void },
  ) {}

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(frame: Frame): void {
    // Consecutive keepalives say the same thing; keep the newest only.
    const last = this.#items[this.#items.length - 1];
    if (frame.kind === 'keepalive' && last?.kind === 'keepalive' && this.size > 0) {
      this.#items[this.#items.length - 1] = frame;
    } else {
      this.#items.push(frame);
    }
    if (!this.#paused && this.size >= this.high) {
      this.#paused = true;
      this.flow.pause();
    }
    this.#wake();
  }

  /** The next frame, waiting for one; null once `signal` aborted. */
  async shift(signal: AbortSignal): Promise<Frame | null> {
    while (this.size === 0) {
      if (signal.aborted) return null;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    }
    return this.take() as Frame;
  }

  /** The next frame if one is queued now, else undefined (never waits). */
  take(): Frame | undefined {
    if (this.size === 0) return undefined;
    const frame = this.#items[this.#head] as Frame;
    this.#head++;
    if (this.#head > 4096 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
    if (this.#paused && this.size <= this.low) {
      this.#paused = false;
      this.flow.resume();
    }
    return frame;
  }

  /** Wakes a waiting consumer (new frame, or abort). */
  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  interrupt(): void {
    this.#wake();
  }
}
