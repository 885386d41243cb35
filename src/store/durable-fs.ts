/**
 * File operations that survive a crash. POSIX only makes a new name durable
 * once its directory is fsync'd, and rename() is the atomic step that keeps
 * a half-written seal from ever being seen under its final name.
 */
import { mkdir, open, rename, chmod } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DIR_MODE, FILE_MODE } from './layout.js';

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Creates `dir` (and parents) owner-only; fsyncs the parent when it was created. */
export async function mkdirPrivate(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode: DIR_MODE });
  // mkdir's mode is filtered by the umask; make sure it is 0700 regardless.
  await chmod(dir, DIR_MODE);
  if (created !== undefined) await fsyncDir(dirname(dir));
}

/**
 * Writes `data` to `path` atomically and durably (temp file, fsync, rename,
 * fsync dir). `tmp` names the temp file (default: per process).
 */
export async function writeFileDurable(path: string, data: string | Buffer, mode = FILE_MODE, tmp = `${path}.tmp-${process.pid}`): Promise<void> {
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}
