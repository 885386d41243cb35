/** A progress line on a terminal (stderr) for long verify runs. */
export interface ProgressMeter {
  total(bytes: number): void;
  add(bytes: number): void;
  done(): void;
}

export function progressMeter(stream: NodeJS.WriteStream, everyMs = 200): ProgressMeter {
  let total = 0;
  let seen = 0;
  let last = 0;
  let drawn = false;
  const started = Date.now();
  const draw = (): void => {
    const pct = total > 0 ? Math.min(100, (seen / total) * 100) : 0;
    const width = 30;
    const fill = Math.round((pct / 100) * width);
    const mbs = seen / 1e6 / Math.max(0.001, (Date.now() - started) / 1000);
    stream.write(`\rverify [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${pct.toFixed(0).padStart(3)}% ${(seen / 1e6).toFixed(0)}/${(total / 1e6).toFixed(0)} MB ${mbs.toFixed(0)} MB/s`);
    drawn = true;
  };
  return {
    total: (b) => {
      total = b;
    },
    add: (b) => {
      seen += b;
      const now = Date.now();
      if (now - last >= everyMs) {
        last = now;
        draw();
      }
    },
    done: () => {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}
