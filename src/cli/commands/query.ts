/**
 * `dbwitness query DIR`: events matching filters, by a full scan of the
 * store and the segments retention archived (an index, where built, answers
 * the same filter faster). Archived events that cannot be read are stated
 * before the rows, and the exit code is then 3.
 */
import type { Command } from 'commander';
import { usageError } from '../../core/errors.js';
import { loadEncryptionKey } from '../../store/encryption.js';
import { parseFilterFlags, type FilterFlags } from '../../query/filter.js';
import { FORMATS, type OutputFormat } from '../../query/format.js';
import { scanMatching, scanMissing, writeEvents } from '../../query/full-scan.js';
import { indexedAnswer } from '../../query/indexed.js';
import { queryMissing } from '../../query/archive-missing.js';
import { EXIT_INCOMPLETE, missingPreamble, missingWarning } from '../../query/missing-format.js';

interface QueryFlags extends FilterFlags {
  format?: string;
  width?: string;
  encryptionKeyFile?: string;
  archive?: string[];
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description('Print the audit events that match filters (through DIR/index.sqlite when it is current, else a full scan)')
    .argument('<dir>', 'store directory')
    .option('--from <time>', 'events at or after this commit time (ISO 8601; a date alone is UTC midnight)')
    .option('--to <time>', 'events before this commit time')
    .option('--source <id>', 'source id (repeat or comma-separate)', collect)
    .option('--table <schema.table>', 'table, as schema.table or table (repeat or comma-separate)', collect)
    .option('--action <action>', 'insert, update, delete, truncate, ddl, read, login, ... (repeat or comma-separate)', collect)
    .option('--user <db_user>', 'database user (repeat or comma-separate)', collect)
    .option('--app <application>', 'client application name (repeat or comma-separate)', collect)
    .option('--client <addr>', 'client address (repeat or comma-separate)', collect)
    .option('--limit <n>', 'stop after n events')
    .option('--format <format>', `output: ${FORMATS.join('|')}`, 'jsonl')
    .option('--width <n>', 'table width (default: the terminal width; unlimited when not a terminal)')
    .option('--encryption-key-file <file>', 'AES-256 key of an encrypted store (or set DBWITNESS_ENCRYPTION_KEY)')
    .option('--archive <dir>', 'where archived segments are now (DIR/<source>/seg-N.jsonl), tried before the paths recorded in archived.jsonl (repeatable)', collect)
    .addHelpText(
      'after',
      `
Examples:
  dbwitness query /var/lib/dbwitness --table clinic.patients --action update,delete --from 2026-11-01 --format table
  dbwitness query /var/lib/dbwitness --user alice --client 10.0.3.17 --format csv > alice.csv

Segments moved by \`dbwitness retention --archive\` are read from --archive DIR,
then from the path recorded in archived.jsonl. When one cannot be read (or
was deleted under the retention policy), the answer says so before its rows:
INCOMPLETE lines (table), \`#\` lines before the header (csv), or a first line
{"complete":false,"missing":{...}} (jsonl), with the events, seq ranges,
times and the fix; the same warning goes to stderr and the exit code is ${EXIT_INCOMPLETE}.

Output is not verified: run \`dbwitness verify\` for that.`,
    )
    .action(async (dir: string, flags: QueryFlags) => {
      const format = flags.format ?? 'jsonl';
      if (!(FORMATS as readonly string[]).includes(format)) throw usageError('E_QUERY_FORMAT', `unknown format ${JSON.stringify(format)}`, `use one of: ${FORMATS.join(', ')}`);
      let width = process.stdout.isTTY ? process.stdout.columns : Infinity;
      if (flags.width !== undefined) {
        width = Number(flags.width);
        if (!Number.isInteger(width) || width < 20) throw usageError('E_QUERY_WIDTH', `--width must be an integer of at least 20, got ${JSON.stringify(flags.width)}`, 'pass e.g. --width 160');
      }
      const filter = parseFilterFlags(flags);
      const encryptionKey = await loadEncryptionKey(flags.encryptionKeyFile);
      const archiveDirs = flags.archive ?? [];
      // The index answers the same filter with the same events when it covers the whole store; otherwise scan.
      const indexed = await indexedAnswer(dir, filter, encryptionKey, archiveDirs);
      const events = indexed?.events ?? scanMatching(dir, filter, encryptionKey, archiveDirs);
      const missing = queryMissing(dir, indexed?.missing ?? (await scanMissing(dir, filter, encryptionKey, archiveDirs)));
      if (missing !== null) process.stderr.write(missingWarning(missing));
      const preamble = missing === null ? {} : { preamble: missingPreamble(missing, format as OutputFormat) };
      await writeEvents(events, { out: process.stdout, format: format as OutputFormat, width, ...preamble });
      if (missing !== null && (process.exitCode === undefined || process.exitCode === 0)) process.exitCode = EXIT_INCOMPLETE;
    });
}
