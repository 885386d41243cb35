/**
 * Which files make up a log, in the order they were written.
 *
 * - `dir` (PostgreSQL's log_directory): every regular file with the given
 *   suffix (`.json` for jsonlog, `.csv` for csvlog). PostgreSQL's syslogger
 *   only ever writes to its newest file, so modification time orders them
 *   whatever `log_filename` pattern is used; the name breaks ties.
 * - `rotated` (MariaDB server_audit): `path` is the live file and
 *   `path.1` ... `path.N` its rotated predecessors, `path.N` the oldest
 *   (the plugin renames `.N-1` to `.N` and the live file to `.1`).
 */
import { open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { HEAD_BYTES, headFingerprint } from './log-cursor.js';

export type LogFileSpec = { readonly kind: 'dir'; readonly dir: string; readonly suffix: string } | { readonly kind: 'rotated'; readonly path: string };

export interface LogFile {
  readonly path: string;
  readonly name: string;
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeNs: bigint;
}

/** The log's files, oldest first. Files that vanish while listing are skipped. */
export async function listLogFiles(spec: LogFileSpec): Promise<LogFile[]> {
  if (spec.kind === 'dir') {
    const names = (await readdir(spec.dir)).filter((n) => n.endsWith(spec.suffix));
    const files = await statAll(names.map((n) => join(spec.dir, n)));
    return files.sort((a, b) => (a.mtimeNs === b.mtimeNs ? a.name.localeCompare(b.name) : a.mtimeNs < b.mtimeNs ? -1 : 1));
  }
  const dir = dirname(spec.path);
  const base = basename(spec.path);
  const rotated = (await readdir(dir))
    .map((n) => ({ n, m: n.startsWith(base + '.') ? /^\d+$/.exec(n.slice(base.length + 1)) : null }))
    .filter((x) => x.m !== null)
    .sort((a, b) => Number(b.m![0]) - Number(a.m![0]))
    .map((x) => join(dir, x.n));
  return statAll([...rotated, spec.path]);
}

/** Every regular file next to the log (where a copytruncate copy would be). */
export async function listSiblings(spec: LogFileSpec): Promise<LogFile[]> {
  const dir = spec.kind === 'dir' ? spec.dir : dirname(spec.path);
  return statAll((await readdir(dir)).map((n) => join(dir, n)));
}

async function statAll(paths: string[]): Promise<LogFile[]> {
  const out: LogFile[] = [];
  for (const path of paths) {
    try {
      const st = await stat(path, { bigint: true });
      if (!st.isFile()) continue;
      out.push({ path, name: basename(path), dev: Number(st.dev), ino: Number(st.ino), size: Number(st.size), mtimeNs: st.mtimeNs });
    } catch {
      // Rotated away or deleted between readdir and stat: the next listing shows where it went.
    }
  }
  return out;
}

/** Fingerprint of a file's first complete line, or '' when it has none (yet). */
export async function readHead(path: string): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return '';
  }
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return headOf(buf.subarray(0, bytesRead), bytesRead < HEAD_BYTES);
  } finally {
    await fh.close();
  }
}

/**
 * Fingerprint from the first bytes of a file: the first line through its
 * newline, or HEAD_BYTES bytes of a longer first line. '' if the first line
 * is still incomplete (`wholeFile`: no more bytes exist yet).
 */
export function headOf(firstBytes: Buffer, wholeFile: boolean): string {
  const nl = firstBytes.indexOf(0x0a);
  if (nl >= 0) return headFingerprint(firstBytes.subarray(0, nl + 1));
  if (!wholeFile && firstBytes.length >= HEAD_BYTES) return headFingerprint(firstBytes.subarray(0, HEAD_BYTES));
  return '';
}
