/**
 * `dbwitness setup postgres`: the SQL a DBA reviews, then runs with --apply.
 *
 * Every step is idempotent (CREATE OR REPLACE, IF NOT EXISTS, DO blocks that
 * look before they create), so --apply can be repeated after adding tables.
 * Each statement runs in its own transaction: creating a logical slot is
 * refused in a transaction that has written anything.
 */
import type { SetupPlan, SetupStep } from '../../src/core/ports.js';
import { IDENTITY_TRIGGER, type PostgresSourceConfig } from './postgres-config.js';
import type { PgClient } from './postgres-connection.js';
import { resolveScope, triggerTargets, type Scope } from './postgres-scope.js';
import { DDL_EVENT_TRIGGER, DROP_EVENT_TRIGGER, SESSION_KEY_TABLE, ddlEndFunctionSql, emitIdentityFunctionSql, emitSessionIdentityFunctionSql, ensureCoverageFunctionSql, nativeEmitIdentityFunctionSql, NATIVE_EMITTER_LIBRARY, identityTriggerSql, rotateSessionKeySql, sessionKeySql, sqlDropFunctionSql } from './identity-sql.js';
import { heartbeatFunctionSignature, heartbeatFunctionSql } from './heartbeat-sql.js';
import { qualified, quoteIdent, quoteLiteral } from './sql-quote.js';

/** Marks where `--apply` inserts the daemon password (psql syntax, so the printed plan also runs under `psql -v`). */
export function passwordPlaceholder(envName: string): string {
  return `:'${envName}'`;
}

const NATIVE_WHY = `Writes session_user, active role, app user (dbwitness.app_user), client address and port, application_name, backend pid and the log session id (%c) into the WAL of the same transaction, once per transaction and role, from the C trigger function in ${NATIVE_EMITTER_LIBRARY}.so (identity_emitter: native; native/postgres-emitter). Build and install it in this server's library directory first (make && make install; docs/postgres.md, "Native emitter"): creating emit_identity() loads it, so a server without it fails at this step, never at an audited write. The function takes no arguments, runs only as a trigger and reads every field from the backend, so it writes only the caller's own identity, with the session id read from the backend itself (message version 3: nothing cached, nothing to sign). The PL/pgSQL emit_session_identity() stays installed, unused, for a switch back to identity_emitter: plpgsql.`;

export async function planSetupWith(client: PgClient, config: PostgresSourceConfig): Promise<SetupPlan> {
  const scope = await resolveScope(client, config);
  const { rows } = await client.query<{ db: string }>('SELECT pg_catalog.current_database() AS db');
  return buildSetupPlan(config, scope, rows[0]?.db ?? 'postgres');
}

