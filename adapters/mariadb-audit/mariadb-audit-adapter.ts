/**
 * The MariaDB server_audit log source: logins, failed logins, logouts,
 * reads, writes (including refused ones), DDL and privilege changes, as
 * `mariadb-audit:///var/lib/mysql/server_audit.log`.
 */
import mysql from 'mysql2/promise';
import { DbwitnessError, redactUrl, usageError } from '../../src/core/errors.js';
import type { AdapterContext, ChangeSource, Finding, SetupPlan, SourceAdapter } from '../../src/core/ports.js';
import { resolveSourceUrl } from '../../src/core/source-config.js';
import { auditScope } from '../../src/log-tail/audit-scope.js';
import { logFileFindings } from '../../src/log-tail/log-dir-findings.js';
import { LogChangeSource } from '../../src/log-tail/index.js';
import { MariadbAuditSourceConfig, resolveMariadbAudit } from './mariadb-audit-config.js';
import { mariadbInterpreter, MARIADB_SYSTEM_SCHEMAS } from './mariadb-audit-interpret.js';
import { serverAuditDoctorFindings, serverAuditSetupSteps } from './mariadb-audit-setup.js';

export async function openMariadbAuditSource(config: MariadbAuditSourceConfig, ctx: AdapterContext): Promise<LogChangeSource> {
  const r = resolveMariadbAudit(config);
  const scope = auditScope(config.tables, config.schemas, MARIADB_SYSTEM_SCHEMAS, config.include_system_tables);
  return new LogChangeSource({
    source: { id: config.id, engine: 'mariadb_audit', server: r.server, database: '' },
    tail: { spec: { kind: 'rotated', path: r.path }, framing: 'lines', pollMs: config.poll_ms, maxRecordBytes: config.max_record_bytes },
    interpreter: () => mariadbInterpreter({ scope, statementMaxChars: config.statement_max_chars, offsetMinutes: r.offsetMinutes }),
    logger: ctx.logger,
  });
}

async function withConnection<T>(config: MariadbAuditSourceConfig, what: string, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  if (config.database_url === undefined) {
    throw usageError('E_MARIADB_AUDIT_DATABASE_URL', `${what} needs a connection to the MariaDB server`, 'set database_url (mysql://user@host:3306/) on the mariadb-audit source; put the password in password_env');
  }
  const url = resolveSourceUrl({ url: config.database_url, ...(config.password_env !== undefined ? { password_env: config.password_env } : {}) });
  let conn: mysql.Connection;
  try {
    conn = await mysql.createConnection({ uri: url.replace(/^mariadb:/, 'mysql:') });
  } catch (e) {
    throw new DbwitnessError('E_MYSQL_CONNECT', `cannot connect to MariaDB at ${redactUrl(config.database_url)}: ${e instanceof Error ? e.message : String(e)}`, 'check database_url, the password (password_env) and the account\'s host', { cause: e });
  }
  try {
    return await fn(conn);
  } finally {
    await conn.end().catch(() => undefined);
  }
}

export const mariadbAuditAdapter: SourceAdapter<MariadbAuditSourceConfig> = {
  name: 'mariadb-audit',
  urlSchemes: ['mariadb-audit:'],
  configSchema: MariadbAuditSourceConfig,
  async planSetup(config): Promise<SetupPlan> {
    return { engine: 'mariadb-audit', steps: serverAuditSetupSteps({ filePath: resolveMariadbAudit(config).path }) };
  },
  async planUninstall(): Promise<SetupPlan> {
    return {
      engine: 'mariadb-audit',
      steps: [
        { title: 'Remove the server_audit plugin from my.cnf', why: 'FORCE_PLUS_PERMANENT plugins can only be removed by configuration', sql: [], config: ['remove plugin_load_add = server_audit, server_audit = FORCE_PLUS_PERMANENT and the server_audit_* lines'], requiresRestart: true },
      ],
    };
  },
  async applyPlan(config, plan): Promise<void> {
    await withConnection(config, 'setup --apply', async (c) => {
      const [rows] = (await c.query("SELECT 1 FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'SERVER_AUDIT'")) as [unknown[], unknown];
      for (const stmt of plan.steps.flatMap((s) => s.sql)) {
        // INSTALL SONAME fails when the plugin is already loaded (my.cnf or an earlier setup).
        if (/^INSTALL SONAME/i.test(stmt) && rows.length > 0) continue;
        await c.query(stmt);
      }
    });
  },
  async doctor(config): Promise<readonly Finding[]> {
    const out = await logFileFindings('mariadb_audit', { kind: 'rotated', path: resolveMariadbAudit(config).path });
    if (config.database_url !== undefined) out.push(...(await withConnection(config, 'doctor', (c) => serverAuditDoctorFindings(c))));
    else out.push({ id: 'mariadb_audit.server_settings', status: 'warn', title: 'server settings checked', detail: 'no database_url configured: plugin settings were not checked', fix: 'set database_url on the mariadb-audit source so doctor can read the server_audit variables' });
    return out;
  },
  async openSource(config, ctx): Promise<ChangeSource> {
    return openMariadbAuditSource(config, ctx);
  },
};
