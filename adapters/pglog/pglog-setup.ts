/**
 * What a DBA configures so PostgreSQL's own log records reads, logins and
 * failures, and the checks `doctor` runs against a live server. Exported for
 * `dbwitness setup postgres` / `doctor` as well as the pglog adapter.
 */
import type { Finding, SetupStep } from '../../src/core/ports.js';

export interface PgauditSetupOptions {
  /** Server major version: jsonlog exists from 15, pgaudit.log_rows from pgaudit 1.6 (PostgreSQL 14). */
  readonly version: number;
}

export function pgauditSetupSteps(o: PgauditSetupOptions): SetupStep[] {
  const destination = o.version >= 15 ? 'jsonlog' : 'csvlog';
  return [
    {
      title: 'Load pgaudit at server start',
      why: 'pgaudit hooks the executor to log reads (SELECT, COPY TO) with the relation touched; reads never reach the WAL, so this is the only way to see them',
      sql: [],
      config: ["shared_preload_libraries = 'pgaudit'   # add to any libraries already listed"],
      requiresRestart: true,
    },
    {
      title: `Write the server log as ${destination}`,
      why:
        `${destination} is machine-readable (one record per ${destination === 'jsonlog' ? 'line' : 'CSV row'}) and carries user, database, client address and port, application and session id (%c) on every record; ` +
        'lc_messages=C keeps the messages dbwitness matches in English, log_timezone=UTC gives unambiguous timestamps, and a group-readable file mode lets the dbwitness user read the log',
      sql: [],
      config: [
        'logging_collector = on',
        `log_destination = '${destination}'`,
        "log_directory = 'log'",
        "log_file_mode = 0640",
        "log_timezone = 'UTC'",
        "lc_messages = 'C'",
        'log_rotation_age = 1d',
        'log_rotation_size = 100MB',
      ],
      requiresRestart: true,
    },
    {
      title: 'Log logins, logouts and refused statements',
      why: 'HIPAA asks for log-in monitoring and for failures as well as successes: connection authorized, disconnection (with session time), failed authentication (FATAL 28xxx) and permission denied (ERROR 42501) with the statement',
      sql: [],
      config: ['log_connections = on', 'log_disconnections = on', 'log_min_error_statement = error'],
    },
    {
      title: 'Choose what pgaudit logs',
      why:
        'read: every read of a table, with its name (log_relation: one record per relation)' +
        (o.version >= 14 ? ' and the number of rows returned (log_rows)' : '') +
        '; role: GRANT, REVOKE, CREATE/ALTER/DROP ROLE; ddl: schema changes. Writes are already audited row by row from the WAL, so write is left out; ' +
        'log_parameter stays off because bind parameters are patient data',
      sql: [],
      config: [
        "pgaudit.log = 'read, role, ddl'",
        'pgaudit.log_relation = on',
        ...(o.version >= 14 ? ['pgaudit.log_rows = on'] : []),
        'pgaudit.log_parameter = off',
        'pgaudit.log_catalog = off',
        'pgaudit.log_statement_once = off',
      ],
    },
    {
      title: 'Create the pgaudit extension',
      why: 'pgaudit needs its event triggers to classify DDL; run once per database after the restart',
      sql: ['CREATE EXTENSION IF NOT EXISTS pgaudit'],
    },
  ];
}

