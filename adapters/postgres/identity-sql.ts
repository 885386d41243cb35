/**
 * The SQL objects that put the session identity into the WAL.
 *
 * PostgreSQL's WAL holds no session user, client address or application,
 * so a BEFORE ... FOR EACH STATEMENT trigger writes them with a
 * transactional `pg_logical_emit_message(true, 'dbwitness', ...)` (a text
 * array; DDL messages are JSON). The message is decoded between BEGIN and
 * COMMIT, before the statement's rows, and vanishes with a rolled-back
 * (sub)transaction. Messages are written as UTF-8 (`convert_to`): pgoutput
 * converts row values and names to the replication connection's encoding
 * but sends a message's bytes as stored, so in a LATIN1 database an app
 * user with an accent would otherwise arrive garbled.
 *
 * Forgery: EXECUTE on pg_logical_emit_message is revoked from PUBLIC, so
 * only the SECURITY DEFINER emit_session_identity() (owned by a NOLOGIN
 * role) can write a `dbwitness` message, and it takes no arguments: every
 * field comes from the calling session, so nobody can make it emit someone
 * else's identity.
 *
 * Hot path: the trigger runs on every audited statement, so neither
 * function has a `SET search_path` clause (that adds a GUC save/restore per
 * call, DESIGN.md).
 * Instead every function, type and comparison is schema-qualified
 * (`pg_catalog.texteq` rather than `=`), which is what makes a SECURITY
 * DEFINER function safe against a caller's hostile search_path.
 *
 * What a SECURITY DEFINER function can see: SESSION_USER (the login) and the
 * `role` setting (SET ROLE) are the caller's; CURRENT_USER is the function's
 * owner. The effective user inside an application's own SECURITY DEFINER
 * function is therefore not observable; the login and active role are.
 */
import { IDENTITY_PREFIX, DDL_PREFIX, IDENTITY_TRIGGER } from './postgres-config.js';
import { quoteIdent, quoteLiteral } from './sql-quote.js';

/** The log session id `%c`: hex(backend start epoch) '.' hex(pid), from two SQL expressions. */
function sessionIdSql(start: string, pid: string): string {
  return `pg_catalog.textcat(pg_catalog.textcat(pg_catalog.to_hex(pg_catalog.trunc(EXTRACT(epoch FROM ${start}))::pg_catalog.int8), '.'), pg_catalog.to_hex(${pid}))`;
}

/**
 * JSON object fields every identity-bearing message carries. Expects
 * plpgsql variables `started` (backend start), `r` (role setting), `au` (app user)
 * and `lg` (the authenticated login where it differs from SESSION_USER, else NULL).
 */
const IDENTITY_FIELDS = `'v', 1,
      'db_user', SESSION_USER,
      'role', CASE WHEN pg_catalog.texteq(r, 'none') THEN NULL ELSE r END,
      'app_user', CASE WHEN pg_catalog.texteq(au, '') THEN NULL ELSE au END,
      'client_addr', pg_catalog.host(pg_catalog.inet_client_addr()),
      'client_port', pg_catalog.inet_client_port(),
      'application', pg_catalog.current_setting('application_name'),
      'pid', pg_catalog.pg_backend_pid(),
      'session_id', ${sessionIdSql('started', 'pg_catalog.pg_backend_pid()')},
      'login', lg`;

/**
 * The per-transaction identity (version 2) as a PostgreSQL text array:
 * `{2,<db_user>,<role setting>,<app user>,<client addr>,<client port>,<application>,<pid>,<session>[,<login>]}`,
 * written by array_out, which quotes and escapes every element that needs
 * it and writes NULL for a missing one (identity-message.ts reads it back).
 * Not JSON: json_build_object looks up the type and output function of
 * each of its 18 arguments on every call, and measured about 6 µs per
 * transaction dearer than the array, whose output function is looked up
 * once. The role setting is `none` without SET ROLE (no role may have that
 * name) and an unset app user is empty or NULL; the daemon maps both to
 * null. `session` is the signed session id `<sid>:<mac>` from `tok`.
 * `login`, only while it differs from SESSION_USER (a superuser's SET
 * SESSION AUTHORIZATION), is the login the backend authenticated, from
 * `lg`, signed in the same mac.
 */
const IDENTITY_FIELDS_V2 = `'2', SESSION_USER::pg_catalog.text, r, au,
      pg_catalog.host(pg_catalog.inet_client_addr()), pg_catalog.inet_client_port()::pg_catalog.text,
      pg_catalog.current_setting('application_name'), pg_catalog.pg_backend_pid()::pg_catalog.text, tok`;
