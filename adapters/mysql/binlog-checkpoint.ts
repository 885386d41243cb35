/**
 * Resume tokens of the binlog source.
 *
 * - `mariadb-gtid:<gtid_binlog_pos>`: MariaDB's domain-server-seq list, one
 *   entry per replication domain, e.g. `0-1-42,1-7-3`. Sent back to the
 *   server as @slave_connect_state, the way a MariaDB replica resumes.
 * - `mysql-gtid:<gtid set>`: a MySQL executed-GTID set (`uuid:1-42,...`),
 *   resumed with COM_BINLOG_DUMP_GTID (needs gtid_mode=ON).
 * - `file:<binlog file>:<offset>`: end of the last transaction when the
 *   server runs without GTIDs (MySQL gtid_mode=OFF).
 *
 * Every token names the end of a whole transaction: resuming from it
 * replays nothing already committed to the store and skips nothing after.
 */
import { DbwitnessError } from '../../src/core/errors.js';

export type Checkpoint =
  | { readonly kind: 'mariadb-gtid'; readonly pos: MariaGtidPos }
  | { readonly kind: 'mysql-gtid'; readonly set: string }
  | { readonly kind: 'file'; readonly file: string; readonly offset: number };

export interface MariaGtid {
  readonly domain: number;
  readonly server: number;
  /** Exact sequence number (64-bit). */
  readonly seq: bigint;
}

/** Last GTID per replication domain. */
export type MariaGtidPos = ReadonlyMap<number, MariaGtid>;

export function parseMariaGtid(s: string): MariaGtid {
  const m = /^(\d+)-(\d+)-(\d+)$/.exec(s.trim());
  if (!m) throw badCheckpoint(`"${s}" is not a MariaDB GTID (domain-server-sequence)`);
  return { domain: Number(m[1]), server: Number(m[2]), seq: BigInt(m[3]!) };
}

export function mariaGtidText(g: MariaGtid): string {
  return `${g.domain}-${g.server}-${g.seq}`;
}

export function parseMariaPos(s: string): Map<number, MariaGtid> {
  const pos = new Map<number, MariaGtid>();
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const g = parseMariaGtid(part);
    pos.set(g.domain, g);
  }
  return pos;
}

export function mariaPosText(pos: MariaGtidPos): string {
  return [...pos.values()].sort((a, b) => a.domain - b.domain).map(mariaGtidText).join(',');
}

/** The position after `gtid` committed: it replaces its domain's entry. */
export function advanceMariaPos(pos: MariaGtidPos, gtid: MariaGtid): Map<number, MariaGtid> {
  const next = new Map(pos);
  next.set(gtid.domain, gtid);
  return next;
}

export function encodeCheckpoint(c: Checkpoint): string {
  switch (c.kind) {
    case 'mariadb-gtid':
      return `mariadb-gtid:${mariaPosText(c.pos)}`;
    case 'mysql-gtid':
      return `mysql-gtid:${c.set}`;
    case 'file':
      return `file:${c.file}:${c.offset}`;
  }
}

export function decodeCheckpoint(token: string): Checkpoint {
  if (token.startsWith('mariadb-gtid:')) return { kind: 'mariadb-gtid', pos: parseMariaPos(token.slice(13)) };
  if (token.startsWith('mysql-gtid:')) {
    const set = token.slice(11);
    if (!/^[0-9a-fA-F:,\-\s_a-z]*$/.test(set)) throw badCheckpoint('the MySQL GTID set holds unexpected characters');
    return { kind: 'mysql-gtid', set };
  }
  const m = /^file:(.+):(\d+)$/.exec(token);
  if (m) return { kind: 'file', file: m[1]!, offset: Number(m[2]) };
  throw badCheckpoint(`unknown checkpoint format "${token.slice(0, 40)}"`);
}

function badCheckpoint(what: string): DbwitnessError {
  return new DbwitnessError('E_MYSQL_CHECKPOINT', `stored binlog checkpoint is invalid: ${what}`, 'the store was written by another source; use a new store or the right --id');
}

/**
 * Transactions between a resume position and the oldest GTID still in the
 * binlog, per domain: the size of a gap left by purged binlogs.
 */
export function mariaGap(resume: MariaGtidPos, oldestAvailable: MariaGtidPos): Array<{ domain: number; from: bigint; to: bigint; missing: bigint }> {
  const gaps: Array<{ domain: number; from: bigint; to: bigint; missing: bigint }> = [];
  for (const [domain, first] of oldestAvailable) {
    const have = resume.get(domain)?.seq ?? 0n;
    // `first` is the GTID list at the start of the oldest binlog: the last
    // transaction BEFORE it, so everything after `have` up to `first` is gone.
    if (first.seq > have) gaps.push({ domain, from: have + 1n, to: first.seq, missing: first.seq - have });
  }
  return gaps;
}