/** The part of a PostgreSQL client doctor needs (pg.Client fits). */
export interface SqlClient {
  query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

const WATCHED = [
  'server_version_num',
  'shared_preload_libraries',
  'logging_collector',
  'log_destination',
  'log_directory',
  'data_directory',
  'log_connections',
  'log_disconnections',
  'lc_messages',
  'log_timezone',
  'log_min_error_statement',
  'log_min_messages',
  'pgaudit.log',
  'pgaudit.log_relation',
  'pgaudit.log_rows',
  'pgaudit.log_level',
];

/** Checks a live server's logging and pgaudit settings; never throws for a missing setting. */
export async function pgauditDoctorFindings(client: SqlClient, expectedFormat: 'jsonlog' | 'csvlog' = 'jsonlog'): Promise<Finding[]> {
  const { rows } = await client.query<{ name: string; setting: string }>('SELECT name, setting FROM pg_settings WHERE name = ANY($1)', [WATCHED]);
  const s = new Map(rows.map((r) => [r.name, r.setting]));
  const version = Math.floor(Number(s.get('server_version_num') ?? '0') / 10000);
  const ext = await client.query<{ extversion: string }>("SELECT extversion FROM pg_extension WHERE extname = 'pgaudit'");
  const out: Finding[] = [];
  const check = (id: string, ok: boolean, title: string, detail: string, fix: string, bad: 'warn' | 'fail' = 'fail'): void => {
    out.push(ok ? { id, status: 'ok', title, detail } : { id, status: bad, title, detail, fix });
  };
  const preload = (s.get('shared_preload_libraries') ?? '').split(',').map((x) => x.trim().replace(/^"|"$/g, ''));
  check('pglog.pgaudit_loaded', preload.includes('pgaudit'), 'pgaudit is loaded', `shared_preload_libraries = '${s.get('shared_preload_libraries') ?? ''}'`, "add pgaudit to shared_preload_libraries in postgresql.conf and restart PostgreSQL");
  check('pglog.pgaudit_extension', ext.rows.length > 0, 'pgaudit extension exists in this database', ext.rows.length > 0 ? `pgaudit ${ext.rows[0]!.extversion}` : 'not created', 'run CREATE EXTENSION pgaudit (after pgaudit is loaded)');
  const classes = (s.get('pgaudit.log') ?? '').toLowerCase().split(',').map((x) => x.trim());
  const has = (c: string): boolean => classes.includes(c) || (classes.includes('all') && !classes.includes(`-${c}`));
  const missing = ['read', 'role', 'ddl'].filter((c) => !has(c));
  check('pglog.pgaudit_classes', missing.length === 0, 'pgaudit logs reads, role changes and DDL', `pgaudit.log = '${s.get('pgaudit.log') ?? ''}'`, `set pgaudit.log = 'read, role, ddl' (missing: ${missing.join(', ')}) and reload`);
  check('pglog.pgaudit_relation', s.get('pgaudit.log_relation') === 'on', 'pgaudit names every relation read', `pgaudit.log_relation = ${s.get('pgaudit.log_relation') ?? 'unset'}`, 'set pgaudit.log_relation = on and reload: without it a join is logged under one relation only', 'warn');
  if (s.has('pgaudit.log_rows')) {
    check('pglog.pgaudit_rows', s.get('pgaudit.log_rows') === 'on', 'pgaudit logs row counts', `pgaudit.log_rows = ${s.get('pgaudit.log_rows')}`, 'set pgaudit.log_rows = on and reload to record how many rows each read returned', 'warn');
  }
  const destinations = (s.get('log_destination') ?? '').split(',').map((x) => x.trim());
  check('pglog.log_destination', destinations.includes(expectedFormat), `the server writes ${expectedFormat}`, `log_destination = '${s.get('log_destination') ?? ''}' (PostgreSQL ${version})`, version < 15 && expectedFormat === 'jsonlog' ? "PostgreSQL < 15 has no jsonlog: set log_destination = 'csvlog' and configure the source with format=csvlog" : `add ${expectedFormat} to log_destination and reload`);
  check('pglog.logging_collector', s.get('logging_collector') === 'on', 'the logging collector writes log files', `logging_collector = ${s.get('logging_collector') ?? 'unset'}`, 'set logging_collector = on and restart PostgreSQL (jsonlog and csvlog need it)');
  // PostgreSQL 18 made log_connections a list of aspects; "authorization" is the one that logs the login.
  const conn = (s.get('log_connections') ?? '').split(',').map((x) => x.trim());
  check('pglog.log_connections', conn.includes('on') || conn.includes('all') || conn.includes('authorization'), 'logins are logged', `log_connections = ${s.get('log_connections') ?? 'unset'}`, 'set log_connections = on (takes effect for new connections)');
  check('pglog.log_disconnections', s.get('log_disconnections') === 'on', 'logouts are logged', `log_disconnections = ${s.get('log_disconnections') ?? 'unset'}`, 'set log_disconnections = on', 'warn');
  const lc = s.get('lc_messages') ?? '';
  check('pglog.lc_messages', lc === 'C' || lc === 'POSIX' || lc === '' || /^en(_|$)/i.test(lc), 'server messages are in English', `lc_messages = '${lc}'`, "set lc_messages = 'C' and reload: translated login and permission messages are not recognised");
  const tz = s.get('log_timezone') ?? '';
  check('pglog.log_timezone', /^(UTC|Etc\/UTC|GMT|Etc\/GMT|UCT|Zulu|Universal)$/i.test(tz), 'log timestamps are in UTC', `log_timezone = '${tz}'`, "set log_timezone = 'UTC' and reload: zone abbreviations such as CET are ambiguous and records carrying them are rejected");
  const order = ['debug5', 'debug4', 'debug3', 'debug2', 'debug1', 'info', 'notice', 'warning', 'error', 'log', 'fatal', 'panic'];
  const mes = s.get('log_min_error_statement') ?? 'error';
  check('pglog.log_min_error_statement', order.indexOf(mes) <= order.indexOf('error'), 'refused statements are logged with their text', `log_min_error_statement = ${mes}`, 'set log_min_error_statement = error', 'warn');
  const mm = s.get('log_min_messages') ?? 'warning';
  check('pglog.log_min_messages', order.indexOf(mm) <= order.indexOf('error'), 'errors reach the log', `log_min_messages = ${mm}`, 'set log_min_messages = warning (the default)');
  const level = s.get('pgaudit.log_level');
  if (level !== undefined) check('pglog.pgaudit_level', level === 'log', 'pgaudit records are logged at level LOG', `pgaudit.log_level = ${level}`, 'set pgaudit.log_level = log', 'warn');
  const dir = s.get('log_directory') ?? '';
  out.push({ id: 'pglog.log_directory', status: 'ok', title: 'log directory', detail: dir.startsWith('/') ? dir : `${s.get('data_directory') ?? '$PGDATA'}/${dir}` });
  return out;
}