const IDENTITY_ARRAY_V2 = `(CASE WHEN pg_catalog.texteq(lg, '') IS NOT FALSE THEN ARRAY[${IDENTITY_FIELDS_V2}]
      ELSE ARRAY[${IDENTITY_FIELDS_V2}, lg] END)::pg_catalog.text`;

/**
 * The key that says "this transaction's identity for the active role and
 * session user is in the WAL": transaction id, role and session user (a
 * superuser's SET SESSION AUTHORIZATION inside a transaction changes the
 * identity without changing the role setting). Plain textcat: it runs on
 * every audited statement, and concat() with a length prefix measured
 * about 1.7 µs per TPC-B transaction dearer. Two names containing ':' could
 * run together only across a SET SESSION AUTHORIZATION, which takes a
 * superuser, who could as well disable the trigger (a DDL alert). It lives
 * in the transaction-local setting `dbwitness.emitted`, which a rolled-back
 * savepoint reverts, like the message itself. Expects a plpgsql variable
 * `r` (role setting).
 */
const EMITTED_KEY = `pg_catalog.textcat(pg_catalog.textcat(pg_catalog.textcat(pg_catalog.textcat(pg_catalog.pg_current_xact_id()::pg_catalog.text, ':'), r), ':'), SESSION_USER::pg_catalog.text)`;

/**
 * CREATE TRIGGER for one table (`target` is already quoted); `orReplace`
 * for setup's idempotent runs. No WHEN condition, though one could skip
 * the call for every statement after the first: PostgreSQL parses a
 * trigger's WHEN text and builds its expression again for every statement
 * (TriggerEnabled), which measured dearer than the PL/pgSQL call, whose
 * expressions stay built for the rest of the transaction.
 */
export function identityTriggerSql(schema: string, target: string, orReplace: boolean): string {
  return `CREATE ${orReplace ? 'OR REPLACE ' : ''}TRIGGER ${quoteIdent(IDENTITY_TRIGGER)} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${target} FOR EACH STATEMENT EXECUTE FUNCTION ${quoteIdent(schema)}.emit_identity()`;
}

/**
 * The statement-trigger function: SECURITY INVOKER, and all it does on
 * every audited statement is compare one setting with the key. A SECURITY
 * DEFINER call costs a user switch and a catalog lookup per call, and a
 * TPC-B transaction fires four statement triggers; only the first needs the
 * privileged work, so that lives in emit_session_identity().
 *
 * Everything is schema-qualified, so a caller's hostile search_path
 * changes nothing (the function runs with the caller's settings).
 */
export function emitIdentityFunctionSql(schema: string): string {
  return `CREATE OR REPLACE FUNCTION ${quoteIdent(schema)}.emit_identity() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER AS $dbw$
DECLARE
  r pg_catalog.text := pg_catalog.current_setting('role');
BEGIN
  IF pg_catalog.texteq(pg_catalog.current_setting('dbwitness.emitted', true), ${EMITTED_KEY}) THEN
    RETURN NULL;
  END IF;
  PERFORM ${quoteIdent(schema)}.emit_session_identity();
  RETURN NULL;
END
$dbw$`;
}

/** The shared library and symbol of the native emitter (native/postgres-emitter). */
export const NATIVE_EMITTER_LIBRARY = 'dbwitness_emitter';
export const NATIVE_EMITTER_SYMBOL = 'dbwitness_emit_identity';

/**
 * The statement-trigger function as the native emitter: the same name and
 * signature, so triggers, partition coverage and doctor stay as they are,
 * and `CREATE OR REPLACE` switches either way. The library is found by
 * name in the server's $libdir (or dynamic_library_path); creating the
 * function loads it, so a server without it fails here, at setup, not on
 * the first audited write.
 */
export function nativeEmitIdentityFunctionSql(schema: string): string {
  return `CREATE OR REPLACE FUNCTION ${quoteIdent(schema)}.emit_identity() RETURNS trigger
LANGUAGE c SECURITY INVOKER AS ${quoteLiteral(NATIVE_EMITTER_LIBRARY)}, ${quoteLiteral(NATIVE_EMITTER_SYMBOL)}`;
}

/** The one-row table holding the secret that signs cached session ids (see emitSessionIdentityFunctionSql). */
export const SESSION_KEY_TABLE = 'session_key';

