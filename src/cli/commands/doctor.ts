import type { Command } from 'commander';
import type { Finding } from '../../core/ports.js';
import { isDbwitnessError, redactUrl, usageError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { addGlobalOptions, loadContext, type GlobalFlags } from '../command-context.js';
import { addSourceOptions, sourceEntryFrom, type SourceFlags } from '../source-options.js';
import { adapterForUrl, parseSourceConfig } from '../source-resolution.js';
import { LOG_AUDIT_HELP, logCompanion } from '../log-audit-companion.js';
import { checkPolicy, PolicyConfig } from '../../policy/index.js';
import { validate } from '../../config/load-config.js';

interface DoctorFlags extends GlobalFlags, SourceFlags {
  json?: boolean;
  logAudit?: string;
}

export function registerDoctor(program: Command): void {
  const cmd = program
    .command('doctor')
    .description('check a database and dbwitness setup; print what is wrong and how to fix it (exit 1 on any failure)')
    .option('--json', 'print findings as JSON')
    .option('--log-audit <path>', LOG_AUDIT_HELP)
    .addHelpText(
      'after',
      `
Each finding is ok, warn or FAIL, with what was observed and the fix.
Exit codes: 0 no failures, 1 at least one failure, 2 usage or connection error.

Examples:
  dbwitness doctor --url postgres://admin@db:5432/clinic --tables clinic.patients
  dbwitness doctor --config dbwitness.yaml --source-id clinic-pg --json
  dbwitness doctor --config dbwitness.yaml      # every source in the file, then the patient mapping and redaction`,
    );
  addSourceOptions(cmd, '--url');
  addGlobalOptions(cmd);
  cmd.action(async (flags: DoctorFlags) => {
    const { config, logger } = await loadContext(flags);
    // A config file with several sources and none chosen: every source, then the shared policy once.
    // A flag that describes one source (--tables, --slot, ...) still needs --source-id to say which.
    const chosen: Array<keyof SourceFlags> = ['url', 'source', 'sourceId', 'id', 'tables', 'schema', 'database', 'slot', 'publication', 'passwordEnv', 'identityEmitter'];
    const everySource = flags.config !== undefined && config.sources.length > 1 && chosen.every((k) => flags[k] === undefined);
    if (everySource && flags.logAudit !== undefined) {
      throw usageError('E_DOCTOR_LOG_AUDIT', '--log-audit checks one source, and the config file lists several', 'name the source with --source-id');
    }
    const entries = everySource ? config.sources.map((s) => sourceEntryFrom({ ...flags, sourceId: s.id }, config)) : [sourceEntryFrom(flags, config)];
    const checked: SourceCheck[] = [];
    for (const entry of entries) checked.push(await checkSource(entry, flags, logger, everySource));

    let policyFindings: Finding[] = [];
    if (flags.config !== undefined) {
      // Patient mapping and redaction: what the trail will hold about patients, shared by every source in the file.
      const policy = validate(PolicyConfig, { subjects: config.subjects ?? {}, redaction: config.redaction ?? {} }, 'config');
      const listed = (e: Record<string, unknown>, key: string): string[] => (Array.isArray(e[key]) ? (e[key] as string[]) : []);
      const byId = new Map(checked.map((c) => [String(c.entry['id']), c]));
      const tables: string[] = [];
      const schemas: string[] = [];
      const columns = new Map<string, readonly string[]>();
      for (const e of [...entries, ...config.sources.filter((s) => !byId.has(s.id))] as Array<Record<string, unknown>>) {
        const c = byId.get(String(e['id']));
        // The live schema, where it was read: the tables a source's schemas resolve to, and the columns the policy names.
        if (c?.columns) for (const [t, cols] of c.columns) columns.set(t, cols);
        tables.push(...(c?.columns ? c.columns.keys() : listed(e, 'tables')));
        schemas.push(...listed(e, 'schemas'));
      }
      policyFindings = checkPolicy(policy, { tables, schemas }, process.env, checked.some((c) => c.columns !== null) ? columns : null);
      for (const c of checked) if (c.columnsError !== null) policyFindings.unshift(c.columnsError);
    }

    if (!everySource) {
      const { entry, findings } = checked[0]!;
      const all = [...findings, ...policyFindings];
      const failed = all.some((f) => f.status === 'fail');
      if (flags.json) process.stdout.write(JSON.stringify({ target: redactUrl(String(entry.url)), ok: !failed, findings: all }, null, 2) + '\n');
      else process.stdout.write(formatFindings(all, redactUrl(String(entry.url))));
      if (failed) process.exitCode = 1;
      return;
    }
    const failed = [...checked.flatMap((c) => c.findings), ...policyFindings].some((f) => f.status === 'fail');
    if (flags.json) {
      const sources = checked.map((c) => ({ id: String(c.entry['id']), target: redactUrl(String(c.entry.url)), ok: !c.findings.some((f) => f.status === 'fail'), findings: c.findings }));
      process.stdout.write(JSON.stringify({ ok: !failed, sources, policy: policyFindings }, null, 2) + '\n');
    } else {
      for (const c of checked) process.stdout.write(formatFindings(c.findings, `${String(c.entry['id'])} (${redactUrl(String(c.entry.url))})`));
      if (policyFindings.length > 0) process.stdout.write(formatFindings(policyFindings, `patient mapping and redaction (${flags.config})`));
    }
    // A source that could not be checked at all is an environment error (2), as with one source.
    if (checked.some((c) => c.unreachable)) process.exitCode = 2;
    else if (failed) process.exitCode = 1;
  });
}

interface SourceCheck {
  readonly entry: Record<string, unknown>;
  readonly findings: Finding[];
  /** The audited tables' columns, null when they could not be read (or the engine cannot say). */
  readonly columns: ReadonlyMap<string, readonly string[]> | null;
  readonly columnsError: Finding | null;
  /** Every source doctored: this one failed before any check could run. */
  readonly unreachable: boolean;
}

async function checkSource(entry: Record<string, unknown>, flags: DoctorFlags, logger: Logger, keepGoing: boolean): Promise<SourceCheck> {
  const adapter = await adapterForUrl(String(entry.url));
  const sourceConfig = parseSourceConfig(adapter, entry, `source ${String(entry['id'])}`);
  let findings: Finding[];
  try {
    findings = [...(await adapter.doctor(sourceConfig, { logger }))];
  } catch (e) {
    // One source: the usual error and exit code. Every source: say so and go on to the next.
    if (!keepGoing || !isDbwitnessError(e)) throw e;
    return { entry, findings: [{ id: 'source.unreachable', status: 'fail', title: 'Connect to the source', detail: e.message, fix: e.fix }], columns: null, columnsError: null, unreachable: true };
  }
  const companion = flags.logAudit === undefined ? null : await logCompanion(adapter.name, entry, flags.logAudit);
  if (companion !== null) findings.push(...(await companion.adapter.doctor(companion.config, { logger })));
  let columns: ReadonlyMap<string, readonly string[]> | null = null;
  let columnsError: Finding | null = null;
  if (flags.config !== undefined && adapter.auditedColumns !== undefined) {
    try {
      columns = await adapter.auditedColumns(sourceConfig, { logger });
    } catch (e) {
      columnsError = {
        id: 'policy.columns',
        status: 'warn',
        title: `The policy's column names were not checked against source ${String(entry['id'])}`,
        detail: `its audited tables' columns could not be read: ${e instanceof Error ? e.message : String(e)}`,
        fix: "fix that source's findings (the audited tables must exist), then run doctor again",
      };
    }
  }
  return { entry, findings, columns, columnsError, unreachable: false };
}

const LABEL: Record<Finding['status'], string> = { ok: '[ ok ]', warn: '[warn]', fail: '[FAIL]' };

export function formatFindings(findings: readonly Finding[], target: string): string {
  const out = [`dbwitness doctor: ${target}`, ''];
  for (const f of findings) {
    out.push(`${LABEL[f.status]} ${f.title}  (${f.id})`);
    if (f.detail) out.push(`       ${f.detail}`);
    if (f.status !== 'ok' && f.fix) for (const line of f.fix.split('\n')) out.push(`       fix: ${line}`);
  }
  const count = (s: Finding['status']): number => findings.filter((f) => f.status === s).length;
  out.push('', `${count('ok')} ok, ${count('warn')} warnings, ${count('fail')} failures`, '');
  return out.join('\n');
}
