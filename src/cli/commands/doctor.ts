import type { Command } from 'commander';
import type { Finding } from '../../core/ports.js';
import { redactUrl } from '../../core/errors.js';
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
  dbwitness doctor --config dbwitness.yaml --source-id clinic-pg --json`,
    );
  addSourceOptions(cmd, '--url');
  addGlobalOptions(cmd);
  cmd.action(async (flags: DoctorFlags) => {
    const { config, logger } = await loadContext(flags);
    const entry = sourceEntryFrom(flags, config);
    const adapter = await adapterForUrl(String(entry.url));
    const sourceConfig = parseSourceConfig(adapter, entry, `source ${String(entry['id'])}`);
    const findings = [...(await adapter.doctor(sourceConfig, { logger }))];
    const companion = flags.logAudit === undefined ? null : await logCompanion(adapter.name, entry, flags.logAudit);
    if (companion !== null) findings.push(...(await companion.adapter.doctor(companion.config, { logger })));
    if (flags.config !== undefined) {
      // Patient mapping and redaction: what the trail will hold about patients.
      const policy = validate(PolicyConfig, { subjects: config.subjects ?? {}, redaction: config.redaction ?? {} }, 'config');
      // The policy is shared by every source in the file: a table another source audits is audited.
      const others = config.sources.filter((s) => s.id !== entry['id']);
      const listed = (e: Record<string, unknown>, key: string): string[] => (Array.isArray(e[key]) ? (e[key] as string[]) : []);
      let tables = [...listed(entry, 'tables'), ...others.flatMap((s) => listed(s, 'tables'))];
      const schemas = [...listed(entry, 'schemas'), ...others.flatMap((s) => listed(s, 'schemas'))];
      // The live schema, where it can be read: the tables this source's schemas resolve to, and the columns the policy names.
      let columns: ReadonlyMap<string, readonly string[]> | null = null;
      if (adapter.auditedColumns !== undefined) {
        try {
          columns = await adapter.auditedColumns(sourceConfig, { logger });
          tables = [...columns.keys(), ...others.flatMap((s) => listed(s, 'tables'))];
        } catch (e) {
          findings.push({
            id: 'policy.columns',
            status: 'warn',
            title: "The policy's column names were not checked",
            detail: `the audited tables' columns could not be read: ${e instanceof Error ? e.message : String(e)}`,
            fix: 'fix the findings above (the audited tables must exist), then run doctor again',
          });
        }
      }
      findings.push(...checkPolicy(policy, { tables, schemas }, process.env, columns));
    }
    const failed = findings.some((f) => f.status === 'fail');
    if (flags.json) {
      process.stdout.write(JSON.stringify({ target: redactUrl(String(entry.url)), ok: !failed, findings }, null, 2) + '\n');
    } else {
      process.stdout.write(formatFindings(findings, redactUrl(String(entry.url))));
    }
    if (failed) process.exitCode = 1;
  });
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
