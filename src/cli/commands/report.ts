import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { validate } from '../../config/load-config.js';
import { usageError } from '../../core/errors.js';
import { defaultIndexPath, indexStatus, IndexReader, updateIndex } from '../../index/index.js';
import { progressLine } from '../../index/progress.js';
import {
  afterHoursReport,
  bulkReport,
  ddlReport,
  parseRange,
  patientReport,
  renderReport,
  REPORT_FORMATS,
  ReportsConfig,
  summaryReport,
  unattributedReport,
  userReport,
  WEEKDAYS,
  ZoneClock,
  type ChainStatusRow,
  type Report,
  type ReportContext,
  type ReportFormat,
  missingEvents,
  withMissingEvents,
} from '../../report/index.js';
import { verifyStore, type StoreVerifyReport } from '../../store/verify-store.js';
import { addGlobalOptions, loadContext, type GlobalFlags } from '../command-context.js';
import { resolveEncryptionKey, resolveStoreDir, type IndexFlags } from './reindex.js';

const KINDS = ['patient', 'user', 'after-hours', 'bulk', 'unattributed', 'ddl', 'summary'] as const;
type Kind = (typeof KINDS)[number];

interface ReportFlags extends GlobalFlags, IndexFlags {
  from?: string;
  to?: string;
  format: string;
  output?: string;
  timeZone?: string;
  workingHours?: string;
  workingDays?: string;
  bulkPatients?: string;
  bulkRows?: string;
  update: boolean;
  verify?: boolean;
  publicKey?: string;
  archive?: string[];
}

/** The report is complete for what the index holds, but archived events could not be read (same code as verify's "archived, not checked"). */
const EXIT_INCOMPLETE = 3;

