/**
 * A one-line progress display for long index builds, on stderr and only
 * when stderr is a terminal (logs and pipes get no carriage-return noise).
 */
import type { IndexProgress } from './update.js';

export interface ProgressLine {
  readonly onProgress: ((p: IndexProgress) => void) | undefined;
  done(): void;
}

export function progressLine(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  if (!stream.isTTY) return { onProgress: undefined, done: () => undefined };
  const started = Date.now();
  let last = 0;
  let shown = false;
  return {
    onProgress: (p) => {
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      shown = true;
      const pct = p.totalBytes > 0 ? ` ${Math.min(100, Math.floor((p.bytes / p.totalBytes) * 100))}%` : '';
      const rate = Math.round(p.events / Math.max(0.001, (now - started) / 1000));
      stream.write(`\r${label}: ${p.events.toLocaleString('en-US')} events${pct} (${rate.toLocaleString('en-US')}/s)\u001b[K`);
    },
    done: () => {
      if (shown) stream.write('\r\u001b[K');
    },
  };
}
