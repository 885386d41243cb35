/**
 * How far the server's binlog is ahead of what dbwitness made durable, for
 * the daemon's lag gauges and the replication-lag and retention alerts.
 *
 * A binlog reader holds no position on the server, so the durable position
 * is tracked here: the source records where each checkpoint it handed out
 * stands in the binlog files (tx-assembler marks), and `acknowledge` moves
 * the durable position to the mark of the acknowledged checkpoint. A later
 * message carrying the same checkpoint (heartbeats, rotations, unaudited
 * traffic) stands for the same resume point, so it moves the durable
 * position forward too: an idle, caught-up source reads 0 bytes.
 *
 * - bytes: the server's binlog end minus the durable position, summed over
 *   files (SHOW BINARY LOGS sizes; SHOW MASTER STATUS for the active file).
 * - retainedBytes: every binlog from the file holding the durable position
 *   to the end: what the server must keep for dbwitness to resume, the
 *   figure to compare with binlog_expire_logs_seconds / max_binlog_total_size.
 * - seconds: 0 when the server has committed nothing past the durable
 *   position; else now minus the commit time of the oldest transaction
 *   dbwitness has read but not yet made durable, or, when it has read none
 *   yet, minus the commit time of the newest durable one (an upper bound);
 *   null when unknown. Binlog event times have whole seconds.
 */
import { parseMariaPos, type Checkpoint } from './binlog-checkpoint.js';
import { binaryLogs } from './binlog-position.js';
import { atLeast, rows, type MysqlConnection, type ServerFlavor } from './mysql-connect.js';
import type { BinlogMark } from './tx-assembler.js';

export interface BinlogLag {
  readonly bytes: number | null;
  readonly retainedBytes: number | null;
  readonly seconds: number | null;
}

export interface DurablePoint {
  readonly checkpoint: Checkpoint;
  /** Where it stands in the binlog files; null until a message carrying it was read. */
  readonly mark: BinlogMark | null;
}

export interface BinlogFile {
  readonly name: string;
  readonly size: bigint;
}

/**
 * Bytes from `at` to the end of `logs`, and bytes of every file from the
 * one holding `at` to the end. Null when `at`'s file is no longer listed
 * (purged, or a mark from before a server reset).
 */
export function binlogDistance(logs: readonly BinlogFile[], at: { file: string; offset: number }): { bytes: bigint; retained: bigint } | null {
  const i = logs.findIndex((l) => l.name === at.file);
  if (i < 0) return null;
  let retained = 0n;
  for (let k = i; k < logs.length; k++) retained += logs[k]!.size;
  const behind = retained - BigInt(at.offset);
  return { bytes: behind > 0n ? behind : 0n, retained };
}

/** The server's binlog files, the active one sized by its current write position. */
export async function binlogFiles(conn: MysqlConnection, flavor: ServerFlavor): Promise<BinlogFile[]> {
  const logs = await binaryLogs(conn);
  const status = await rows<{ File: string; Position: number | string }>(conn, !flavor.isMariaDb && atLeast(flavor, 8, 4) ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS');
  const end = status[0];
  if (end) {
    const last = logs.findIndex((l) => l.name === end.File);
    // Read one after the other: the status is the newer of the two.
    if (last >= 0) logs[last] = { name: end.File, size: BigInt(String(end.Position)) };
  }
  return logs;
}

/** Whether the server has committed a transaction after `cp`. */
async function movedPast(conn: MysqlConnection, flavor: ServerFlavor, cp: Checkpoint, bytes: bigint | null): Promise<boolean | null> {
  if (cp.kind === 'mariadb-gtid' && flavor.isMariaDb) {
    const [r] = await rows<{ pos: string }>(conn, 'SELECT @@GLOBAL.gtid_binlog_pos AS pos');
    const server = parseMariaPos(r?.pos ?? '');
    for (const [domain, g] of server) if (g.seq > (cp.pos.get(domain)?.seq ?? 0n)) return true;
    return false;
  }
  if (cp.kind === 'mysql-gtid' && !flavor.isMariaDb) {
    const [r] = await rows<{ sub: number | string }>(conn, 'SELECT GTID_SUBSET(@@GLOBAL.gtid_executed, ?) AS sub', [cp.set]);
    return Number(r?.sub) !== 1;
  }
  // file:offset: anything written after the durable offset counts.
  return bytes === null ? null : bytes > 0n;
}

export async function measureLag(conn: MysqlConnection, flavor: ServerFlavor, durable: DurablePoint | null, oldestPendingMs: number | null, now = Date.now()): Promise<BinlogLag> {
  if (!durable) return { bytes: null, retainedBytes: null, seconds: null };
  const mark = durable.mark;
  const dist = mark && mark.file ? binlogDistance(await binlogFiles(conn, flavor), mark) : null;
  const past = await movedPast(conn, flavor, durable.checkpoint, dist?.bytes ?? null);
  let seconds: number | null = null;
  if (past === false) seconds = 0;
  else if (past === true) {
    const since = oldestPendingMs ?? mark?.newestMs ?? null;
    seconds = since === null ? null : Math.max(0, (now - since) / 1000);
  }
  return {
    bytes: dist ? Number(dist.bytes) : null,
    retainedBytes: dist ? Number(dist.retained) : null,
    seconds,
  };
}
