/**
 * A ChangeSource over a server log: each relevant record becomes a
 * one-record transaction (begin, identity, change, commit) whose commit
 * carries the record's cursor as checkpoint. Records that are irrelevant or
 * unreadable advance the checkpoint through `idle`, so a restart never
 * re-reads them and never skips a record that produced an event.
 *
 * Log lines are untrusted input (any client can put quotes, newlines or
 * megabytes into a statement): an unreadable record is counted by reason,
 * reported as a count (never its content, which can hold PHI) in a warn log
 * and in a `log_records_rejected` alert, and never stops the source.
 */
import type { Logger } from 'pino';
import type { Source } from '../core/event.js';
import type { ChangeSource, RowChange, SessionIdentity, SourceMessage } from '../core/ports.js';
import { nowMicros } from '../core/ids.js';
import { decodeCursor, encodeCursor, type LogCursor } from './log-cursor.js';
import { tailLog, type TailOptions } from './log-tailer.js';

export type LogInterpretation =
  /** One record may name several objects (a join read through server_audit's TABLE events): one change each. */
  | { readonly kind: 'event'; readonly time: string; readonly identity: SessionIdentity; readonly changes: readonly RowChange[] }
  | { readonly kind: 'skip' }
  | { readonly kind: 'bad'; readonly reason: string };

export type Interpreter = ((record: Buffer, at?: RecordAt) => LogInterpretation) & {
  /**
   * Offset of the oldest record of `fileId` whose context the interpreter
   * still holds (null: none). Checkpoints then ask to replay from there.
   */
  readonly heldSince?: (fileId: string) => number | null;
};

/** Where a record sits: its file's identity and byte offset. */
export interface RecordAt {
  readonly fileId: string;
  readonly offset: number;
}

/** Context is replayed at most this far back; older held records are given up. */
const MAX_REPLAY_BYTES = 4 * 1024 * 1024;

export interface LogSourceOptions {
  readonly source: Source;
  readonly tail: TailOptions;
  /** Builds a fresh interpreter per `messages()` call (interpreters may keep per-connection state). */
  readonly interpreter: () => Interpreter;
  readonly logger: Logger;
  /** Rejected records are reported at most this often while records keep arriving (ms). */
  readonly reportEveryMs?: number;
}

export interface RejectionStats {
  total: number;
  byReason: Record<string, number>;
}

export class LogChangeSource implements ChangeSource {
  readonly source: Source;
  readonly #o: LogSourceOptions;
  readonly #log: Logger;
  readonly rejected: RejectionStats = { total: 0, byReason: {} };
  #lastAck: string | null = null;

  constructor(options: LogSourceOptions) {
    this.#o = options;
    this.source = options.source;
    this.#log = options.logger.child({ component: 'log-source', source: options.source.id });
  }

  get lastAcknowledged(): string | null {
    return this.#lastAck;
  }

