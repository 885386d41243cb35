/**
 * The PostgreSQL log source: reads, logins, logouts, failed logins,
 * privilege changes and refused statements from pgaudit and the connection
 * log, as `pglog:///path/to/log_directory?format=jsonlog`.
 */
import pg from 'pg';
import { DbwitnessError, redactUrl, usageError } from '../../src/core/errors.js';
import type { AdapterContext, ChangeSource, Finding, SetupPlan, SourceAdapter } from '../../src/core/ports.js';
import { resolveSourceUrl } from '../../src/core/source-config.js';
import { auditScope } from '../../src/log-tail/audit-scope.js';
import { logFileFindings } from '../../src/log-tail/log-dir-findings.js';
import { LogChangeSource, type LogFileSpec } from '../../src/log-tail/index.js';
import { PglogSourceConfig, resolvePglog } from './pglog-config.js';
import { pgInterpreter, PG_SYSTEM_SCHEMAS } from './pglog-interpret.js';
import { pgauditDoctorFindings, pgauditSetupSteps } from './pglog-setup.js';

export function pglogFileSpec(config: PglogSourceConfig): LogFileSpec {
  const r = resolvePglog(config);
  return { kind: 'dir', dir: r.dir, suffix: r.format === 'jsonlog' ? '.json' : '.csv' };
}

export async function openPglogSource(config: PglogSourceConfig, ctx: AdapterContext): Promise<LogChangeSource> {
  const r = resolvePglog(config);
  const scope = auditScope(config.tables, config.schemas, PG_SYSTEM_SCHEMAS, config.include_system_catalogs);
  return new LogChangeSource({
    source: { id: config.id, engine: 'pglog', server: r.server, database: r.database ?? '' },
    tail: { spec: pglogFileSpec(config), framing: r.format === 'csvlog' ? 'csv' : 'lines', pollMs: config.poll_ms, maxRecordBytes: config.max_record_bytes },
    interpreter: () => pgInterpreter({ format: r.format, database: r.database, scope, statementMaxChars: config.statement_max_chars }),
    logger: ctx.logger,
  });
}

async function withClient<T>(config: PglogSourceConfig, what: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  if (config.database_url === undefined) {
    throw usageError('E_PGLOG_DATABASE_URL', `${what} needs a connection to the PostgreSQL server`, 'set database_url (postgres://user@host:5432/db) on the pglog source; put the password in password_env');
  }
  const url = resolveSourceUrl({ url: config.database_url, ...(config.password_env !== undefined ? { password_env: config.password_env } : {}) });
  const client = new pg.Client({ connectionString: url, application_name: 'dbwitness' });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    throw new DbwitnessError('E_PG_CONNECT', `cannot connect to PostgreSQL at ${redactUrl(config.database_url)}: ${e instanceof Error ? e.message : String(e)}`, 'check database_url, the password (password_env) and pg_hba.conf', { cause: e });
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const pglogAdapter: SourceAdapter<PglogSourceConfig> = {
  name: 'pglog',
  urlSchemes: ['pglog:'],
  configSchema: PglogSourceConfig,
  async planSetup(config): Promise<SetupPlan> {
    const version = config.database_url === undefined ? 15 : await withClient(config, 'setup', async (c) => Math.floor(Number((await c.query<{ v: string }>('SHOW server_version_num')).rows[0]?.v ?? '150000') / 10000));
    return { engine: 'pglog', steps: pgauditSetupSteps({ version }) };
  },
  async planUninstall(): Promise<SetupPlan> {
    return {
      engine: 'pglog',
      steps: [
        { title: 'Drop the pgaudit extension', why: 'stops DDL classification by pgaudit in this database', sql: ['DROP EXTENSION IF EXISTS pgaudit'] },
        { title: 'Stop loading pgaudit', why: 'removes the executor hook', sql: [], config: ['remove pgaudit from shared_preload_libraries and the pgaudit.* lines'], requiresRestart: true },
      ],
    };
  },
  async applyPlan(config, plan): Promise<void> {
    const sql = plan.steps.flatMap((s) => s.sql);
    if (sql.length === 0) return;
    await withClient(config, 'setup --apply', async (c) => {
      for (const stmt of sql) await c.query(stmt);
    });
  },
  async doctor(config): Promise<readonly Finding[]> {
    const r = resolvePglog(config);
    const out = await logFileFindings('pglog', pglogFileSpec(config));
    if (config.database_url !== undefined) out.push(...(await withClient(config, 'doctor', (c) => pgauditDoctorFindings(c, r.format))));
    else out.push({ id: 'pglog.server_settings', status: 'warn', title: 'server settings checked', detail: 'no database_url configured: pgaudit and logging settings were not checked', fix: 'set database_url on the pglog source so doctor can read pg_settings' });
    return out;
  },
  async openSource(config, ctx): Promise<ChangeSource> {
    return openPglogSource(config, ctx);
  },
};
