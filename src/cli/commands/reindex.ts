import type { Command } from 'commander';
import type { ConfigFile } from '../../config/config-schema.js';
import { usageError } from '../../core/errors.js';
import { rebuildIndex, updateIndex } from '../../index/index.js';
import { progressLine } from '../../index/progress.js';
import { loadEncryptionKey, parseEncryptionKey } from '../../store/index.js';
import { addGlobalOptions, loadContext, type GlobalFlags } from '../command-context.js';

export interface IndexFlags {
  store?: string;
  index?: string;
  encryptionKeyFile?: string;
}

interface ReindexFlags extends GlobalFlags, IndexFlags {
  incremental?: boolean;
  archive?: string[];
}

export function registerReindex(program: Command): void {
  const cmd = program
    .command('reindex')
    .argument('[dir]', 'store directory (or --store, or store.dir in the config file)')
    .description('rebuild the query index (DIR/index.sqlite) from the store')
    .addHelpText(
      'after',
      `
The index is derived data: the store is the source of truth, and the index
can be deleted and rebuilt at any time. A rebuild writes a new file and
replaces the old one only when it is complete. Reports catch the index up
by themselves; reindex is for a first build, after restoring a store, or
to start over.

Segments \`dbwitness retention --archive\` moved are indexed from --archive DIR
(DIR/<source>/seg-N.jsonl) or the path recorded in archived.jsonl. One that
cannot be read (or was deleted under the retention policy) is listed, and
its events are recorded as missing: every report then says so. Exit 3 when
archived events could not be indexed.

Examples:
  dbwitness reindex /var/lib/dbwitness
  dbwitness reindex --config /etc/dbwitness/dbwitness.yaml --incremental`,
    )
    .option('--store <dir>', 'store directory')
    .option('--index <file>', 'index file (default: DIR/index.sqlite)')
    .option('--encryption-key-file <file>', 'AES-256 key of an encrypted store; or set DBWITNESS_ENCRYPTION_KEY')
    .option('--incremental', 'only add events after the index watermarks (rebuilds anyway if the index does not match the store)')
    .option('--archive <dir>', 'where archived segments are now (DIR/<source>/seg-N.jsonl), tried before the paths recorded in archived.jsonl (repeatable)', (v: string, prev: string[] = []) => [...prev, v]);
  addGlobalOptions(cmd);
  cmd.action(async (dir: string | undefined, flags: ReindexFlags) => {
    const { config } = await loadContext(flags);
    const storeDir = resolveStoreDir(dir ?? flags.store, config);
    const encryptionKey = await resolveEncryptionKey(flags, config);
    const progress = progressLine('indexing');
    const started = process.hrtime.bigint();
    const opts = { indexPath: flags.index, encryptionKey, onProgress: progress.onProgress, archiveDirs: flags.archive };
    let result;
    try {
      result = flags.incremental ? await updateIndex(storeDir, opts) : await rebuildIndex(storeDir, opts);
    } finally {
      progress.done();
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const rate = Math.round(result.added / Math.max(seconds, 0.001));
    process.stdout.write(`${result.rebuilt ? 'rebuilt' : 'updated'} ${result.indexPath}: ${result.added} events indexed in ${seconds.toFixed(1)} s (${rate} events/s)\n`);
    if (result.gaps.length > 0) {
      const events = result.gaps.reduce((n, g) => n + g.lastSeq - g.firstSeq + 1, 0);
      const lines = result.gaps.map((g) => `  ${g.file}: seq ${g.firstSeq}-${g.lastSeq}: ${g.reason}\n`);
      process.stderr.write(
        `warning: ${events} event(s) of archived segments could not be read and are not indexed (reports will say so):\n${lines.join('')}` +
          `fix: mount or copy the archive and run \`dbwitness reindex ${storeDir} --archive DIR\` (DIR/<source>/seg-N.jsonl)\n`,
      );
      process.exitCode = 3;
    }
  });
}

export function resolveStoreDir(dir: string | undefined, config: ConfigFile): string {
  const resolved = dir ?? config.store?.dir;
  if (resolved === undefined) throw usageError('E_STORE_DIR', 'no store directory given', 'pass the store directory (--store DIR) or set store.dir in the config file');
  return resolved;
}

/** The store's encryption key from the flag, the config file's file or variable, or DBWITNESS_ENCRYPTION_KEY. */
export async function resolveEncryptionKey(flags: IndexFlags, config: ConfigFile): Promise<Buffer | undefined> {
  const file = flags.encryptionKeyFile ?? config.store?.encryption_key_file;
  const fromFile = await loadEncryptionKey(file);
  if (fromFile !== undefined) return fromFile;
  const envName = config.store?.encryption_key_env;
  const value = envName === undefined ? undefined : process.env[envName];
  return value === undefined || value === '' ? undefined : parseEncryptionKey(value, envName!);
}
