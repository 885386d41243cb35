/**
 * What a DBA configures so MariaDB's server_audit plugin records logins,
 * failures, reads and refused statements, and the checks `doctor` runs.
 * Exported for `dbwitness setup mysql` / `doctor` as well.
 */
import type { Finding, SetupStep } from '../../src/core/ports.js';

/**
 * CONNECT: logins, failed logins, logouts. QUERY_DML: every SELECT/INSERT/
 * UPDATE/DELETE with its return code; a refused statement appears only here,
 * since no table was opened. QUERY_DDL and QUERY_DCL: schema and privilege
 * changes. TABLE: the tables each statement really opened (through views
 * and joins too), which names the objects of every read.
 */
export const SERVER_AUDIT_EVENTS = 'CONNECT,QUERY_DDL,QUERY_DCL,QUERY_DML,TABLE';

export interface ServerAuditSetupOptions {
  /** server_audit_file_path, e.g. /var/lib/mysql/server_audit.log */
  readonly filePath: string;
}

export function serverAuditSetupSteps(o: ServerAuditSetupOptions): SetupStep[] {
  const settings: Array<[string, string]> = [
    ['server_audit_events', SERVER_AUDIT_EVENTS],
    ['server_audit_output_type', 'file'],
    ['server_audit_file_path', o.filePath],
    ['server_audit_file_rotate_size', '100000000'],
    ['server_audit_file_rotations', '30'],
    ['server_audit_query_log_limit', '8192'],
    ['server_audit_logging', 'ON'],
  ];
  return [
    {
      title: 'Install the server_audit plugin',
      why: 'the binlog records no reads, logins or failures; server_audit, shipped with MariaDB, does',
      sql: ["INSTALL SONAME 'server_audit'"],
    },
    {
      title: 'Audit connections, statements and the tables they open',
      why:
        `${SERVER_AUDIT_EVENTS}: CONNECT gives logins, failed logins and logouts; QUERY_DML every read and write statement with its return code (refused statements appear only here); ` +
        'QUERY_DDL/QUERY_DCL schema and privilege changes; TABLE the tables each statement opened. Rotation keeps 30 files of 100 MB; statements are logged up to 8192 bytes',
      sql: settings.map(([k, v]) => `SET GLOBAL ${k} = ${/^\d+$|^ON$/.test(v) ? v : `'${v.replaceAll("'", "''")}'`}`),
    },
    {
      title: 'Keep the plugin loaded across restarts and out of reach of UNINSTALL',
      why: 'FORCE_PLUS_PERMANENT makes UNINSTALL PLUGIN fail, so auditing cannot be switched off from SQL; the settings above must also be in my.cnf to survive a restart',
      sql: [],
      config: ['[mariadbd]', 'plugin_load_add = server_audit', 'server_audit = FORCE_PLUS_PERMANENT', ...settings.map(([k, v]) => `${k} = ${v}`)],
      requiresRestart: true,
    },
  ];
}

/** The part of a mysql2/promise connection doctor needs. */
export interface MysqlQueryable {
  query(sql: string): Promise<unknown>;
}

export async function serverAuditDoctorFindings(conn: MysqlQueryable): Promise<Finding[]> {
  const rowsOf = async (sql: string): Promise<Array<Record<string, unknown>>> => {
    const result = (await conn.query(sql)) as [Array<Record<string, unknown>>, unknown];
    return result[0];
  };
  const plugin = await rowsOf("SELECT PLUGIN_STATUS AS status, LOAD_OPTION AS load_option FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'SERVER_AUDIT'");
  const out: Finding[] = [];
  const status = plugin[0]?.status;
  if (status !== 'ACTIVE') {
    out.push({ id: 'mariadb_audit.plugin', status: 'fail', title: 'server_audit plugin is active', detail: status === undefined ? 'not installed' : `status ${String(status)}`, fix: "run INSTALL SONAME 'server_audit' and add plugin_load_add = server_audit to my.cnf" });
    return out;
  }
  out.push({ id: 'mariadb_audit.plugin', status: 'ok', title: 'server_audit plugin is active', detail: `load option ${String(plugin[0]?.load_option)}` });
  const vars = new Map((await rowsOf("SHOW GLOBAL VARIABLES LIKE 'server\\_audit\\_%'")).map((r) => [String(r.Variable_name), String(r.Value)]));
  const check = (id: string, ok: boolean, title: string, detail: string, fix: string, bad: 'warn' | 'fail' = 'fail'): void => {
    out.push(ok ? { id, status: 'ok', title, detail } : { id, status: bad, title, detail, fix });
  };
  check('mariadb_audit.permanent', plugin[0]?.load_option === 'FORCE_PLUS_PERMANENT', 'the plugin cannot be uninstalled from SQL', `load option ${String(plugin[0]?.load_option)}`, 'add server_audit = FORCE_PLUS_PERMANENT and plugin_load_add = server_audit to my.cnf and restart', 'warn');
  check('mariadb_audit.logging', vars.get('server_audit_logging') === 'ON', 'audit logging is on', `server_audit_logging = ${vars.get('server_audit_logging') ?? 'unset'}`, 'SET GLOBAL server_audit_logging = ON (and in my.cnf)');
  check('mariadb_audit.output', vars.get('server_audit_output_type') === 'file', 'the audit log goes to a file', `server_audit_output_type = ${vars.get('server_audit_output_type') ?? 'unset'}`, "SET GLOBAL server_audit_output_type = 'file': dbwitness reads the file, not syslog");
  const events = new Set((vars.get('server_audit_events') ?? '').split(',').map((e) => e.trim()).filter((e) => e !== ''));
  // An empty event list means "log everything" to the plugin.
  const all = events.size === 0;
  const has = (e: string): boolean => all || events.has(e) || (e.startsWith('QUERY_') && events.has('QUERY'));
  const missing = ['CONNECT', 'QUERY_DML', 'QUERY_DDL', 'QUERY_DCL'].filter((e) => !has(e));
  check('mariadb_audit.events', missing.length === 0, 'logins, statements, DDL and privilege changes are audited', `server_audit_events = '${vars.get('server_audit_events') ?? ''}'`, `SET GLOBAL server_audit_events = '${SERVER_AUDIT_EVENTS}' (missing: ${missing.join(', ')})`);
  check('mariadb_audit.table_events', all || events.has('TABLE'), 'the tables each statement opened are audited', `server_audit_events = '${vars.get('server_audit_events') ?? ''}'`, `add TABLE to server_audit_events: without it reads through views and joins name only the statement's text`, 'warn');
  const excluded = vars.get('server_audit_excl_users') ?? '';
  check('mariadb_audit.excluded_users', excluded === '', 'no user is excluded from auditing', excluded === '' ? 'server_audit_excl_users is empty' : `server_audit_excl_users = '${excluded}'`, "SET GLOBAL server_audit_excl_users = ''", 'warn');
  const included = vars.get('server_audit_incl_users') ?? '';
  check('mariadb_audit.included_users', included === '', 'every user is audited', included === '' ? 'server_audit_incl_users is empty' : `only ${included} are audited`, "SET GLOBAL server_audit_incl_users = ''", 'warn');
  const limit = Number(vars.get('server_audit_query_log_limit') ?? '1024');
  check('mariadb_audit.query_limit', limit >= 4096, 'statements are logged in full', `server_audit_query_log_limit = ${limit}`, 'SET GLOBAL server_audit_query_log_limit = 8192: longer statements are cut by the plugin', 'warn');
  const rotations = Number(vars.get('server_audit_file_rotations') ?? '9');
  check('mariadb_audit.rotation', rotations >= 2, 'rotated audit files are kept long enough to be read', `server_audit_file_rotations = ${rotations}`, 'SET GLOBAL server_audit_file_rotations = 30: with 0 or 1 a rotation can delete a file before it was read', 'warn');
  const tz = (await rowsOf('SELECT TIME_TO_SEC(TIMEDIFF(NOW(), UTC_TIMESTAMP())) AS off'))[0]?.off;
  out.push({ id: 'mariadb_audit.time_zone', status: 'ok', title: 'server local time offset', detail: `${String(tz)} s from UTC: set time_zone on the source to match (server_audit writes local time)` });
  out.push({ id: 'mariadb_audit.file_path', status: 'ok', title: 'audit log file', detail: vars.get('server_audit_file_path') ?? '(unset)' });
  return out;
}