/**
 * The session id (`%c`) with its signature, cached for the session in the
 * setting `dbwitness.session` as `<sid>:<mac>`:
 * mac = hex(SHA-256(key ':' sid ':' client port or '' ':' SESSION_USER ':' key)),
 * or, while the login differs from SESSION_USER (SET SESSION AUTHORIZATION),
 * hex(SHA-256(key ':L:' sid ':' port ':' length of login in characters ':' login ':' SESSION_USER ':' key)):
 * the `L` keeps the two forms apart (a sid never starts with it) and the
 * length keeps the two names apart. The login is cached in `dbwitness.login`.
 * The key is in the session_key table, readable by the emitter and daemon
 * roles only. The daemon recomputes the mac (identity-message.ts); a
 * session that writes its own `dbwitness.session` cannot sign it, so its
 * changes keep their login, role and address and lose the session id, with
 * an alert. The field order puts the only free-form text (the login) last
 * before the key, so no two inputs concatenate alike; the key at both ends
 * rules out extending a mac the session can read.
 */
const SESSION_MAC_INPUT = `pg_catalog.convert_to(CASE WHEN pg_catalog.texteq(lg, '') THEN pg_catalog.concat(k, ':', sid, ':', pg_catalog.inet_client_port(), ':', SESSION_USER, ':', k)
      ELSE pg_catalog.concat(k, ':L:', sid, ':', pg_catalog.inet_client_port(), ':', pg_catalog.length(lg), ':', lg, ':', SESSION_USER, ':', k) END, 'UTF8')`;

/**
 * Writes the caller's identity once per (transaction, active role, session
 * user). SECURITY DEFINER, owned by the NOLOGIN emitter role: the only role that may call
 * pg_logical_emit_message. PUBLIC may execute it, and that is safe: it takes
 * no arguments and every field comes from the session itself (SESSION_USER,
 * the role setting, the connection), so a direct call writes the caller's
 * own true identity and nobody else's. A session that pre-sets the key only
 * suppresses its own identity; its changes then arrive unattributed and
 * become alerts.
 *
 * Per-transaction cost: PL/pgSQL rebuilds every expression's state in each
 * new transaction and runs a query through the executor, so the work of the
 * first statement of each transaction is what the source pays. Reading the
 * backend start for the session id (a query on pg_stat_get_activity, which
 * also copies every backend's status) was about 40% of it; the signed
 * session id is therefore computed once per session (and again after
 * RESET ALL or a change of session user) and read from the setting after.
 */
export function emitSessionIdentityFunctionSql(schema: string): string {
  const s = quoteIdent(schema);
  return `CREATE OR REPLACE FUNCTION ${s}.emit_session_identity() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $dbw$
DECLARE
  r pg_catalog.text := pg_catalog.current_setting('role');
  au pg_catalog.text := pg_catalog.current_setting('dbwitness.app_user', true);
  tok pg_catalog.text := pg_catalog.current_setting('dbwitness.session', true);
  lg pg_catalog.text := pg_catalog.current_setting('dbwitness.login', true);
  k pg_catalog.text;
  sid pg_catalog.text;
BEGIN
  IF pg_catalog.texteq(pg_catalog.current_setting('dbwitness.session_user', true), SESSION_USER::pg_catalog.text) IS NOT TRUE OR tok IS NULL THEN
    BEGIN
      SELECT t.k INTO k FROM ${s}.${SESSION_KEY_TABLE} AS t;
    EXCEPTION WHEN undefined_table THEN
      -- Writes must not fail because the key table was dropped; doctor reports it.
      k := NULL;
    END;
    -- usesysid is the login the backend authenticated: SET SESSION AUTHORIZATION changes SESSION_USER, not it.
    SELECT ${sessionIdSql('a.backend_start', 'a.pid')},
           CASE WHEN pg_catalog.texteq(pg_catalog.pg_get_userbyid(a.usesysid)::pg_catalog.text, SESSION_USER::pg_catalog.text) THEN '' ELSE pg_catalog.pg_get_userbyid(a.usesysid)::pg_catalog.text END
      INTO sid, lg FROM pg_catalog.pg_stat_get_activity(pg_catalog.pg_backend_pid()) AS a;
    -- Without a key (deleted by hand) nothing is cached and the mac is empty: the daemon reports it.
    tok := pg_catalog.concat(sid, ':', CASE WHEN k IS NOT NULL THEN pg_catalog.encode(pg_catalog.sha256(${SESSION_MAC_INPUT}), 'hex') END);
    IF k IS NOT NULL THEN
      PERFORM pg_catalog.set_config('dbwitness.session', tok, false), pg_catalog.set_config('dbwitness.session_user', SESSION_USER::pg_catalog.text, false),
        pg_catalog.set_config('dbwitness.login', lg, false);
    END IF;
  END IF;
  PERFORM pg_catalog.set_config('dbwitness.emitted', ${EMITTED_KEY}, true),
    pg_catalog.pg_logical_emit_message(true, ${quoteLiteral(IDENTITY_PREFIX)}, pg_catalog.convert_to(${IDENTITY_ARRAY_V2}, 'UTF8'));
END
$dbw$`;
}

