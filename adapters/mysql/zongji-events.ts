/**
 * zongji's decoded events -> the assembler's BinlogEvent. Declares only the
 * fields it reads (zongji's own typings cover far more).
 */
import type { BinlogEvent } from './binlog-events.js';
import { exactRow, type ColumnInfo, type LogicalType } from './row-values.js';

interface ZEvent {
  getEventName(): string;
  timestamp: number;
  nextPosition: number;
  [k: string]: unknown;
}

interface ZTableEntry {
  parentSchema: string;
  tableName: string;
  columns?: ColumnInfo[];
}

/** Primary-key column names per `db.table`, learned from TABLE_MAP metadata or from the server. */
export type KeyColumns = Map<string, readonly string[]>;

/** Columns per `db.table` whose declared type the binlog cannot show (MariaDB UUID/INET4/INET6). */
export type LogicalColumns = Map<string, Map<string, LogicalType>>;

export interface TableFacts {
  readonly keys: KeyColumns;
  readonly logical: LogicalColumns;
}

export function tableKey(schema: string, table: string): string {
  return `${schema}\u0000${table}`;
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

/**
 * Returns null for events the assembler does not need (format description,
 * table maps, checkpoints, int vars...). TABLE_MAP events still teach the
 * primary key when binlog_row_metadata=FULL sent it.
 */
export function fromZongji(e: ZEvent, facts: TableFacts, isMariaDb: boolean): BinlogEvent | null {
  const keys = facts.keys;
  switch (e.getEventName()) {
    case 'mariadbgtid':
      return {
        type: 'mariadb-gtid',
        domain: num(e['domainId']),
        server: num(e['serverId']),
        seq: BigInt(String(e['seqNo'])),
        standalone: e['standalone'] === true,
        threadId: typeof e['threadId'] === 'number' ? e['threadId'] : null,
        timestampMs: e.timestamp,
      };
    case 'gtid':
      return { type: 'mysql-gtid', gtid: String(e['gtid']), timestampMs: e.timestamp };
    case 'query':
      return {
        type: 'query',
        query: String(e['query']),
        schema: String(e['schema'] ?? ''),
        threadId: num(e['slaveProxyId']),
        timestampMs: e.timestamp,
        nextPosition: e.nextPosition,
      };
    case 'annotaterows':
    case 'rowsquery':
      return { type: 'statement', text: String(e['statement']) };
    case 'tablemap': {
      const names = e['columnNames'] as string[] | undefined;
      const pk = e['primaryKey'] as number[] | undefined;
      if (names && pk) keys.set(tableKey(String(e['schemaName']), String(e['tableName'])), pk.map((i) => names[i]!).filter(Boolean));
      return null;
    }
    case 'writerows':
    case 'updaterows':
    case 'deleterows': {
      const entry = (e['tableMap'] as Record<number, ZTableEntry>)[num(e['tableId'])];
      if (!entry?.columns) return null;
      const columns = entry.columns;
      const action = e.getEventName() === 'writerows' ? 'insert' : e.getEventName() === 'updaterows' ? 'update' : 'delete';
      const raw = e['rows'] as Array<Record<string, unknown>>;
      const logical = facts.logical.get(tableKey(entry.parentSchema, entry.tableName));
      const label = `${entry.parentSchema}.${entry.tableName}`;
      const rows = raw.map((r) => {
        if (action === 'update') {
          const u = r as { before: Record<string, unknown>; after: Record<string, unknown> };
          return { before: exactRow(u.before, columns, logical, label), after: exactRow(u.after, columns, logical, label) };
        }
        const row = exactRow(r, columns, logical, label);
        return action === 'insert' ? { before: null, after: row } : { before: row, after: null };
      });
      return {
        type: 'rows',
        action,
        schema: entry.parentSchema,
        table: entry.tableName,
        keyColumns: keys.get(tableKey(entry.parentSchema, entry.tableName)) ?? [],
        columns: columns.map((c) => c.name),
        rows,
      };
    }
    case 'xid':
      return { type: 'xid', timestampMs: e.timestamp, nextPosition: e.nextPosition };
    case 'rotate':
      return { type: 'rotate', file: String(e['binlogName']), position: num(e['position']), artificial: e.timestamp === 0 };
    case 'heartbeat':
      return { type: 'heartbeat', file: String(e['binlogName'] ?? ''), position: isMariaDb && e['position'] !== undefined ? num(e['position']) : e.nextPosition };
    default:
      return null;
  }
}
