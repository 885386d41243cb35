/**
 * The append-only anchor file. Each anchor is one line, appended and
 * fdatasync'd before it counts as published. Put the file on another disk,
 * host or WORM mount than the store: an anchor the store's writer can
 * rewrite proves nothing against that writer.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { usageError } from '../core/errors.js';
import { serializeAnchor, type AnchorRecord } from './anchor-record.js';

export class AnchorFile {
  readonly path: string;
  #fh: FileHandle | null = null;

  private constructor(path: string) {
    this.path = path;
  }

  static async open(path: string): Promise<AnchorFile> {
    const f = new AnchorFile(path);
    try {
      await mkdir(dirname(path), { recursive: true });
      f.#fh = await open(path, 'a', 0o640);
    } catch (e) {
      throw usageError('E_ANCHOR_FILE', `cannot open the anchor file ${path} for appending (${(e as NodeJS.ErrnoException).code ?? 'error'})`, 'check anchors.file: its directory must exist or be creatable and writable by the dbwitness user');
    }
    return f;
  }

  async append(anchors: readonly AnchorRecord[]): Promise<void> {
    if (this.#fh === null || anchors.length === 0) return;
    await this.#fh.write(anchors.map(serializeAnchor).join(''));
    await this.#fh.datasync();
  }

  async close(): Promise<void> {
    await this.#fh?.close();
    this.#fh = null;
  }
}
