/**
 * The resume token of a log source: which file (device, inode, name when
 * first opened, fingerprint of its first line, rotation generation) and the
 * byte offset just after the last consumed record.
 *
 * Inode alone does not identify a file: rotation renames files (same inode,
 * new name), `copytruncate` keeps the inode but restarts the content, and a
 * deleted file's inode is reused by the next file created. The fingerprint
 * of the first complete line tells these apart: a truncated-and-rewritten
 * or a reused-inode file starts with a different line (log lines begin with
 * a timestamp and, in PostgreSQL, a session id).
 */
import { createHash } from 'node:crypto';
import { DbwitnessError } from '../core/errors.js';

export interface LogCursor {
  readonly dev: number;
  readonly ino: number;
  /** Base name of the file when this source first opened it (rotation may rename it later). */
  readonly name: string;
  /** Fingerprint of the file's first line (16 hex), '' while the file has no complete line. */
  readonly head: string;
  /** How many times this inode was truncated under us (copytruncate, log_truncate_on_rotation). */
  readonly gen: number;
  /** Byte offset just after the last consumed record. */
  readonly offset: number;
  /**
   * Where to start reading on resume when it is before `offset`: records in
   * [replay, offset) were consumed but their context is still needed (a
   * server_audit statement's TABLE lines whose QUERY line comes later). They
   * are interpreted again but never emitted again.
   */
  readonly replay?: number;
}

const PREFIX = 'logtail1.';

export function encodeCursor(c: LogCursor): string {
  const fields: unknown[] = [c.dev, c.ino, c.name, c.head, c.gen, c.offset];
  if (c.replay !== undefined && c.replay < c.offset) fields.push(c.replay);
  const body = JSON.stringify(fields);
  return PREFIX + Buffer.from(body, 'utf8').toString('base64url');
}

export function decodeCursor(token: string): LogCursor {
  const bad = (why: string): DbwitnessError =>
    new DbwitnessError(
      'E_LOG_CHECKPOINT',
      `the stored log checkpoint is not a log-source checkpoint (${why})`,
      'the store was written by another source type under the same source id: give this log source its own --id',
    );
  if (!token.startsWith(PREFIX)) throw bad('unknown prefix');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token.slice(PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    throw bad('not decodable');
  }
  if (!Array.isArray(parsed) || parsed.length < 6 || parsed.length > 7) throw bad('wrong shape');
  const [dev, ino, name, head, gen, offset, replay] = parsed as unknown[];
  if (typeof dev !== 'number' || typeof ino !== 'number' || typeof name !== 'string' || typeof head !== 'string' || typeof gen !== 'number' || typeof offset !== 'number') {
    throw bad('wrong field types');
  }
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(gen) || gen < 0) throw bad('bad offset');
  if (replay !== undefined && (typeof replay !== 'number' || !Number.isSafeInteger(replay) || replay < 0 || replay >= offset)) throw bad('bad replay offset');
  return replay === undefined ? { dev, ino, name, head, gen, offset } : { dev, ino, name, head, gen, offset, replay };
}

/** Longest prefix of the first line that the fingerprint covers. */
export const HEAD_BYTES = 4096;

/** Fingerprint of a file's first line (bytes up to and including its newline, at most HEAD_BYTES). */
export function headFingerprint(firstLine: Buffer): string {
  return createHash('sha256').update(firstLine).digest('hex').slice(0, 16);
}