export function registerReport(program: Command): void {
  const cmd = program
    .command('report')
    .argument('<kind>', KINDS.join('|'))
    .argument('[subject]', 'the patient id (patient) or user name (user)')
    .description('reviewer reports: per patient, per user, after hours, bulk access, unattributed changes, DDL, summary')
    .addHelpText(
      'after',
      `
Reports read the query index (DIR/index.sqlite), catching it up with the
store first (--no-update skips that). The index holds no row values, only
who, when, where, what table and which columns.

  patient ID     every access to and change of one patient's records
  user NAME      one account's activity (DB user or application user)
  after-hours    activity outside working hours (reports.working_hours, reports.time_zone)
  bulk           transactions or sessions touching more than N patients or rows
  unattributed   changes without a session identity, source alerts, unresolved patient ids
  ddl            schema changes
  summary        counts per source, action and user

Segments moved by \`dbwitness retention --archive\` are indexed from the
archive (--archive DIR, then the path recorded in archived.jsonl). When one
could not be read, or was deleted under the retention policy, every report
says so before its rows (text, HTML) and under "missing" in JSON: how many
events, which segments and times, and the fix. The exit code is then ${EXIT_INCOMPLETE}.

--from/--to take YYYY-MM-DD (a day in the report time zone; --to includes it),
YYYY-MM-DDTHH:MM (local) or an instant with Z or an offset.

Examples:
  dbwitness report patient 1042 --store /var/lib/dbwitness --from 2026-01-01 --format html -o patient-1042.html
  dbwitness report after-hours --config /etc/dbwitness/dbwitness.yaml --time-zone America/New_York --from 2026-11-01
  dbwitness report bulk --store /var/lib/dbwitness --bulk-patients 50 --format csv`,
    )
    .option('--store <dir>', 'store directory (or store.dir in the config file)')
    .option('--index <file>', 'index file (default: STORE/index.sqlite)')
    .option('--encryption-key-file <file>', 'AES-256 key of an encrypted store; or set DBWITNESS_ENCRYPTION_KEY')
    .option('--from <time>', 'start of the period (inclusive)')
    .option('--to <time>', 'end of the period (exclusive; a date-only value includes that day)')
    .option('--format <format>', REPORT_FORMATS.join('|'), 'table')
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option('--time-zone <zone>', 'IANA time zone for working hours and dates (default reports.time_zone or UTC)')
    .option('--working-hours <HH:MM-HH:MM>', 'working hours for after-hours (default 07:00-19:00)')
    .option('--working-days <days>', `working days, comma-separated (${WEEKDAYS.join(',')}; default mon-fri)`)
    .option('--bulk-patients <n>', 'bulk: list transactions/sessions touching more than n patients (default 20)')
    .option('--bulk-rows <n>', 'bulk: ... or more than n rows (default 1000)')
    .option('--no-update', 'use the index as it is, without catching up with the store')
    .option('--verify', 'summary: also verify every chain (as `dbwitness verify`); exit 1 if one is tampered')
    .option('--public-key <file>', 'with --verify: the trusted public key of the store (PEM)')
    .option('--archive <dir>', 'where archived segments are now (DIR/<source>/seg-N.jsonl), tried before the paths recorded in archived.jsonl (repeatable)', (v: string, prev: string[] = []) => [...prev, v]);
  addGlobalOptions(cmd);
  cmd.action(async (kindArg: string, subject: string | undefined, flags: ReportFlags) => {
    const kind = parseKind(kindArg, subject);
    const format = parseFormat(flags.format);
    const { config } = await loadContext(flags);
    const reports = reportsConfig(flags, config.reports);
    const storeDir = resolveStoreDir(flags.store, config);
    const encryptionKey = await resolveEncryptionKey(flags, config);
    const indexPath = flags.index ?? defaultIndexPath(storeDir);
    const clock = new ZoneClock(reports.time_zone);
    const range = parseRange(flags.from, flags.to, clock);
    const staleNote: string[] = [];
    if (flags.update) {
      const progress = progressLine('updating the index');
      try {
        await updateIndex(storeDir, { indexPath, encryptionKey, onProgress: progress.onProgress, archiveDirs: flags.archive });
      } finally {
        progress.done();
      }
    } else if (!(await indexStatus(storeDir, indexPath)).current) {
      staleNote.push('The index is behind the store (run without --no-update, or `dbwitness reindex`): the newest events may be missing from this report.');
    }
    const reader = IndexReader.open(indexPath, storeDir, encryptionKey, flags.archive ?? []);
    let report: Report;
    try {
      const ctx: ReportContext = { reader, range, clock, config: reports, storeDir };
      if (kind === 'summary' && flags.verify) {
        const verified = await verifyStore(storeDir, { ...(flags.publicKey !== undefined ? { publicKeyFile: flags.publicKey } : {}), ...(encryptionKey !== undefined ? { encryptionKey } : {}) });
        report = summaryReport(ctx, chainRows(verified));
        report = { ...report, notes: [...report.notes, ...verified.warnings, ...verified.notes] };
        if (!verified.ok) process.exitCode = 1;
      } else {
        report = build(kind, subject, ctx);
      }
      report = withMissingEvents(report, missingEvents(reader, storeDir));
    } finally {
      reader.close();
    }
    if (staleNote.length > 0) report = { ...report, notes: [...report.notes, ...staleNote] };
    const text = renderReport(report, format);
    if (flags.output) await writeFile(flags.output, text, { mode: 0o600 });
    else process.stdout.write(text);
    if (report.missing !== undefined) {
      // Also on stderr: a report written to a file or piped on must not pass for complete.
      process.stderr.write(`warning: report incomplete: ${report.missing.events} archived event(s) could not be read; ${report.missing.fix}\n`);
      if (process.exitCode === undefined || process.exitCode === 0) process.exitCode = EXIT_INCOMPLETE;
    }
  });
}