export function buildSetupPlan(config: PostgresSourceConfig, scope: Scope, database: string): SetupPlan {
  const s = quoteIdent(config.schema_name);
  const emitter = quoteIdent(config.emitter_role);
  const daemon = quoteIdent(config.daemon_role);
  const pub = quoteIdent(config.publication);
  const tableList = scope.tables.map(qualified).join(', ');
  const pubOptions = `publish = 'insert, update, delete, truncate', publish_via_partition_root = ${config.publish_via_partition_root}`;
  const steps: SetupStep[] = [
    {
      title: 'Server settings',
      why: 'Logical decoding needs wal_level=logical; the slot and the daemon\'s connection need a replication slot and a WAL sender. Connection logging joins session ids to logins.',
      sql: [],
      config: ['wal_level = logical', 'max_replication_slots = 10   # at least one free', 'max_wal_senders = 10        # at least one free', 'log_connections = on', "max_slot_wal_keep_size = '50GB'  # bound retained WAL; doctor warns when the slot falls behind"],
      requiresRestart: true,
    },
    {
      title: `Emitter role ${config.emitter_role} and schema ${config.schema_name}`,
      why: `A NOLOGIN role owns the SECURITY DEFINER identity function, so only that function can write identity messages. pg_read_all_stats lets it read the caller's backend start time for the session id. Every role gets USAGE on the schema (the identity trigger runs as the caller and calls into it); nobody else may create objects in it, and its tables and other functions are revoked from PUBLIC. ${SESSION_KEY_TABLE} holds a random key, created once and kept by later runs, that signs each session's cached session id; only the emitter and the daemon can read it.`,
      sql: [
        `DO $dbw$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ${quoteLiteral(config.emitter_role)}) THEN CREATE ROLE ${emitter} NOLOGIN; END IF; END $dbw$`,
        `GRANT pg_read_all_stats TO ${emitter}`,
        `CREATE SCHEMA IF NOT EXISTS ${s}`,
        // Every role needs USAGE: the identity trigger runs as the caller and calls emit_session_identity(). Nobody else may create objects here.
        `REVOKE CREATE ON SCHEMA ${s} FROM PUBLIC`,
        `GRANT USAGE ON SCHEMA ${s} TO PUBLIC`,
        `CREATE TABLE IF NOT EXISTS ${s}.audited_schemas (nspname name PRIMARY KEY)`,
        `REVOKE ALL ON TABLE ${s}.audited_schemas FROM PUBLIC`,
        scope.schemas.length === 0
          ? `DELETE FROM ${s}.audited_schemas`
          : `DELETE FROM ${s}.audited_schemas WHERE nspname NOT IN (${scope.schemas.map(quoteLiteral).join(', ')})`,
        ...scope.schemas.map((n) => `INSERT INTO ${s}.audited_schemas VALUES (${quoteLiteral(n)}) ON CONFLICT DO NOTHING`),
        ...sessionKeySql(config.schema_name, config.emitter_role),
      ],
    },
    {
      title: config.identity_emitter === 'native' ? 'Identity emitter function (native)' : 'Identity emitter function',
      why: config.identity_emitter === 'native' ? NATIVE_WHY : `Writes session_user, active role, app user (dbwitness.app_user), client address and port, application_name, backend pid and the log session id (%c) into the WAL of the same transaction, once per transaction and role. The trigger function emit_identity() runs as the caller and only checks whether this transaction's identity is already written; the first time, it calls emit_session_identity(), SECURITY DEFINER and owned by ${config.emitter_role}, which writes it. Every role may call that one (USAGE on the schema, EXECUTE on the function): it takes no arguments and writes only the caller's own identity. The session id is read once per session and cached, signed with the key, in the setting dbwitness.session; the daemon checks the signature, so a session that sets it by hand loses its session id and raises an alert.`,
      sql: [
        emitSessionIdentityFunctionSql(config.schema_name),
        `ALTER FUNCTION ${s}.emit_session_identity() OWNER TO ${emitter}`,
        `REVOKE ALL ON FUNCTION ${s}.emit_session_identity() FROM PUBLIC`,
        `GRANT EXECUTE ON FUNCTION ${s}.emit_session_identity() TO PUBLIC`,
        config.identity_emitter === 'native' ? nativeEmitIdentityFunctionSql(config.schema_name) : emitIdentityFunctionSql(config.schema_name),
        `ALTER FUNCTION ${s}.emit_identity() OWNER TO ${emitter}`,
        `REVOKE ALL ON FUNCTION ${s}.emit_identity() FROM PUBLIC`,
      ],
    },
    {
      title: 'Only the emitter may write logical messages',
      why: 'By default any role may call pg_logical_emit_message and so forge identity messages. EXECUTE is revoked from PUBLIC on every variant (PG17 adds a flush argument) and granted to the emitter role explicitly, so the trigger keeps working.',
      sql: [
        `DO $dbw$ DECLARE f pg_catalog.regprocedure; BEGIN
  FOR f IN SELECT p.oid::pg_catalog.regprocedure FROM pg_catalog.pg_proc p WHERE p.proname = 'pg_logical_emit_message' AND p.pronamespace = 'pg_catalog'::pg_catalog.regnamespace LOOP
    EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %I', f, ${quoteLiteral(config.emitter_role)});
  END LOOP;
END $dbw$`,
      ],
    },
    {
      title: 'Identity triggers and REPLICA IDENTITY FULL on every audited table and partition',
      why: 'Statement triggers fire for the table the statement names only, so every partition needs its own. ENABLE ALWAYS keeps them firing under session_replication_role = replica. REPLICA IDENTITY FULL puts complete before-images of UPDATE and DELETE into the WAL.',
      sql: triggerTargets(scope).flatMap((t) => [
        identityTriggerSql(config.schema_name, qualified(t), true),
        `ALTER TABLE ${qualified(t)} ENABLE ALWAYS TRIGGER ${quoteIdent(IDENTITY_TRIGGER)}, REPLICA IDENTITY FULL`,
      ]),
    },
    {
      title: 'DDL capture and coverage of later partitions',
      why: 'An event trigger writes every DDL command (tag, object, statement text) into the same stream, and adds the trigger, ENABLE ALWAYS and REPLICA IDENTITY FULL to partitions created or attached later and to new tables of audited schemas.',
      sql: [
        ensureCoverageFunctionSql(config.schema_name, config.publication),
        `REVOKE ALL ON FUNCTION ${s}.ensure_coverage(pg_catalog.oid) FROM PUBLIC`,
        ddlEndFunctionSql(config.schema_name),
        sqlDropFunctionSql(config.schema_name),
        `DROP EVENT TRIGGER IF EXISTS ${quoteIdent(DDL_EVENT_TRIGGER)}`,
        `CREATE EVENT TRIGGER ${quoteIdent(DDL_EVENT_TRIGGER)} ON ddl_command_end EXECUTE FUNCTION ${s}.on_ddl_command_end()`,
        `DROP EVENT TRIGGER IF EXISTS ${quoteIdent(DROP_EVENT_TRIGGER)}`,
        `CREATE EVENT TRIGGER ${quoteIdent(DROP_EVENT_TRIGGER)} ON sql_drop EXECUTE FUNCTION ${s}.on_sql_drop()`,
      ],
    },
    {
      title: `Publication ${config.publication}`,
      why: `Publishes insert, update, delete and truncate of the audited tables. publish_via_partition_root = ${config.publish_via_partition_root}: writes to partitions appear under the partitioned table's name.`,
      sql: [
        `DO $dbw$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = ${quoteLiteral(config.publication)}) THEN
    CREATE PUBLICATION ${pub} FOR TABLE ${tableList} WITH (${pubOptions});
  ELSE
    ALTER PUBLICATION ${pub} SET TABLE ${tableList};
    ALTER PUBLICATION ${pub} SET (${pubOptions});
  END IF;
END $dbw$`,
      ],
    },
    {
      title: `Daemon role ${config.daemon_role}`,
      why: `The daemon needs LOGIN and REPLICATION only: it reads the slot and the catalogs, never the tables. The password comes from $${config.daemon_password_env} when applying and is never printed.`,
      sql: [
        `DO $dbw$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ${quoteLiteral(config.daemon_role)}) THEN CREATE ROLE ${daemon} LOGIN REPLICATION; END IF; END $dbw$`,
        `ALTER ROLE ${daemon} LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS`,
        `ALTER ROLE ${daemon} PASSWORD ${passwordPlaceholder(config.daemon_password_env)}`,
        `GRANT CONNECT ON DATABASE ${quoteIdent(database)} TO ${daemon}`,
        // To check the signed session ids (and nothing else in the schema).
        `GRANT SELECT ON TABLE ${s}.${SESSION_KEY_TABLE} TO ${daemon}`,
      ],
    },
    {
      title: 'Heartbeat function',
      why: `An idle database writes no WAL, so a silent stream could be a stuck pipeline or just a quiet night. Every check interval the daemon calls ${config.schema_name}.emit_heartbeat(nonce), which writes a non-transactional pg_logical_emit_message(false, 'dbwitness.heartbeat', ...) with the server's clock_timestamp() and the nonce; it comes back through the slot as progress (and moves the slot on an idle database), and its round trip is the replication lag in seconds. SECURITY DEFINER, owned by ${config.emitter_role} like the identity function, search_path pinned; EXECUTE for ${config.daemon_role} only (with USAGE on the schema to reach it): it writes nothing but a heartbeat, so the daemon still cannot forge an identity message.`,
      sql: [
        heartbeatFunctionSql(config.schema_name),
        `ALTER FUNCTION ${heartbeatFunctionSignature(config.schema_name)} OWNER TO ${emitter}`,
        `REVOKE ALL ON FUNCTION ${heartbeatFunctionSignature(config.schema_name)} FROM PUBLIC`,
        `GRANT USAGE ON SCHEMA ${s} TO ${daemon}`,
        `GRANT EXECUTE ON FUNCTION ${heartbeatFunctionSignature(config.schema_name)} TO ${daemon}`,
      ],
    },
    {
      title: `Replication slot ${config.slot}`,
      why: 'A pgoutput logical slot retains WAL until dbwitness confirms the events are durable. Created here only: `run` never creates a slot, so a lost slot is reported, not silently replaced.',
      sql: [
        `SELECT pg_catalog.pg_create_logical_replication_slot(${quoteLiteral(config.slot)}, 'pgoutput') WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = ${quoteLiteral(config.slot)})`,
      ],
    },
  ];
  return { engine: 'postgres', steps };
}

