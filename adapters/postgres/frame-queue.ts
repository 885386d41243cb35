/**
 * The bounded hand-off between the socket (push, synchronous, in stream
 * order) and the consumer (pull, async). At `high` items or `highBytes` of
 * queued pgoutput the socket is paused; once both are down to `low` and
 * `lowBytes` it is resumed. The byte bound is what holds wide rows: 2,000
 * frames of 100 KB documents would be 200 MB. Frames already read from one
 * socket chunk still arrive while paused, so each bound is exceeded by at
 * most one chunk (and one frame).
 */
export type Frame =
  /** A pgoutput message, not yet decoded (see StreamHandlers.data). */
  | { readonly kind: 'data'; readonly bytes: Buffer }
  | { readonly kind: 'keepalive'; readonly walEnd: bigint }
  | { readonly kind: 'end'; readonly error: unknown };

export class FrameQueue {
  /** Taken frames are cleared (undefined) until the front is spliced off, so their bytes are not kept. */
  readonly #items: (Frame | undefined)[] = [];
  #head = 0;
  #waiter: (() => void) | null = null;
  #paused = false;
  #bytes = 0;

  constructor(
    private readonly high: number,
    private readonly low: number,
    private readonly flow: { pause(): void; resume(): void },
    private readonly highBytes: number = 4 * 1024 * 1024,
    private readonly lowBytes: number = 1024 * 1024,
  ) {}

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Bytes of the data frames queued. */
  get bytes(): number {
    return this.#bytes;
  }

  push(frame: Frame): void {
    // Consecutive keepalives say the same thing; keep the newest only.
    const last = this.#items[this.#items.length - 1];
    if (frame.kind === 'keepalive' && last?.kind === 'keepalive' && this.size > 0) {
      this.#items[this.#items.length - 1] = frame;
    } else {
      this.#items.push(frame);
      if (frame.kind === 'data') this.#bytes += frame.bytes.length;
    }
    if (!this.#paused && (this.size >= this.high || this.#bytes >= this.highBytes)) {
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
    this.#items[this.#head] = undefined;
    this.#head++;
    if (frame.kind === 'data') this.#bytes -= frame.bytes.length;
    if (this.#head > 4096 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
    if (this.#paused && this.size <= this.low && this.#bytes <= this.lowBytes) {
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
