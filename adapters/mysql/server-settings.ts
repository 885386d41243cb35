/**
 * The server settings dbwitness needs, read once and judged in one place
 * so that `setup` (my.cnf lines) and `doctor` (findings) agree.
 */
import { rows, type MysqlConnection, type ServerFlavor } from './mysql-connect.js';

export interface SettingCheck {
  readonly id: string;
  readonly name: string;
  readonly actual: string;
  readonly ok: boolean;
  /** 'fail' when dbwitness cannot work (or loses data) without it. */
  readonly severity: 'fail' | 'warn';
  /** my.cnf line that fixes it. */
  readonly line: string;
  readonly requiresRestart: boolean;
  readonly why: string;
}

export async function readVariables(conn: MysqlConnection, names: readonly string[]): Promise<Map<string, string>> {
  const r = await rows<{ Variable_name: string; Value: string }>(conn, `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${names.map(() => '?').join(',')})`, [...names]);
  return new Map(r.map((x) => [x.Variable_name.toLowerCase(), String(x.Value)]));
}

/** Seconds binlogs are kept: binlog_expire_logs_seconds, else expire_logs_days; 0 = never purged automatically. */
export function retentionSeconds(v: ReadonlyMap<string, string>): number {
  const secs = Number(v.get('binlog_expire_logs_seconds') ?? '0');
  if (secs > 0) return secs;
  const days = Number(v.get('expire_logs_days') ?? '0');
  return Math.round(days * 86_400);
}

export async function checkSettings(conn: MysqlConnection, flavor: ServerFlavor, outageBudgetHours: number): Promise<SettingCheck[]> {
  const v = await readVariables(conn, [
    'log_bin',
    'binlog_format',
    'binlog_row_image',
    'binlog_row_metadata',
    'server_id',
    'gtid_strict_mode',
    'gtid_mode',
    'enforce_gtid_consistency',
    'binlog_expire_logs_seconds',
    'expire_logs_days',
  ]);
  const get = (k: string): string => v.get(k) ?? '(unset)';
  const budget = Math.ceil(outageBudgetHours * 3600);
  const retention = retentionSeconds(v);
  const want = Math.max(budget * 2, budget + 86_400);
  const checks: SettingCheck[] = [
    {
      id: 'mysql.log_bin', name: 'log_bin', actual: get('log_bin'), ok: get('log_bin') === 'ON', severity: 'fail',
      line: 'log_bin = binlog', requiresRestart: true, why: 'dbwitness reads changes from the binary log',
    },
    {
      id: 'mysql.binlog_format', name: 'binlog_format', actual: get('binlog_format'), ok: get('binlog_format') === 'ROW', severity: 'fail',
      line: 'binlog_format = ROW', requiresRestart: false, why: 'only row events carry the changed values',
    },
    {
      id: 'mysql.binlog_row_image', name: 'binlog_row_image', actual: get('binlog_row_image'), ok: get('binlog_row_image') === 'FULL', severity: 'fail',
      line: 'binlog_row_image = FULL', requiresRestart: false, why: 'before-images of every column for updates and deletes',
    },
    {
      id: 'mysql.binlog_row_metadata', name: 'binlog_row_metadata', actual: get('binlog_row_metadata'), ok: get('binlog_row_metadata') === 'FULL', severity: 'warn',
      line: 'binlog_row_metadata = FULL', requiresRestart: false, why: 'column names, keys and charsets travel in the binlog, so rows decode correctly even after ALTER TABLE',
    },
    {
      id: 'mysql.server_id', name: 'server_id', actual: get('server_id'), ok: Number(get('server_id')) > 0, severity: 'fail',
      line: 'server_id = 1', requiresRestart: true, why: 'a binlog source must have a non-zero server_id',
    },
  ];
  if (flavor.isMariaDb) {
    checks.push({
      id: 'mysql.gtid', name: 'gtid_strict_mode', actual: get('gtid_strict_mode'), ok: get('gtid_strict_mode') === 'ON', severity: 'warn',
      line: 'gtid_strict_mode = ON', requiresRestart: false, why: 'GTIDs stay strictly increasing per domain, which exact resume relies on',
    });
  } else {
    checks.push(
      {
        id: 'mysql.gtid', name: 'gtid_mode', actual: get('gtid_mode'), ok: get('gtid_mode') === 'ON', severity: 'warn',
        line: 'gtid_mode = ON', requiresRestart: true, why: 'resume by GTID survives binlog rotation and failover; without it dbwitness resumes by file:offset',
      },
      {
        id: 'mysql.enforce_gtid_consistency', name: 'enforce_gtid_consistency', actual: get('enforce_gtid_consistency'), ok: get('enforce_gtid_consistency') === 'ON', severity: 'warn',
        line: 'enforce_gtid_consistency = ON', requiresRestart: true, why: 'required by gtid_mode = ON',
      },
    );
  }
  checks.push({
    id: 'mysql.binlog_retention',
    name: 'binlog_expire_logs_seconds',
    actual: retention === 0 ? '0 (binlogs are never purged automatically)' : `${retention} s`,
    ok: retention === 0 || retention >= want,
    severity: retention > 0 && retention < budget ? 'fail' : 'warn',
    line: `binlog_expire_logs_seconds = ${want}`,
    requiresRestart: false,
    why: `binlogs must outlive the outage budget (${outageBudgetHours} h): a binlog purged while dbwitness is down is a gap in the audit trail`,
  });
  return checks;
}
