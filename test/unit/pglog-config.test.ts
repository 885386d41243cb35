/**
 * Source URLs and setup steps of the two log sources: what the operator
 * types must resolve to the right files, and bad input must say how to fix it.
 */
import { describe, expect, it } from 'vitest';
import { pgauditSetupSteps, PglogSourceConfig, resolvePglog } from '../../adapters/pglog/index.js';
import { MariadbAuditSourceConfig, resolveMariadbAudit, serverAuditSetupSteps } from '../../adapters/mariadb-audit/index.js';
import { adapterForUrl } from '../../src/cli/source-resolution.js';
import { DbwitnessError } from '../../src/core/errors.js';

const pglog = (url: string, extra: Record<string, unknown> = {}) => resolvePglog(PglogSourceConfig.parse({ id: 'x', url, ...extra }));
const audit = (url: string, extra: Record<string, unknown> = {}) => resolveMariadbAudit(MariadbAuditSourceConfig.parse({ id: 'x', url, ...extra }));

describe('pglog config', () => {
  it('resolves the directory, format aliases and query parameters', () => {
    expect(pglog('pglog:///var/lib/postgresql/15/main/log?format=jsonl')).toEqual({ dir: '/var/lib/postgresql/15/main/log', format: 'jsonlog', server: '/var/lib/postgresql/15/main/log', database: null });
    expect(pglog('pglog:///var/log/pg/?format=csv&server=db1:5432&database=clinic')).toEqual({ dir: '/var/log/pg', format: 'csvlog', server: 'db1:5432', database: 'clinic' });
    expect(pglog('pglog:///a%20b/log', { format: 'csvlog', database: 'x' })).toMatchObject({ dir: '/a b/log', format: 'csvlog', database: 'x' });
  });

  it('rejects a host, a relative path and an unknown format with a fix', () => {
    for (const url of ['pglog://host/var/log', 'pglog:relative/log', 'pglog:///var/log?format=xml']) {
      const err = (() => {
        try {
          pglog(url);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(DbwitnessError);
      expect((err as DbwitnessError).fix).toMatch(/pglog:\/\/\/|format=/);
    }
  });

  it('setup: jsonlog and log_rows from PostgreSQL 15, csvlog and no log_rows before 14', () => {
    const v15 = pgauditSetupSteps({ version: 15 }).flatMap((s) => s.config ?? []);
    expect(v15).toContain("log_destination = 'jsonlog'");
    expect(v15).toContain('pgaudit.log_rows = on');
    expect(v15).toContain("pgaudit.log = 'read, role, ddl'");
    const v13 = pgauditSetupSteps({ version: 13 }).flatMap((s) => s.config ?? []);
    expect(v13).toContain("log_destination = 'csvlog'");
    expect(v13.some((l) => l.includes('log_rows'))).toBe(false);
    expect(pgauditSetupSteps({ version: 15 }).flatMap((s) => s.sql)).toEqual(['CREATE EXTENSION IF NOT EXISTS pgaudit']);
  });
});

describe('mariadb-audit config', () => {
  it('resolves the file and the time zone offset', () => {
    expect(audit('mariadb-audit:///var/lib/mysql/server_audit.log')).toEqual({ path: '/var/lib/mysql/server_audit.log', server: '/var/lib/mysql/server_audit.log', offsetMinutes: 0 });
    expect(audit('mariadb-audit:///var/lib/mysql/server_audit.log?time_zone=-05:00&server=db1')).toMatchObject({ offsetMinutes: -300, server: 'db1' });
    expect(audit('mariadb-audit:///x/a.log', { time_zone: '+0530' }).offsetMinutes).toBe(330);
  });

  it('rejects a directory URL and a named time zone', () => {
    expect(() => audit('mariadb-audit:///var/lib/mysql/')).toThrow(/absolute path of the audit log file/);
    expect(() => audit('mariadb-audit:///x/a.log', { time_zone: 'Europe/Berlin' })).toThrow(/not a UTC offset/);
  });

  it('setup: the event set covers logins, statements, DDL, grants and tables; SQL quotes the path', () => {
    const steps = serverAuditSetupSteps({ filePath: "/var/lib/mysql/o'brien.log" });
    const sql = steps.flatMap((s) => s.sql);
    expect(sql[0]).toBe("INSTALL SONAME 'server_audit'");
    expect(sql).toContain("SET GLOBAL server_audit_events = 'CONNECT,QUERY_DDL,QUERY_DCL,QUERY_DML,TABLE'");
    expect(sql).toContain("SET GLOBAL server_audit_file_path = '/var/lib/mysql/o''brien.log'");
    expect(steps.flatMap((s) => s.config ?? [])).toContain('server_audit = FORCE_PLUS_PERMANENT');
  });
});

describe('URL schemes', () => {
  it('pglog: and mariadb-audit: select the log adapters', async () => {
    expect((await adapterForUrl('pglog:///var/log/pg')).name).toBe('pglog');
    expect((await adapterForUrl('mariadb-audit:///var/lib/mysql/server_audit.log')).name).toBe('mariadb-audit');
  });
});
