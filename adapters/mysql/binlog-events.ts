/**
 * The binlog events the transaction assembler understands, decoded from
 * zongji (live servers) or from raw bytes (recorded MySQL 8 fixtures).
 * Row values are already exact (row-values.ts).
 */
import type { Row } from '../../src/core/event.js';

export type BinlogEvent =
  /** MariaDB GTID event: starts an event group (transaction or standalone DDL). */
  | {
      readonly type: 'mariadb-gtid';
      readonly domain: number;
      readonly server: number;
      readonly seq: bigint;
      readonly standalone: boolean;
      /** MariaDB 11.5+ writes the connection id here (FL_EXTRA_THREAD_ID). */
      readonly threadId: number | null;
      readonly timestampMs: number;
    }
  /** MySQL GTID event: 'uuid:n' (or 'uuid:tag:n'). */
  | {
      readonly type: 'mysql-gtid';
      readonly gtid: string;
      readonly timestampMs: number;
      /**
       * immediate_commit_timestamp of MySQL 8.0.1+ GTID events: the commit
       * time in microseconds since the epoch (a better source than the
       * whole-second event header). zongji does not decode it; the raw
       * event parser does.
       */
      readonly commitMicros?: bigint;
    }
  /**
   * Query event: BEGIN (MySQL row-based transactions; `threadId` is the
   * connection that ran it), COMMIT for non-transactional engines, or a DDL
   * statement. `threadId` is the Query event's thread_id post-header field.
   */
  | { readonly type: 'query'; readonly query: string; readonly schema: string; readonly threadId: number; readonly timestampMs: number; readonly nextPosition: number }
  /** Annotate_rows (MariaDB) / Rows_query (MySQL): the SQL text of the following rows. */
  | { readonly type: 'statement'; readonly text: string }
  | {
      readonly type: 'rows';
      readonly action: 'insert' | 'update' | 'delete';
      readonly schema: string;
      readonly table: string;
      /** Primary key column names, in key order (empty: table has none). */
      readonly keyColumns: readonly string[];
      readonly columns: readonly string[];
      readonly rows: ReadonlyArray<{ readonly before: Row | null; readonly after: Row | null }>;
    }
  | { readonly type: 'xid'; readonly timestampMs: number; readonly nextPosition: number }
  /**
   * `artificial`: the rotate a server sends at the start of every
   * connection (timestamp 0) rather than one written in the binlog. After a
   * GTID resume its position is the file's start, not where streaming goes on.
   */
  | { readonly type: 'rotate'; readonly file: string; readonly position: number; readonly artificial?: boolean }
  | { readonly type: 'heartbeat'; readonly file: string; readonly position: number };
