/**
 * Server-side facts about binlog positions: where "now" is, and whether a
 * resume point is still in the binlogs (a purge while dbwitness was down
 * leaves a gap that must be reported, never skipped).
 */
import { findingError } from '../../src/core/errors.js';
import { mariaGap, mariaPosText, parseMariaPos, type Checkpoint } from './binlog-checkpoint.js';
import { atLeast, rows, type MysqlConnection, type ServerFlavor } from './mysql-connect.js';

/** The position just after everything committed so far. */
export async function currentPosition(conn: MysqlConnection, flavor: ServerFlavor): Promise<Checkpoint> {
  if (flavor.isMariaDb) {
    const [r] = await rows<{ pos: string }>(conn, 'SELECT @@GLOBAL.gtid_binlog_pos AS pos');
    return { kind: 'mariadb-gtid', pos: parseMariaPos(r?.pos ?? '') };
  }
  const [mode] = await rows<{ m: string }>(conn, 'SELECT @@GLOBAL.gtid_mode AS m');
  if (mode?.m === 'ON') {
    const [r] = await rows<{ s: string }>(conn, 'SELECT @@GLOBAL.gtid_executed AS s');
    return { kind: 'mysql-gtid', set: (r?.s ?? '').replace(/\s/g, '') };
  }
  const status = await rows<{ File: string; Position: number | string }>(conn, !flavor.isMariaDb && atLeast(flavor, 8, 4) ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS');
  const s = status[0];
  if (!s) throw findingError('E_MYSQL_NO_BINLOG', 'the server has no binary log (log_bin is OFF)', 'enable log_bin in my.cnf and restart the server (see `dbwitness setup mysql`)');
  return { kind: 'file', file: s.File, offset: Number(s.Position) };
}

export async function binaryLogs(conn: MysqlConnection): Promise<Array<{ name: string; size: bigint }>> {
  const r = await rows<{ Log_name: string; File_size: string | number }>(conn, 'SHOW BINARY LOGS');
  return r.map((x) => ({ name: x.Log_name, size: BigInt(String(x.File_size)) }));
}

/**
 * Throws E_MYSQL_BINLOG_PURGED, naming how many transactions are gone,
 * when the binlogs no longer reach back to `resume`.
 */
export async function assertResumable(conn: MysqlConnection, flavor: ServerFlavor, resume: Checkpoint): Promise<void> {
  const logs = await binaryLogs(conn);
  const oldest = logs[0];
  if (!oldest) return;
  if (resume.kind === 'mariadb-gtid' && flavor.isMariaDb) {
    // The GTID position at the start of the oldest file: its Gtid_list event.
    const [r] = await rows<{ pos: string | null }>(conn, 'SELECT BINLOG_GTID_POS(?, 4) AS pos', [oldest.name]);
    const first = parseMariaPos(r?.pos ?? '');
    const gaps = mariaGap(resume.pos, first);
    if (gaps.length > 0) {
      const total = gaps.reduce((n, g) => n + g.missing, 0n);
      const ranges = gaps.map((g) => `domain ${g.domain}: sequence ${g.from}..${g.to}`).join('; ');
      throw findingError(
        'E_MYSQL_BINLOG_PURGED',
        `binlogs were purged past the resume point ${mariaPosText(resume.pos) || '(start)'}: ${total} transaction(s) are gone (${ranges}); the oldest binlog ${oldest.name} starts after ${mariaPosText(first)}`,
        'those changes cannot be audited from the binlog any more: record the gap with your compliance officer, raise binlog_expire_logs_seconds above the outage budget, then start a new chain (new --id or store) to continue',
      );
    }
  }
  if (resume.kind === 'file' && !logs.some((l) => l.name === resume.file)) {
    throw findingError(
      'E_MYSQL_BINLOG_PURGED',
      `binlog ${resume.file} (resume point) was purged; the oldest binlog is now ${oldest.name}: everything written in between is gone`,
      'raise binlog retention above the outage budget, record the gap, then start a new chain',
    );
  }
}
