/**
 * Session identity on MariaDB 10.11, whose binlog carries no thread id for
 * DML: AFTER INSERT/UPDATE/DELETE row triggers on every audited table write
 * one row per transaction into a small marker table, inside the same
 * transaction. The decoder turns that row into an `identity` message and
 * drops it from the trail. A rolled-back transaction takes its marker with it.
 *
 * Why AFTER, not BEFORE: MariaDB writes the Annotate_rows event (the SQL
 * text) from the first row event of a statement; with a BEFORE trigger that
 * is the trigger's INSERT into the marker table and the user's statement
 * text is lost. With AFTER the user's first row precedes the marker, so the
 * decoder holds a transaction's changes until its marker (bounded).
 *
 * Once per transaction: the trigger skips the write when the marker row of
 * this connection already holds this session's id (@dbwitness_sid, a UUID
 * set on first use) and @@SESSION.last_gtid, the GTID of the session's
 * previous commit. A later transaction of the session sees a new last_gtid;
 * after a ROLLBACK the marker row reverts, so the next transaction marks
 * again. A session that pre-sets @dbwitness_sid can only suppress markers,
 * which makes its changes arrive unattributed (an alert), never misattributed.
 *
 * Inside a trigger CURRENT_USER() and CURRENT_ROLE() are the DEFINER's, so
 * the marker records USER() (login user @ client host, resolved by the
 * server: not forgeable) and the client host:port from the PROCESSLIST row
 * of the connection, read once per session into @dbwitness_client. A
 * session that pre-sets @dbwitness_sid and @dbwitness_client can therefore
 * misstate its own client port, never its user or address (both from USER()).
 */
import type { SessionIdentity } from '../../src/core/ports.js';
import type { Row } from '../../src/core/event.js';
import { quoteAccount, quoteIdent, quoteQualified } from './sql-quote.js';
import { createHash } from 'node:crypto';

export interface MarkerNames {
  readonly database: string;
  readonly table: string;
  /** user@host of the locked account the triggers run as. */
  readonly definerUser: string;
  readonly definerHost: string;
  /**
   * SQL naming the current transaction relative to the session: MariaDB's
   * @@SESSION.last_gtid (default). MySQL has no last_gtid; there the
   * InnoDB transaction id serves (INNODB_TRX lookup, costlier).
   */
  readonly txDiscriminator?: string;
}

export const MARIADB_TX_DISCRIMINATOR = '@@SESSION.last_gtid';
export const MYSQL_TX_DISCRIMINATOR = "IFNULL((SELECT CAST(t.trx_id AS CHAR) FROM information_schema.INNODB_TRX t WHERE t.trx_mysql_thread_id = CONNECTION_ID()), '')";

/**
 * The procedure triggers of earlier setups called once per transaction.
 * Setup no longer creates it; uninstall still drops it, and doctor flags
 * triggers that still call it.
 */
export const MARK_PROCEDURE = 'mark_session';
export const TRIGGER_PREFIX = 'dbwitness_';

export type TriggerOp = 'insert' | 'update' | 'delete';
const OPS: readonly TriggerOp[] = ['insert', 'update', 'delete'];