function build(kind: Kind, subject: string | undefined, ctx: ReportContext): Report {
  switch (kind) {
    case 'patient':
      return patientReport(ctx, subject!);
    case 'user':
      return userReport(ctx, subject!);
    case 'after-hours':
      return afterHoursReport(ctx);
    case 'bulk':
      return bulkReport(ctx, ctx.config.bulk);
    case 'unattributed':
      return unattributedReport(ctx);
    case 'ddl':
      return ddlReport(ctx);
    case 'summary':
      // Chain verification belongs to `dbwitness verify`; the summary says so in a note.
      return summaryReport(ctx, null);
  }
}

/** One row per chain from the store's verify (the same check as `dbwitness verify`). */
function chainRows(r: StoreVerifyReport): ChainStatusRow[] {
  return r.sources.map((s) => {
    const first = s.issues[0];
    const head = `${s.events} events, head seq ${s.head.seq} hash ${s.head.hash}`;
    return {
      source: s.source,
      status: s.issueCount === 0 ? 'intact' : `TAMPERED (${s.issueCount})`,
      detail: first === undefined ? head : `${head}; first bad: ${first.seq === null ? '' : `seq ${first.seq} `}${first.file}: ${first.problem}`,
    };
  });
}

function parseKind(kind: string, subject: string | undefined): Kind {
  if (!(KINDS as readonly string[]).includes(kind)) {
    throw usageError('E_REPORT_KIND', `unknown report "${kind}"`, `use one of: ${KINDS.join(', ')}`);
  }
  if ((kind === 'patient' || kind === 'user') && (subject === undefined || subject === '')) {
    throw usageError('E_REPORT_SUBJECT', `report ${kind} needs a ${kind === 'patient' ? 'patient id' : 'user name'}`, `run \`dbwitness report ${kind} ${kind === 'patient' ? 'ID' : 'NAME'}\``);
  }
  if (kind !== 'patient' && kind !== 'user' && subject !== undefined) {
    throw usageError('E_REPORT_SUBJECT', `report ${kind} takes no argument (got "${subject}")`, 'remove it, or use --from/--to to narrow the report');
  }
  return kind as Kind;
}

function parseFormat(format: string): ReportFormat {
  if (!(REPORT_FORMATS as readonly string[]).includes(format)) {
    throw usageError('E_REPORT_FORMAT', `unknown format "${format}"`, `use one of: ${REPORT_FORMATS.join(', ')}`);
  }
  return format as ReportFormat;
}

function positiveInt(value: string, flag: string): number {
  if (!/^[1-9]\d{0,8}$/.test(value)) throw usageError('E_REPORT_NUMBER', `${flag} "${value}" is not a positive whole number`, `pass e.g. ${flag} 20`);
  return Number(value);
}

/** The config file's `reports` section with flags applied over it. */
function reportsConfig(flags: ReportFlags, section: unknown): ReportsConfig {
  const base = validate(ReportsConfig, section ?? {}, 'config: reports');
  const wh = { ...base.working_hours };
  if (flags.workingHours !== undefined) {
    const m = /^(\d{2}:\d{2})-(\d{2}:\d{2})$/.exec(flags.workingHours);
    if (!m) throw usageError('E_REPORT_HOURS', `--working-hours "${flags.workingHours}" is not HH:MM-HH:MM`, 'pass e.g. --working-hours 07:00-19:00');
    wh.start = m[1]!;
    wh.end = m[2]!;
  }
  if (flags.workingDays !== undefined) wh.days = flags.workingDays.split(',').map((d) => d.trim().toLowerCase()) as typeof wh.days;
  const merged = {
    time_zone: flags.timeZone ?? base.time_zone,
    working_hours: wh,
    bulk: {
      patients: flags.bulkPatients !== undefined ? positiveInt(flags.bulkPatients, '--bulk-patients') : base.bulk.patients,
      rows: flags.bulkRows !== undefined ? positiveInt(flags.bulkRows, '--bulk-rows') : base.bulk.rows,
    },
  };
  // Validate again: flag values get the same checks (HH:MM, weekday names) as the file.
  return validate(ReportsConfig, merged, 'report options');
}
