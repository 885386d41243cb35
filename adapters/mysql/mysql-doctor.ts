/**
 * `dbwitness doctor --url mysql://...`: findings with fixes, never booleans.
 */
import type { AdapterContext, Finding } from '../../src/core/ports.js';
import { resolveTables } from './audited-tables.js';
import { binaryLogs } from './binlog-position.js';
import { splitAccount, type MysqlSourceConfig } from './mysql-config.js';
import { connect, rows, serverFlavor, type MysqlConnection } from './mysql-connect.js';
import { MARK_PROCEDURE, allTriggerNames } from './session-marker.js';
import { checkSettings } from './server-settings.js';

const SETUP_FIX = 'run `dbwitness setup mysql --url ... --tables ...` to review the SQL, then again with --apply';

export async function doctor(config: MysqlSourceConfig, _ctx: AdapterContext): Promise<readonly Finding[]> {
  const findings: Finding[] = [];
  let conn: MysqlConnection;
  try {
    conn = await connect(config);
  } catch (e) {
    return [{ id: 'mysql.connect', status: 'fail', title: 'Connect to the server', detail: (e as Error).message, fix: 'check the URL, that the server runs, and the password variable' }];
  }
  try {
    const flavor = await serverFlavor(conn);
    findings.push({ id: 'mysql.connect', status: 'ok', title: 'Connect to the server', detail: `${flavor.isMariaDb ? 'MariaDB' : 'MySQL'} ${flavor.version}` });

    for (const c of await checkSettings(conn, flavor, config.outage_budget_hours)) {
      findings.push({
        id: c.id,
        status: c.ok ? 'ok' : c.severity,
        title: `${c.name}`,
        detail: `${c.actual}${c.ok ? '' : `: ${c.why}`}`,
        ...(c.ok ? {} : { fix: `add "${c.line}" to my.cnf${c.requiresRestart ? ' and restart the server' : ` (or SET GLOBAL ${c.line.replace(' = ', '=')} now)`}` }),
      });
    }

    findings.push(await oldestBinlog(conn));
    findings.push(...(await privileges(conn, config, flavor.isMariaDb)));
    findings.push(...(await identity(conn, config)));
    findings.push(await bypassers(conn, flavor.isMariaDb));

    const [ssl] = await rows<{ Value: string }>(conn, "SHOW SESSION STATUS LIKE 'Ssl_cipher'");
    const cipher = ssl?.Value ?? '';
    const local = /^(127\.|localhost$|::1$)/.test(new URL(config.url).hostname);
    findings.push(
      cipher
        ? { id: 'mysql.tls', status: 'ok', title: 'TLS in transit', detail: `cipher ${cipher}` }
        : { id: 'mysql.tls', status: local ? 'warn' : 'fail', title: 'TLS in transit', detail: 'this connection is not encrypted: binlog rows (ePHI) would cross the network in clear', fix: 'configure ssl_cert/ssl_key on the server and add ?ssl=verify to the source URL' },
    );
    findings.push({
      id: 'mysql.binlog_checksum',
      status: 'warn',
      title: 'Binlog event checksums',
      detail: 'the binlog decoder (zongji) skips CRC32 checksums instead of verifying them',
      fix: 'use TLS so the stream is integrity-protected in transit',
    });
  } finally {
    await conn.end().catch(() => undefined);
  }
  return findings;
}

async function oldestBinlog(conn: MysqlConnection): Promise<Finding> {
  try {
    const logs = await binaryLogs(conn);
    const total = logs.reduce((n, l) => n + l.size, 0n);
    return { id: 'mysql.binlog_files', status: 'ok', title: 'Retained binlogs', detail: `${logs.length} file(s), ${total} bytes, oldest ${logs[0]?.name ?? '-'}` };
  } catch (e) {
    return { id: 'mysql.binlog_files', status: 'warn', title: 'Retained binlogs', detail: `SHOW BINARY LOGS failed (${(e as { code?: string }).code})`, fix: 'grant BINLOG MONITOR (MariaDB) or REPLICATION CLIENT (MySQL) to the doctor account' };
  }
}