/**
 * The signing key: one row, 244 random bits (two v4 UUIDs from the
 * server's strong random source), created once and kept by later runs of
 * setup so cached session ids stay valid. Owned by the emitter role;
 * nobody else but the daemon may read it (the daemon verifies the macs).
 */
export function sessionKeySql(schema: string, emitterRole: string): string[] {
  const t = `${quoteIdent(schema)}.${SESSION_KEY_TABLE}`;
  return [
    `CREATE TABLE IF NOT EXISTS ${t} (one boolean PRIMARY KEY DEFAULT true CHECK (one), k text NOT NULL)`,
    sessionKeyRotationColumnsSql(schema),
    `INSERT INTO ${t} (k) SELECT ${NEW_KEY} WHERE NOT EXISTS (SELECT 1 FROM ${t})`,
    `ALTER TABLE ${t} OWNER TO ${quoteIdent(emitterRole)}`,
    `REVOKE ALL ON TABLE ${t} FROM PUBLIC`,
  ];
}

const NEW_KEY = 'pg_catalog.gen_random_uuid()::pg_catalog.text || pg_catalog.gen_random_uuid()::pg_catalog.text';

/**
 * What a rotation keeps (added to tables of setups from before rotation):
 * the key before it, when it was replaced, and until when the daemon still
 * accepts it for sessions that started before the rotation.
 */
function sessionKeyRotationColumnsSql(schema: string): string {
  return `ALTER TABLE ${quoteIdent(schema)}.${SESSION_KEY_TABLE} ADD COLUMN IF NOT EXISTS prev_k text, ADD COLUMN IF NOT EXISTS rotated_at timestamptz, ADD COLUMN IF NOT EXISTS prev_until timestamptz`;
}

/**
 * Replaces the key. Sessions that already cached an id keep sending it
 * until they reconnect or reset, so the old key stays acceptable for them
 * (sessions that started before the rotation) for `graceSeconds`; zero
 * drops it at once (a key that may have leaked).
 */
export function rotateSessionKeySql(schema: string, graceSeconds: number): string[] {
  const t = `${quoteIdent(schema)}.${SESSION_KEY_TABLE}`;
  const grace = Math.max(0, Math.floor(graceSeconds));
  return [
    sessionKeyRotationColumnsSql(schema),
    `UPDATE ${t} SET prev_k = ${grace > 0 ? 'k' : 'NULL'}, k = ${NEW_KEY}, rotated_at = pg_catalog.clock_timestamp(), prev_until = ${grace > 0 ? `pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => ${grace})` : 'NULL'}`,
  ];
}

/**
 * Covers relations that appear later: every member of an audited partition
 * tree without the trigger, and every new table of an audited schema, gets
 * the trigger (ENABLE ALWAYS), REPLICA IDENTITY FULL and, for schema scope,
 * publication membership. Called from the DDL event
 * trigger, so partitions created or attached later are covered in the same
 * transaction as the DDL that made them. DDL is rare, so a pinned
 * search_path is affordable here.
 */