export function markerTableDdl(n: MarkerNames): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteQualified(n.database, n.table)} (
  conn_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  sid CHAR(36) NOT NULL,
  after_gtid VARCHAR(255) NOT NULL,
  login VARCHAR(400) NULL,
  client_host VARCHAR(300) NULL,
  app_user VARCHAR(255) NULL,
  application VARCHAR(255) NULL,
  marked_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='dbwitness session markers: one row per connection, rewritten once per audited transaction'`;
}

/** Trigger names are at most 64 characters: readable prefix + hash of the exact table name. */
export function triggerName(table: string, op: TriggerOp): string {
  const readable = table.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 30);
  const h = createHash('sha256').update(table).digest('hex').slice(0, 8);
  return `${TRIGGER_PREFIX}${readable}_${h}_${op[0]}`;
}

/**
 * The identity trigger. Its whole cost (bench/mysql/RESULTS.md) is per
 * statement and per row, so the body is as small as the guarantees allow:
 * - the marker table is opened and write-locked with every statement on an
 *   audited table (prelocking: MariaDB locks every table a trigger may
 *   touch, and logs a Table_map for one it may write), whether or not it
 *   is written;
 * - per row, one primary-key lookup decides whether this transaction is
 *   marked. It reads the transactional marker row, never a session
 *   variable alone: a ROLLBACK (or a failed statement) reverts the row, so
 *   the next write marks again, where a variable would wrongly say "done".
 *   @dbwitness_sid is compared as utf8mb4_bin: a value the session set
 *   itself carries the connection's collation, which may not mix with
 *   the column's and would make the user's statement fail;
 * - once per transaction the upsert runs inline, without a procedure
 *   call (about 5% more sysbench write TPS than a CALL per transaction).
 */
export function triggerDdl(n: MarkerNames, database: string, table: string, op: TriggerOp): string {
  const marker = quoteQualified(n.database, n.table);
  const tx = n.txDiscriminator ?? MARIADB_TX_DISCRIMINATOR;
  return `CREATE OR REPLACE DEFINER=${quoteAccount(n.definerUser, n.definerHost)} TRIGGER ${quoteQualified(database, triggerName(table, op))}
AFTER ${op.toUpperCase()} ON ${quoteQualified(database, table)} FOR EACH ROW
BEGIN
  IF NOT EXISTS (SELECT 1 FROM ${marker} m WHERE m.conn_id = CONNECTION_ID() AND m.sid = CONVERT(@dbwitness_sid USING utf8mb4) COLLATE utf8mb4_bin AND m.after_gtid = ${tx}) THEN
    IF @dbwitness_sid IS NULL THEN
      -- Once per session: reading PROCESSLIST per transaction cost more
      -- than half of sysbench write TPS.
      SET @dbwitness_sid = UUID(),
          @dbwitness_client = (SELECT p.HOST FROM information_schema.PROCESSLIST p WHERE p.ID = CONNECTION_ID());
    END IF;
    INSERT INTO ${marker} (conn_id, sid, after_gtid, login, client_host, app_user, application, marked_at)
    VALUES (CONNECTION_ID(), @dbwitness_sid, ${tx}, USER(),
            LEFT(@dbwitness_client, 300), LEFT(@dbwitness_app_user, 255), LEFT(@dbwitness_application, 255), NOW(6))
    ON DUPLICATE KEY UPDATE sid = VALUES(sid), after_gtid = VALUES(after_gtid), login = VALUES(login),
      client_host = VALUES(client_host), app_user = VALUES(app_user), application = VALUES(application),
      marked_at = VALUES(marked_at);
  END IF;
END`;
}

export function triggerDdls(n: MarkerNames, database: string, table: string): string[] {
  return OPS.map((op) => triggerDdl(n, database, table, op));
}

export function dropTriggerSql(database: string, table: string): string[] {
  return OPS.map((op) => `DROP TRIGGER IF EXISTS ${quoteQualified(database, triggerName(table, op))}`);
}

export function allTriggerNames(table: string): string[] {
  return OPS.map((op) => triggerName(table, op));
}

export { quoteIdent };

function text(v: Row[string] | undefined): string | null {
  return typeof v === 'string' ? v : null;
}

/**
 * The session id of a connection: `<@@hostname>:<CONNECTION_ID()>`, the form
 * the server_audit log source gives the same connection (its `serverhost`
 * field is the server's host name, as @@hostname), so a change joins that
 * session's logins and reads. Connection ids restart with the server: the
 * id is unique per server lifetime, and a join across a restart also needs
 * the time (the session's login..logout interval).
 */
export function sessionId(serverHost: string | null, connId: string): string {
  return serverHost ? `${serverHost}:${connId}` : connId;
}

/**
 * The identity a marker row (its after-image) carries. `login` is USER():
 * user@client-host; `client_host` is PROCESSLIST.HOST: host:port over TCP,
 * 'localhost' over the Unix socket. `serverHost` is the server's @@hostname
 * (see sessionId).
 */
export function identityFromMarker(row: Row, serverHost: string | null = null): SessionIdentity {
  const login = text(row['login']);
  let dbUser: string | null = null;
  let addr: string | null = null;
  if (login !== null) {
    const at = login.lastIndexOf('@');
    dbUser = at >= 0 ? login.slice(0, at) : login;
    addr = at >= 0 ? login.slice(at + 1) : null;
  }
  const host = text(row['client_host']);
  const conn = text(row['conn_id']);
  let port: number | null = null;
  if (host !== null) {
    const m = /:(\d{1,5})$/.exec(host);
    if (m) port = Number(m[1]);
  }
  return {
    db_user: dbUser,
    role: null,
    app_user: text(row['app_user']),
    client_addr: addr,
    client_port: port,
    application: text(row['application']),
    session_id: conn === null ? null : sessionId(serverHost, conn),
  };
}

/**
 * MySQL 8: the connection registry. `init_connect` inserts a row per new
 * connection; the BEFORE INSERT trigger (run as the locked definer)
 * overwrites every column with what the server knows, so a session can
 * register only itself, truthfully. init_connect does not run for accounts
 * with CONNECTION_ADMIN/SUPER: their transactions fall back to the markers.
 */
export function registryDdl(n: MarkerNames, table: string): string[] {
  const reg = quoteQualified(n.database, table);
  const definer = quoteAccount(n.definerUser, n.definerHost);
  return [
    `CREATE TABLE IF NOT EXISTS ${reg} (
  conn_id BIGINT UNSIGNED NOT NULL,
  login VARCHAR(400) NULL,
  client_host VARCHAR(300) NULL,
  app_user VARCHAR(255) NULL,
  application VARCHAR(255) NULL,
  registered_at DATETIME(6) NOT NULL,
  PRIMARY KEY (conn_id, registered_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    `DROP TRIGGER IF EXISTS ${quoteQualified(n.database, `${TRIGGER_PREFIX}registry_bi`)}`,
    `CREATE DEFINER=${definer} TRIGGER ${quoteQualified(n.database, `${TRIGGER_PREFIX}registry_bi`)} BEFORE INSERT ON ${reg} FOR EACH ROW
BEGIN
  SET NEW.conn_id = CONNECTION_ID(), NEW.login = USER(), NEW.registered_at = NOW(6),
      NEW.client_host = (SELECT p.HOST FROM information_schema.PROCESSLIST p WHERE p.ID = CONNECTION_ID()),
      NEW.app_user = NULL,
      NEW.application = (SELECT a.ATTR_VALUE FROM performance_schema.session_connect_attrs a WHERE a.PROCESSLIST_ID = CONNECTION_ID() AND a.ATTR_NAME = 'program_name' LIMIT 1);
END`,
    `GRANT SELECT, INSERT ON ${reg} TO ${definer}`,
    `GRANT TRIGGER ON ${reg} TO ${definer}`,
  ];
}

export function initConnectSql(n: MarkerNames, table: string): string {
  return `SET GLOBAL init_connect = 'INSERT INTO ${quoteQualified(n.database, table).replace(/'/g, "''")} (conn_id, registered_at) VALUES (0, NOW(6))'`;
}
