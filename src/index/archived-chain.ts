/**
 * The segments of a chain that retention moved out of the store or deleted
 * (archived.jsonl, src/store/verify-archive-manifest.ts), as the index sees
 * them. The index names every segment by its store-relative path
 * (`pg1/seg-000003.jsonl`) whether it is in the store or the archive, so
 * rows indexed before a segment was archived stay valid; this module maps
 * such a name to where the file can be read now.
 */
import { join } from 'node:path';
import { listSegments, segmentFileName } from '../store/layout.js';
import { locateArchived, readArchiveManifest, type ArchiveManifestLine } from '../store/verify-archive-manifest.js';

const DELETED = 'deleted under the retention policy';

/** True for an `unreadable` reason (or an index gap's) that says the segment was deleted under the policy. */
export function isDeletedReason(reason: string): boolean {
  return reason.startsWith(DELETED);
}

export interface ChainFile {
  /** Store-relative name, as recorded in the index. */
  readonly rel: string;
  readonly segment: number;
  /** Where to read it: the store copy, the archive copy, or null when neither can be read. */
  readonly path: string | null;
  /** The manifest line when the segment is no longer in the store. */
  readonly archived: ArchiveManifestLine | null;
  /** Why `path` is null (deleted under the retention policy, or the archive copy was not found). */
  readonly unreadable: string | null;
}

/**
 * Every segment of chain `sourceId` in chain order: the archived ones
 * (located under `archiveDirs`, then at the recorded path) and those in
 * the store. Reads the manifest: not for the hot path of a catch-up.
 */
export async function chainFiles(dir: string, sourceId: string, archiveDirs: readonly string[]): Promise<ChainFile[]> {
  const chainDir = join(dir, sourceId);
  const { segments } = await listSegments(chainDir);
  const present = new Set(segments);
  const out: ChainFile[] = segments.map((n) => ({ rel: `${sourceId}/${segmentFileName(n)}`, segment: n, path: join(chainDir, segmentFileName(n)), archived: null, unreadable: null }));
  const manifest = await readArchiveManifest(chainDir);
  for (const [n, { line }] of manifest?.entries ?? []) {
    // A move cut short by a crash leaves the store copy in place: it is the one to read.
    if (present.has(n)) continue;
    out.push(await archivedFile(sourceId, n, line, archiveDirs));
  }
  return out.sort((a, b) => a.segment - b.segment);
}

async function archivedFile(sourceId: string, segment: number, line: ArchiveManifestLine, archiveDirs: readonly string[]): Promise<ChainFile> {
  const rel = `${sourceId}/${segmentFileName(segment)}`;
  if (line.deleted_at !== undefined) return { rel, segment, path: null, archived: line, unreadable: `${DELETED} at ${line.deleted_at}` };
  const found = await locateArchived(line, sourceId, archiveDirs);
  if (found.file !== null) return { rel, segment, path: found.file, archived: line, unreadable: null };
  return { rel, segment, path: null, archived: line, unreadable: `archived at ${line.moved_at}, not found (tried ${found.tried.join(', ')})` };
}

/**
 * Resolves index file names of segments that are no longer in the store,
 * reading each chain's manifest once.
 */
export class ArchiveResolver {
  readonly #dir: string;
  readonly #archiveDirs: readonly string[];
  readonly #chains = new Map<string, Promise<Map<string, ChainFile>>>();

  constructor(dir: string, archiveDirs: readonly string[] = []) {
    this.#dir = dir;
    this.#archiveDirs = archiveDirs;
  }

  /** The archived segment behind `rel`, or null when the manifest does not record it. */
  async lookup(rel: string): Promise<ChainFile | null> {
    const slash = rel.indexOf('/');
    if (slash <= 0) return null;
    const sourceId = rel.slice(0, slash);
    let chain = this.#chains.get(sourceId);
    if (chain === undefined) {
      chain = chainFiles(this.#dir, sourceId, this.#archiveDirs)
        .then((files) => new Map(files.filter((f) => f.archived !== null).map((f) => [f.rel, f])))
        .catch(() => new Map<string, ChainFile>());
      this.#chains.set(sourceId, chain);
    }
    return (await chain).get(rel) ?? null;
  }
}