/** `setup postgres --rotate-session-key [GRACE]`: a new key for session ids (identity-sql.ts). */
export function buildKeyRotationPlan(config: PostgresSourceConfig, graceMs: number): SetupPlan {
  const grace = Math.floor(graceMs / 1000);
  return {
    engine: 'postgres',
    steps: [
      {
        title: `Rotate the session key in ${config.schema_name}.${SESSION_KEY_TABLE}`,
        why:
          grace > 0
            ? `Sessions sign their cached session id with this key; new sessions sign with the new one from their first audited transaction. Sessions that started before now keep the id they signed with the old key until they reconnect or RESET ALL, so the daemon accepts the old key for those sessions only, for ${grace} s more; after that their ids are reported as forged until they reconnect. A running daemon picks up the new key when it meets the first id signed with it (no restart).`
            : 'Sessions sign their cached session id with this key. The old key is dropped at once (use this when it may have leaked): sessions that cached an id under it report it as forged (one identity_session_forged alert each) until they reconnect or RESET ALL. A running daemon picks up the new key when it meets the first id signed with it (no restart).',
        sql: rotateSessionKeySql(config.schema_name, grace),
      },
    ],
  };
}

export function buildUninstallPlan(config: PostgresSourceConfig): SetupPlan {
  const s = quoteIdent(config.schema_name);
  const emitter = config.emitter_role;
  const daemon = config.daemon_role;
  const dropRole = (role: string): string =>
    `DO $dbw$ BEGIN IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ${quoteLiteral(role)}) THEN EXECUTE pg_catalog.format('DROP OWNED BY %I', ${quoteLiteral(role)}); EXECUTE pg_catalog.format('DROP ROLE %I', ${quoteLiteral(role)}); END IF; END $dbw$`;
  return {
    engine: 'postgres',
    steps: [
      {
        title: 'Stop DDL capture',
        why: 'Removes the event triggers first so the removal itself does not re-add triggers.',
        sql: [`DROP EVENT TRIGGER IF EXISTS ${quoteIdent(DDL_EVENT_TRIGGER)}`, `DROP EVENT TRIGGER IF EXISTS ${quoteIdent(DROP_EVENT_TRIGGER)}`],
      },
      {
        title: 'Remove identity triggers',
        why: `Drops trigger ${IDENTITY_TRIGGER} from every table that has it and sets REPLICA IDENTITY back to DEFAULT there (the PostgreSQL default; tables that had FULL before setup need it set again by hand).`,
        sql: [
          `DO $dbw$ DECLARE t pg_catalog.regclass; BEGIN
  FOR t IN SELECT tg.tgrelid::pg_catalog.regclass FROM pg_catalog.pg_trigger tg WHERE tg.tgname = ${quoteLiteral(IDENTITY_TRIGGER)} LOOP
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s', ${quoteLiteral(IDENTITY_TRIGGER)}, t);
    EXECUTE pg_catalog.format('ALTER TABLE %s REPLICA IDENTITY DEFAULT', t);
  END LOOP;
END $dbw$`,
        ],
      },
      {
        title: 'Drop publication and slot',
        why: 'The slot retains WAL for as long as it exists; dropping it releases that WAL. It fails while a daemon is connected: stop dbwitness first.',
        sql: [
          `DROP PUBLICATION IF EXISTS ${quoteIdent(config.publication)}`,
          `SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = ${quoteLiteral(config.slot)}`,
        ],
      },
      {
        title: 'Restore EXECUTE on pg_logical_emit_message to PUBLIC',
        why: 'Puts back PostgreSQL\'s default privileges.',
        sql: [
          `DO $dbw$ DECLARE f pg_catalog.regprocedure; BEGIN
  FOR f IN SELECT p.oid::pg_catalog.regprocedure FROM pg_catalog.pg_proc p WHERE p.proname = 'pg_logical_emit_message' AND p.pronamespace = 'pg_catalog'::pg_catalog.regnamespace LOOP
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', f);
  END LOOP;
END $dbw$`,
        ],
      },
      {
        title: 'Drop schema and roles',
        why: `Removes the heartbeat function, schema ${config.schema_name} (functions, scope table) and the roles ${emitter} and ${daemon}. Roles are cluster-wide: DROP ROLE fails if they hold privileges in another database.`,
        sql: [`DROP FUNCTION IF EXISTS ${heartbeatFunctionSignature(config.schema_name)}`, `DROP SCHEMA IF EXISTS ${s} CASCADE`, dropRole(emitter), dropRole(daemon)],
      },
    ],
  };
}