  async *messages(checkpoint: string | null, signal: AbortSignal): AsyncGenerator<SourceMessage> {
    const from = checkpoint === null ? null : decodeCursor(checkpoint);
    const interpret = this.#o.interpreter();
    // Records before the checkpoint are re-read only to restore context, never emitted again.
    const replayUntil = from?.replay !== undefined ? from.offset : null;
    const tailFrom = from === null ? null : from.replay !== undefined ? { ...from, offset: from.replay } : from;
    // The tailer names files `${dev}:${ino}:${head}`; a copy read after copytruncate keeps the original's name.
    const replayFile = from === null ? null : `${from.dev}:${from.ino}:${from.head}`;
    const tokenFor = (cursor: LogCursor, fileId: string): string => {
      const held = interpret.heldSince?.(fileId) ?? null;
      if (held === null || held >= cursor.offset || cursor.offset - held > MAX_REPLAY_BYTES) return encodeCursor(cursor);
      return encodeCursor({ dev: cursor.dev, ino: cursor.ino, name: cursor.name, head: cursor.head, gen: cursor.gen, offset: cursor.offset, replay: held });
    };
    // Progress past records that produced no event; encoded only when sent (most records are skipped on a quiet log).
    let idle: { cursor: LogCursor; fileId: string } | null = null;
    const idleMessage = (): SourceMessage | null => (idle === null ? null : { kind: 'idle', checkpoint: tokenFor(idle.cursor, idle.fileId) });
    let unreported: RejectionStats = { total: 0, byReason: {} };
    let lastBadPosition = '';
    let lastReport = Date.now();
    const reportEvery = this.#o.reportEveryMs ?? 60_000;
    const reject = (reason: string, position: string): void => {
      this.rejected.total++;
      this.rejected.byReason[reason] = (this.rejected.byReason[reason] ?? 0) + 1;
      unreported.total++;
      unreported.byReason[reason] = (unreported.byReason[reason] ?? 0) + 1;
      lastBadPosition = position;
    };
    const report = (): SourceMessage | null => {
      if (unreported.total === 0) return null;
      const counts = unreported;
      unreported = { total: 0, byReason: {} };
      lastReport = Date.now();
      this.#log.warn({ rejected: counts.total, reasons: counts.byReason, position: lastBadPosition }, 'log records rejected');
      const reasons = Object.entries(counts.byReason)
        .sort()
        .map(([r, n]) => `${r}=${n}`)
        .join(',');
      return {
        kind: 'alert',
        code: 'log_records_rejected',
        message: `${counts.total} log record(s) could not be read as audit records and were skipped; the log may hold hostile or corrupted lines`,
        position: lastBadPosition,
        time: nowMicros(),
        detail: { rejected: String(counts.total), reasons },
      };
    };
    for await (const item of tailLog(this.#o.tail, tailFrom, signal)) {
      switch (item.kind) {
        case 'record': {
          const position = `${item.fileName}:${item.offset}`;
          let result: LogInterpretation;
          try {
            result = interpret(item.bytes, { fileId: item.fileId, offset: item.offset });
          } catch {
            // An interpreter bug on one hostile line must not stop the audit trail.
            result = { kind: 'bad', reason: 'interpreter_error' };
          }
          if (replayUntil !== null && item.fileId === replayFile && item.offset < replayUntil) break;
          if (result.kind === 'event' && result.changes.length > 0) {
            idle = null;
            yield { kind: 'begin', txId: `${item.fileId}:${item.offset}` };
            yield { kind: 'identity', identity: result.identity };
            for (const change of result.changes) yield { kind: 'change', change };
            yield { kind: 'commit', position, checkpoint: tokenFor(item.cursor, item.fileId), commitTime: result.time };
          } else {
            if (result.kind === 'bad') reject(result.reason, position);
            idle = { cursor: item.cursor, fileId: item.fileId };
          }
          break;
        }
        case 'oversized':
        case 'partial':
          reject(item.kind === 'oversized' ? 'record_too_long' : 'incomplete_record', `${item.fileName}:${item.offset}`);
          idle = { cursor: item.cursor, fileId: item.fileId };
          break;
        case 'gap':
          this.#log.warn({ code: item.code, file: item.fileName, offset: item.offset }, 'log gap');
          yield { kind: 'alert', code: item.code, message: item.message, position: `${item.fileName}:${item.offset}`, time: nowMicros(), detail: { file: item.fileName, offset: String(item.offset) } };
          break;
        case 'caught-up': {
          const alert = report();
          if (alert !== null) yield alert;
          const progress = idleMessage();
          if (progress !== null) yield progress;
          idle = null;
          break;
        }
      }
      if (unreported.total > 0 && Date.now() - lastReport >= reportEvery) {
        const alert = report();
        if (alert !== null) yield alert;
      }
    }
    const alert = report();
    if (alert !== null) yield alert;
    const progress = idleMessage();
    if (progress !== null) yield progress;
  }

  /** Log files belong to the server: nothing to release. Called only after the events are durable. */
  async acknowledge(checkpoint: string): Promise<void> {
    this.#lastAck = checkpoint;
  }

  async close(): Promise<void> {}
}