async function privileges(conn: MysqlConnection, config: MysqlSourceConfig, isMariaDb: boolean): Promise<Finding[]> {
  const { user, host } = splitAccount(config.replication_user);
  let grants: string[];
  try {
    const r = await rows<Record<string, string>>(conn, 'SHOW GRANTS FOR ?@?', [user, host]);
    grants = r.map((x) => Object.values(x)[0] ?? '');
  } catch {
    return [{ id: 'mysql.account', status: 'fail', title: `Replication account ${user}@${host}`, detail: 'the account does not exist (or doctor may not read its grants)', fix: SETUP_FIX }];
  }
  const all = grants.join('\n').toUpperCase();
  const needed = isMariaDb ? ['REPLICATION SLAVE', 'BINLOG MONITOR'] : ['REPLICATION SLAVE', 'REPLICATION CLIENT'];
  const missing = needed.filter((p) => !all.includes(p) && !all.includes('ALL PRIVILEGES ON *.*'));
  const excessive = ['SUPER', 'ALL PRIVILEGES ON *.*', 'BINLOG ADMIN'].filter((p) => all.includes(p));
  const out: Finding[] = [
    missing.length
      ? { id: 'mysql.account', status: 'fail', title: `Replication account ${user}@${host}`, detail: `missing ${missing.join(', ')}`, fix: SETUP_FIX }
      : { id: 'mysql.account', status: 'ok', title: `Replication account ${user}@${host}`, detail: `has ${needed.join(', ')}` },
  ];
  if (excessive.length) {
    out.push({ id: 'mysql.account_least_privilege', status: 'warn', title: 'Replication account privileges', detail: `has ${excessive.join(', ')}, more than it needs`, fix: `REVOKE them; it needs only ${needed.join(', ')} and SELECT on the audited tables` });
  }
  return out;
}

async function identity(conn: MysqlConnection, config: MysqlSourceConfig): Promise<Finding[]> {
  const out: Finding[] = [];
  const marker = await rows(conn, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [config.marker_database, config.marker_table]);
  out.push(
    marker.length
      ? { id: 'mysql.marker', status: 'ok', title: 'Session-marker table', detail: `${config.marker_database}.${config.marker_table}` }
      : { id: 'mysql.marker', status: 'fail', title: 'Session-marker table', detail: 'table missing', fix: SETUP_FIX },
  );
  let tables: Array<[string, string]>;
  try {
    tables = await resolveTables(conn, config);
  } catch (e) {
    out.push({ id: 'mysql.triggers', status: 'fail', title: 'Identity triggers', detail: (e as Error).message, fix: 'fix the table list' });
    return out;
  }
  const bad: string[] = [];
  const older: string[] = [];
  for (const [db, t] of tables) {
    const r = await rows<{ n: string; a: string }>(conn, 'SELECT TRIGGER_NAME AS n, ACTION_STATEMENT AS a FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?', [db, t]);
    const have = new Set(r.map((x) => x.n));
    const missing = allTriggerNames(t).filter((n) => !have.has(n));
    if (missing.length) bad.push(`${db}.${t} (${missing.length} of 3 missing)`);
    else if (r.some((x) => have.has(x.n) && allTriggerNames(t).includes(x.n) && x.a.includes(MARK_PROCEDURE))) older.push(`${db}.${t}`);
  }
  if (older.length && !bad.length) {
    out.push({ id: 'mysql.triggers_current', status: 'warn', title: 'Identity triggers up to date', detail: `${older.join(', ')} still call ${config.marker_database}.${MARK_PROCEDURE}() (an earlier setup): correct, but slower`, fix: SETUP_FIX });
  }
  out.push(
    bad.length
      ? { id: 'mysql.triggers', status: 'fail', title: 'Identity triggers', detail: `changes to ${bad.join(', ')} arrive unattributed`, fix: SETUP_FIX }
      : { id: 'mysql.triggers', status: 'ok', title: 'Identity triggers', detail: `present on all ${tables.length} audited table(s)` },
  );
  return out;
}

/** Accounts that can switch the binlog off for their session (SET sql_log_bin=0): their changes never reach any binlog reader. */
async function bypassers(conn: MysqlConnection, isMariaDb: boolean): Promise<Finding> {
  const privs = isMariaDb ? ['SUPER', 'BINLOG ADMIN'] : ['SUPER', 'SYSTEM_VARIABLES_ADMIN', 'SESSION_VARIABLES_ADMIN'];
  let grantees: string[] = [];
  try {
    const r = await rows<{ g: string }>(conn, `SELECT DISTINCT GRANTEE AS g FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE IN (${privs.map(() => '?').join(',')})`, privs);
    grantees = r.map((x) => x.g);
  } catch {
    // USER_PRIVILEGES shows only the doctor account's own rows without global SELECT.
  }
  return {
    id: 'mysql.sql_log_bin',
    status: 'warn',
    title: 'Sessions that can bypass the binlog',
    detail: `${grantees.length} account(s) hold ${privs.join('/')} and can SET sql_log_bin=0, leaving no binlog record at all${grantees.length ? `: ${grantees.slice(0, 10).join(', ')}` : ''}`,
    fix: 'keep these privileges to a few administrators and audit their sessions with the server_audit plugin (CONNECT,QUERY_DCL,QUERY_DDL,QUERY_DML)',
  };
}
