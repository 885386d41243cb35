/**
 * The heartbeat function: how the daemon makes an idle database show
 * progress through its own replication stream.
 *
 * `<schema>.emit_heartbeat(nonce)` writes a NON-transactional logical
 * message `dbwitness.heartbeat` with the server's clock_timestamp() and the
 * caller's nonce. Non-transactional, because the point is a WAL position
 * that pgoutput delivers by itself, outside any transaction: the source
 * turns it into an idle checkpoint, the pipeline stores and acknowledges
 * it, and the slot moves forward even when no audited table changes.
 *
 * Flushing: the walsender decodes flushed WAL only. The call's transaction
 * has no xid, so its commit does not flush; it hands the WAL to the WAL
 * writer as an asynchronous commit does (flushed within a few
 * wal_writer_delay, 200 ms by default). That is soon enough for a
 * heartbeat, never waits for a synchronous standby, and leaves no commit
 * record to decode and no xid consumed per heartbeat.
 *
 * Privileges: owned by the NOLOGIN emitter role (the one role that may call
 * pg_logical_emit_message), SECURITY DEFINER with search_path pinned to
 * pg_catalog, pg_temp (one call per check interval can afford the GUC
 * save/restore that the hot-path identity emitter avoids), EXECUTE for the
 * daemon login role only. It writes nothing but a heartbeat: the prefix is
 * fixed and the nonce bounded, so the daemon role still cannot forge an
 * identity or DDL message.
 */
import { HEARTBEAT_FUNCTION, HEARTBEAT_PREFIX } from './postgres-config.js';
import { quoteIdent, quoteLiteral } from './sql-quote.js';

/** Longest nonce the function accepts (the daemon sends 24 hex characters). */
export const HEARTBEAT_NONCE_MAX = 64;

/** The function's signature as GRANT, REVOKE and DROP name it. */
export function heartbeatFunctionSignature(schema: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(HEARTBEAT_FUNCTION)}(pg_catalog.text)`;
}

export function heartbeatFunctionSql(schema: string): string {
  return `CREATE OR REPLACE FUNCTION ${quoteIdent(schema)}.${quoteIdent(HEARTBEAT_FUNCTION)}(nonce pg_catalog.text) RETURNS pg_catalog.pg_lsn
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $dbw$
DECLARE
  payload pg_catalog.text;
  lsn pg_catalog.pg_lsn;
BEGIN
  IF nonce IS NULL OR length(nonce) < 1 OR length(nonce) > ${HEARTBEAT_NONCE_MAX} THEN
    RAISE EXCEPTION 'heartbeat nonce must be 1 to ${HEARTBEAT_NONCE_MAX} characters';
  END IF;
  payload := json_build_object('v', 1, 'nonce', nonce, 'server_time', clock_timestamp())::text;
  lsn := pg_logical_emit_message(false, ${quoteLiteral(HEARTBEAT_PREFIX)}, payload);
  RETURN lsn;
END
$dbw$`;
}

/** What the daemon runs, with the nonce as $1. */
export function heartbeatCallSql(schema: string): string {
  return `SELECT ${quoteIdent(schema)}.${quoteIdent(HEARTBEAT_FUNCTION)}($1::pg_catalog.text)::pg_catalog.text AS lsn`;
}
