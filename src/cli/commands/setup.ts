import type { Command } from 'commander';
import type { AdapterContext, SetupPlan, SourceAdapter } from '../../core/ports.js';
import { redactUrl, usageError } from '../../core/errors.js';
import { durationMs } from '../../config/config-schema.js';
import { addGlobalOptions, loadContext, type GlobalFlags } from '../command-context.js';
import { addSourceOptions, sourceEntryFrom, type SourceFlags } from '../source-options.js';
import { adapterByName, parseSourceConfig } from '../source-resolution.js';
import { setupNats, type NatsSetupFlags } from '../setup-nats.js';
import { LOG_AUDIT_HELP, logCompanion } from '../log-audit-companion.js';

interface SetupFlags extends GlobalFlags, SourceFlags, NatsSetupFlags {
  apply?: boolean;
  uninstall?: boolean;
  rotateSessionKey?: string | boolean;
  logAudit?: string;
}

export function registerSetup(program: Command): void {
  const cmd = program
    .command('setup')
    .argument('<engine>', 'postgres | mysql | mariadb | nats (the JetStream stream, buckets and consumer)')
    .description('print (or, with --apply, run) the SQL that prepares a database for auditing')
    .option('--apply', 'run the plan (idempotent); without it nothing is executed')
    .option('--uninstall', 'plan the removal of everything setup created (run it with --apply)')
    .option('--rotate-session-key [grace]', 'postgres: plan a new key for signed session ids; the old one stays valid for sessions already open for GRACE (default 24h; 0 drops it at once, for a key that may have leaked)')
    .option('--log-audit <path>', LOG_AUDIT_HELP)
    .option('--replicas <n>', 'nats: copies of every message across the JetStream cluster (default 3)')
    .addHelpText(
      'after',
      `
Without --apply the complete plan is printed for review and nothing runs.
Server settings that need a restart are printed as configuration lines for
the DBA; setup never edits server configuration files.

Examples:
  dbwitness setup postgres --url postgres://admin@db:5432/clinic --tables clinic.patients,clinic.encounters
  dbwitness setup postgres --url postgres://admin@db:5432/clinic --schema clinic --apply
  dbwitness setup mariadb --url mysql://root@db:3306/clinic --database clinic --apply
  dbwitness setup nats --url nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222 --replicas 3
  dbwitness setup postgres --url postgres://admin@db:5432/clinic --schema clinic --log-audit /var/lib/postgresql/15/main/log
  dbwitness setup postgres --config dbwitness.yaml --uninstall
  dbwitness setup postgres --config dbwitness.yaml --rotate-session-key 0 --apply`,
    );
  addSourceOptions(cmd, '--url');
  addGlobalOptions(cmd);
  cmd.action(async (engine: string, flags: SetupFlags) => {
    const { config, logger } = await loadContext(flags);
    if (engine.toLowerCase() === 'nats') {
      await setupNats(flags, config, logger);
      return;
    }
    const adapter = await adapterByName(engine);
    const entry = sourceEntryFrom(flags, config);
    const sourceConfig = parseSourceConfig(adapter, entry, `source ${String(entry['id'])}`);
    const ctx = { logger };
    if (flags.rotateSessionKey !== undefined) {
      await rotateSessionKey(adapter, sourceConfig, flags, String(entry.url), ctx);
      return;
    }
    const dbPlan = flags.uninstall ? await adapter.planUninstall(sourceConfig, ctx) : await adapter.planSetup(sourceConfig, ctx);
    const companion = flags.logAudit === undefined ? null : await logCompanion(adapter.name, entry, flags.logAudit);
    const logPlan = companion === null ? null : flags.uninstall ? await companion.adapter.planUninstall(companion.config, ctx) : await companion.adapter.planSetup(companion.config, ctx);
    const plan: SetupPlan = logPlan === null ? dbPlan : { engine: dbPlan.engine, steps: [...dbPlan.steps, ...logPlan.steps] };
    const target = redactUrl(String(entry.url));
    if (!flags.apply) {
      process.stdout.write(formatPlan(plan, target, flags.uninstall === true));
      return;
    }
    await adapter.applyPlan(sourceConfig, dbPlan, ctx);
    if (companion !== null && logPlan !== null) await companion.adapter.applyPlan(companion.config, logPlan, ctx);
    const manual = plan.steps.filter((s) => (s.config?.length ?? 0) > 0);
    process.stdout.write(`${flags.uninstall ? 'uninstall' : 'setup'} applied to ${target}: ${plan.steps.length} steps\n`);
    if (manual.length > 0) {
      process.stdout.write('\nServer settings to review (not applied by dbwitness):\n');
      for (const step of manual) process.stdout.write(formatConfigLines(step.config ?? [], step.requiresRestart === true));
    }
    process.stdout.write(`\nCheck the result with: dbwitness doctor --url ${target}\n`);
  });
}

/** `--rotate-session-key [GRACE]`: a plan of its own, printed or (with --apply) run like any other. */
async function rotateSessionKey(adapter: SourceAdapter<unknown>, config: unknown, flags: SetupFlags, url: string, ctx: AdapterContext): Promise<void> {
  if (adapter.planKeyRotation === undefined) throw usageError('E_FLAG', `--rotate-session-key: ${adapter.name} signs no session ids`, 'it applies to postgres sources only');
  if (flags.uninstall) throw usageError('E_FLAG', '--rotate-session-key and --uninstall cannot be combined', 'run them as two commands');
  const grace = flags.rotateSessionKey === true ? '24h' : String(flags.rotateSessionKey);
  if (!/^(0|\d+(s|m|h|d))$/.test(grace)) throw usageError('E_FLAG', `--rotate-session-key: "${grace}" is not a grace period`, 'give a number with s, m, h or d (e.g. 24h), or 0 to drop the old key at once');
  const plan = await adapter.planKeyRotation(config, grace === '0' ? 0 : durationMs(grace), ctx);
  const target = redactUrl(url);
  if (!flags.apply) {
    process.stdout.write(formatPlan(plan, target, false, 'session key rotation'));
    return;
  }
  await adapter.applyPlan(config, plan, ctx);
  process.stdout.write(`session key rotated at ${target}${grace === '0' ? '; the old key is no longer accepted' : `; the old key is accepted for sessions already open for ${grace}`}\n`);
}

/** The plan as a SQL script a DBA can read, diff, and run by hand. */
export function formatPlan(plan: SetupPlan, target: string, uninstall: boolean, what = uninstall ? 'uninstall' : 'setup'): string {
  const out: string[] = [
    `-- dbwitness ${what} plan for ${plan.engine} at ${target}`,
    '-- Nothing has been executed. Review every statement, then run this command again with --apply',
    '-- (or run the statements yourself).',
    '',
  ];
  plan.steps.forEach((step, i) => {
    out.push(`-- Step ${i + 1}/${plan.steps.length}: ${step.title}`);
    for (const line of step.why.split('\n')) out.push(`--   ${line}`);
    for (const sql of step.sql) out.push(sql.trimEnd().endsWith(';') ? sql.trimEnd() : `${sql.trimEnd()};`);
    if (step.config && step.config.length > 0) out.push(formatConfigLines(step.config, step.requiresRestart === true).trimEnd());
    out.push('');
  });
  return out.join('\n');
}

function formatConfigLines(lines: readonly string[], restart: boolean): string {
  const head = `-- server configuration${restart ? ' (requires a restart)' : ''}:`;
  return [head, ...lines.map((l) => `--   ${l}`)].join('\n') + '\n';
}