export function ensureCoverageFunctionSql(schema: string, publication: string): string {
  const s = quoteIdent(schema);
  // A format() template: every % of the schema name doubled, the table left to %s.
  const triggerFormat = identityTriggerSql(schema, '\u0000', false).replaceAll('%', '%%').replace('\u0000', '%s');
  return `CREATE OR REPLACE FUNCTION ${s}.ensure_coverage(rel pg_catalog.oid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $dbw$
DECLARE
  root oid;
  m oid;
  in_schema boolean;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = rel AND relkind IN ('r', 'p')) THEN
    RETURN;
  END IF;
  root := coalesce(pg_partition_root(rel), rel);
  in_schema := EXISTS (SELECT 1 FROM pg_class c JOIN ${s}.audited_schemas a ON a.nspname = c.relnamespace::regnamespace::name WHERE c.oid = root);
  IF NOT in_schema AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = root AND tgname = ${quoteLiteral(IDENTITY_TRIGGER)}) THEN
    RETURN;
  END IF;
  -- pg_partition_tree() lists nothing for a table that is not partitioned: add the root itself.
  FOR m IN SELECT root UNION SELECT relid FROM pg_partition_tree(root) LOOP
    -- Only relations that never had the trigger: a DBA's explicit DISABLE TRIGGER or
    -- REPLICA IDENTITY change is left alone (and shows in doctor, alerts and this DDL's own event).
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = m AND tgname = ${quoteLiteral(IDENTITY_TRIGGER)}) THEN
      EXECUTE format(${quoteLiteral(triggerFormat)}, m::regclass);
      EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I, REPLICA IDENTITY FULL', m::regclass, ${quoteLiteral(IDENTITY_TRIGGER)});
    END IF;
  END LOOP;
  IF in_schema AND NOT EXISTS (
    SELECT 1 FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
    WHERE p.pubname = ${quoteLiteral(publication)} AND pr.prrelid = root) THEN
    EXECUTE format('ALTER PUBLICATION %I ADD TABLE %s', ${quoteLiteral(publication)}, root::regclass);
  END IF;
END
$dbw$`;
}

/**
 * DDL goes into the same stream as the rows: one `dbwitness.ddl` message per
 * command, with the identity, command tag, object identity and the
 * statement text (current_query(): the whole client statement).
 */
export function ddlEndFunctionSql(schema: string): string {
  const s = quoteIdent(schema);
  return `CREATE OR REPLACE FUNCTION ${s}.on_ddl_command_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $dbw$
DECLARE
  c record;
  r text := current_setting('role');
  au text := current_setting('dbwitness.app_user', true);
  started timestamptz;
  lg text;
BEGIN
  -- usesysid is the login the backend authenticated: a superuser's SET SESSION AUTHORIZATION changes SESSION_USER, not it.
  SELECT a.backend_start, CASE WHEN pg_get_userbyid(a.usesysid) <> SESSION_USER THEN pg_get_userbyid(a.usesysid)::text END
    INTO started, lg FROM pg_stat_get_activity(pg_backend_pid()) AS a;
  FOR c IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
    CONTINUE WHEN c.schema_name IS NOT NULL AND starts_with(c.schema_name, 'pg_temp');
    PERFORM pg_logical_emit_message(true, ${quoteLiteral(DDL_PREFIX)}, convert_to(json_build_object(
      ${IDENTITY_FIELDS},
      'command_tag', c.command_tag,
      'object_type', c.object_type,
      'object_identity', c.object_identity,
      'schema', c.schema_name,
      'statement', current_query()
    )::text, 'UTF8'));
    IF c.object_type = 'table' AND c.command_tag IN ('CREATE TABLE', 'ALTER TABLE', 'CREATE TABLE AS', 'SELECT INTO') THEN
      PERFORM ${s}.ensure_coverage(c.objid);
    END IF;
  END LOOP;
END
$dbw$`;
}

/** DROP commands are reported by sql_drop, not ddl_command_end. */
export function sqlDropFunctionSql(schema: string): string {
  return `CREATE OR REPLACE FUNCTION ${quoteIdent(schema)}.on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $dbw$
DECLARE
  c record;
  r text := current_setting('role');
  au text := current_setting('dbwitness.app_user', true);
  started timestamptz;
  lg text;
BEGIN
  -- usesysid is the login the backend authenticated: a superuser's SET SESSION AUTHORIZATION changes SESSION_USER, not it.
  SELECT a.backend_start, CASE WHEN pg_get_userbyid(a.usesysid) <> SESSION_USER THEN pg_get_userbyid(a.usesysid)::text END
    INTO started, lg FROM pg_stat_get_activity(pg_backend_pid()) AS a;
  FOR c IN SELECT * FROM pg_event_trigger_dropped_objects() WHERE original AND NOT is_temporary LOOP
    PERFORM pg_logical_emit_message(true, ${quoteLiteral(DDL_PREFIX)}, convert_to(json_build_object(
      ${IDENTITY_FIELDS},
      'command_tag', tg_tag,
      'object_type', c.object_type,
      'object_identity', c.object_identity,
      'schema', c.schema_name,
      'statement', current_query()
    )::text, 'UTF8'));
  END LOOP;
END
$dbw$`;
}

export const DDL_EVENT_TRIGGER = 'dbwitness_ddl';
export const DROP_EVENT_TRIGGER = 'dbwitness_drop';
