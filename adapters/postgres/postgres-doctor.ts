/**
 * `dbwitness doctor` for PostgreSQL: each check returns a finding with what
 * was observed and how to fix it. Works as the daemon role (catalogs and
 * pg_settings only, no table reads).
 */
import type { Finding } from '../../src/core/ports.js';
import { HEARTBEAT_FUNCTION, IDENTITY_TRIGGER, type PostgresSourceConfig } from './postgres-config.js';
import type { PgClient } from './postgres-connection.js';
import { setupFunctionsCurrent } from './postgres-doctor-functions.js';
import { resolveScope, triggerTargets, type Scope } from './postgres-scope.js';
import { DDL_EVENT_TRIGGER, DROP_EVENT_TRIGGER, NATIVE_EMITTER_LIBRARY, NATIVE_EMITTER_SYMBOL, SESSION_KEY_TABLE } from './identity-sql.js';
import { qualified, quoteIdent, tableKey, type TableName } from './sql-quote.js';

const SETUP_FIX = 'run `dbwitness setup postgres --url URL --tables ... --apply` (review the plan without --apply first)';
/** Warn when the slot holds back more WAL than this (or half of max_slot_wal_keep_size). */
const LAG_WARN_BYTES = 1024n ** 3n;

type Check = (client: PgClient, config: PostgresSourceConfig, scope: Scope) => Promise<Finding[]>;

export async function doctorWith(client: PgClient, config: PostgresSourceConfig): Promise<Finding[]> {
  const findings: Finding[] = [];
  const version = Number((await client.query<{ v: string }>("SELECT pg_catalog.current_setting('server_version_num') AS v")).rows[0]?.v ?? 0);
  findings.push(
    version >= 140000
      ? ok('pg.version', 'PostgreSQL version', `server_version_num ${version}`)
      : fail('pg.version', 'PostgreSQL version', `server_version_num ${version}`, 'upgrade to PostgreSQL 14 or newer (pgoutput logical messages need 14)'),
  );
  let scope: Scope;
  try {
    scope = await resolveScope(client, config);
  } catch (e) {
    findings.push(fail('pg.scope', 'Audited tables exist', e instanceof Error ? e.message : String(e), 'check --tables/--schema and the database in --url'));
    scope = { tables: [], schemas: [] };
  }
  for (const check of [settings, slot, publication, tables, emitter, sessionKey, setupFunctionsCurrent, heartbeat, eventTriggers, transport]) {
    findings.push(...(await check(client, config, scope)));
  }
  return findings;
}

function ok(id: string, title: string, detail: string): Finding {
  return { id, status: 'ok', title, detail };
}
function warn(id: string, title: string, detail: string, fix: string): Finding {
  return { id, status: 'warn', title, detail, fix };
}
function fail(id: string, title: string, detail: string, fix: string): Finding {
  return { id, status: 'fail', title, detail, fix };
}

async function setting(client: PgClient, name: string): Promise<string | null> {
  const r = await client.query<{ v: string | null }>('SELECT pg_catalog.current_setting($1, true) AS v', [name]);
  return r.rows[0]?.v ?? null;
}

const settings: Check = async (client) => {
  const walLevel = await setting(client, 'wal_level');
  const logConnections = await setting(client, 'log_connections');
  return [
    walLevel === 'logical'
      ? ok('pg.wal_level', 'wal_level is logical', 'wal_level = logical')
      : fail('pg.wal_level', 'wal_level is logical', `wal_level = ${walLevel ?? 'unknown'}`, "ALTER SYSTEM SET wal_level = 'logical'; then restart PostgreSQL"),
    // PG17 accepts a list of aspects ('receipt,authentication,...'); anything but off/empty logs connections.
    logConnections !== null && logConnections !== 'off' && logConnections !== ''
      ? ok('pg.log_connections', 'Connections are logged', `log_connections = ${logConnections}`)
      : warn('pg.log_connections', 'Connections are logged', `log_connections = ${logConnections ?? 'unknown'}`, 'ALTER SYSTEM SET log_connections = on; SELECT pg_reload_conf(); — logins and session ids then join the audit trail'),
  ];
};

const slot: Check = async (client, config) => {
  const { rows } = await client.query<{ plugin: string | null; active: boolean; wal_status: string | null; lag: string | null; keep: string | null }>(
    `SELECT s.plugin, s.active, s.wal_status,
            pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.confirmed_flush_lsn)::pg_catalog.int8::pg_catalog.text AS lag,
            pg_catalog.current_setting('max_slot_wal_keep_size') AS keep
     FROM pg_catalog.pg_replication_slots s WHERE s.slot_name = $1 AND s.database = pg_catalog.current_database()`,
    [config.slot],
  );
  const s = rows[0];
  if (s === undefined) return [fail('pg.slot', `Replication slot ${config.slot}`, 'slot does not exist in this database', SETUP_FIX)];
  const out: Finding[] = [];
  if (s.plugin !== 'pgoutput') out.push(fail('pg.slot', `Replication slot ${config.slot}`, `plugin is ${s.plugin ?? 'none'}, not pgoutput`, 'drop it and let setup create a pgoutput slot, or choose another --slot'));
  else if (s.wal_status === 'lost') out.push(fail('pg.slot', `Replication slot ${config.slot}`, 'wal_status = lost: the slot was invalidated and changes were lost to the audit trail', 'record the gap, then recreate the slot (setup --uninstall, setup --apply) and raise max_slot_wal_keep_size'));
  else if (s.wal_status === 'unreserved') out.push(warn('pg.slot', `Replication slot ${config.slot}`, 'wal_status = unreserved: WAL the slot needs is about to be removed', 'make sure dbwitness run is connected and keeping up, or raise max_slot_wal_keep_size'));
  else out.push(ok('pg.slot', `Replication slot ${config.slot}`, `pgoutput, wal_status = ${s.wal_status ?? 'n/a'}`));
  out.push(s.active ? ok('pg.slot_active', 'The daemon is connected to the slot', 'active') : warn('pg.slot_active', 'The daemon is connected to the slot', 'no process is streaming from the slot', 'start `dbwitness run`; until then WAL accumulates on the server'));
  const lag = BigInt(s.lag ?? '0');
  const keepMb = s.keep === null || s.keep === '-1' ? null : parseSizeMb(s.keep);
  const limit = keepMb === null ? LAG_WARN_BYTES : BigInt(keepMb) * 1024n * 1024n / 2n;
  out.push(
    lag > limit
      ? warn('pg.slot_lag', 'Slot lag', `${lag} bytes of WAL not yet confirmed durable`, 'check that dbwitness run is keeping up (store disk, CPU)')
      : ok('pg.slot_lag', 'Slot lag', `${lag} bytes of WAL not yet confirmed durable`),
  );
  out.push(
    keepMb === null
      ? warn('pg.max_slot_wal_keep_size', 'Retained WAL is bounded', 'max_slot_wal_keep_size = -1: a stopped daemon lets WAL grow until the disk is full', "ALTER SYSTEM SET max_slot_wal_keep_size = '50GB'; SELECT pg_reload_conf(); — sized to outlast your longest expected outage")
      : ok('pg.max_slot_wal_keep_size', 'Retained WAL is bounded', `max_slot_wal_keep_size = ${s.keep ?? ''}`),
  );
  return out;
};

function parseSizeMb(text: string): number | null {
  const m = /^(\d+)\s*(kB|MB|GB|TB)?$/.exec(text.trim());
  if (m === null || m[1] === undefined) return null;
  const n = Number(m[1]);
  switch (m[2]) {
    case 'kB':
      return Math.floor(n / 1024);
    case 'GB':
      return n * 1024;
    case 'TB':
      return n * 1024 * 1024;
    default:
      return n;
  }
}

const publication: Check = async (client, config, scope) => {
  const title = `Publication ${config.publication}`;
  const { rows } = await client.query<{ puballtables: boolean; pubinsert: boolean; pubupdate: boolean; pubdelete: boolean; pubtruncate: boolean }>(
    'SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_catalog.pg_publication WHERE pubname = $1',
    [config.publication],
  );
  const p = rows[0];
  if (p === undefined) return [fail('pg.publication', title, 'publication does not exist', SETUP_FIX)];
  const out: Finding[] = [];
  const ops = [p.pubinsert && 'insert', p.pubupdate && 'update', p.pubdelete && 'delete', p.pubtruncate && 'truncate'].filter(Boolean);
  out.push(ops.length === 4 ? ok('pg.publication', title, 'publishes insert, update, delete, truncate') : fail('pg.publication', title, `publishes only ${ops.join(', ') || 'nothing'}`, `ALTER PUBLICATION ... SET (publish = 'insert, update, delete, truncate'), or ${SETUP_FIX}`));
  const missing: string[] = [];
  if (!p.puballtables) {
    for (const t of scope.tables) {
      const r = await client.query(
        `SELECT 1 FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication pb ON pb.oid = pr.prpubid
         JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE pb.pubname = $1 AND n.nspname = $2 AND c.relname = $3`,
        [config.publication, t.schema, t.name],
      );
      if (r.rowCount === 0) missing.push(tableKey(t));
    }
  }
  out.push(
    missing.length === 0
      ? ok('pg.publication_tables', 'Publication covers every audited table', `${scope.tables.length} table(s) covered`)
      : fail('pg.publication_tables', 'Publication covers every audited table', `not published: ${missing.join(', ')}`, SETUP_FIX),
  );
  return out;
};

const tables: Check = async (client, _config, scope) => {
  const notFull: string[] = [];
  const noTrigger: string[] = [];
  const notAlways: string[] = [];
  for (const t of triggerTargets(scope)) {
    const { rows } = await client.query<{ replident: string; tgenabled: string | null }>(
      `SELECT c.relreplident AS replident, tg.tgenabled
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = c.oid AND tg.tgname = $2
       WHERE n.nspname = $1 AND c.relname = $3`,
      [t.schema, IDENTITY_TRIGGER, t.name],
    );
    const r = rows[0];
    if (r === undefined) continue;
    if (r.replident !== 'f') notFull.push(label(t));
    if (r.tgenabled === null) noTrigger.push(label(t));
    else if (r.tgenabled !== 'A') notAlways.push(`${label(t)} (${r.tgenabled === 'D' ? 'disabled' : r.tgenabled === 'O' ? 'origin only' : 'replica only'})`);
  }
  const n = triggerTargets(scope).length;
  return [
    notFull.length === 0
      ? ok('pg.replica_identity', 'REPLICA IDENTITY FULL', `${n} table(s) and partitions log full before-images`)
      : fail('pg.replica_identity', 'REPLICA IDENTITY FULL', `not FULL: ${notFull.join(', ')}`, 'ALTER TABLE ... REPLICA IDENTITY FULL on each, or ' + SETUP_FIX),
    noTrigger.length === 0 && notAlways.length === 0
      ? ok('pg.identity_triggers', 'Identity triggers present and ENABLE ALWAYS', `${n} table(s) and partitions`)
      : fail(
          'pg.identity_triggers',
          'Identity triggers present and ENABLE ALWAYS',
          [noTrigger.length > 0 ? `missing on: ${noTrigger.join(', ')}` : '', notAlways.length > 0 ? `not ENABLE ALWAYS: ${notAlways.join(', ')}` : ''].filter(Boolean).join('; '),
          `ALTER TABLE ... ENABLE ALWAYS TRIGGER ${IDENTITY_TRIGGER} where disabled, or ${SETUP_FIX}; changes meanwhile arrive unattributed (alerts)`,
        ),
  ];
};

/**
 * emit_identity() as the native emitter: the right library and symbol, and
 * the library still loadable. A C function whose library has gone (a
 * server upgrade without reinstalling it) fails every write to an audited
 * table, so that is checked by running C's validator on it, which loads
 * the library; only a superuser may (permission on language c).
 */
async function nativeEmitter(client: PgClient, config: PostgresSourceConfig, fn: { oid: number; probin: string | null; prosrc: string }, title: string): Promise<Finding> {
  const ours = fn.prosrc === NATIVE_EMITTER_SYMBOL && (fn.probin === NATIVE_EMITTER_LIBRARY || (fn.probin ?? '').endsWith(`/${NATIVE_EMITTER_LIBRARY}`) || (fn.probin ?? '').endsWith(`/${NATIVE_EMITTER_LIBRARY}.so`));
  if (!ours) {
    return fail('pg.emitter', title, `${config.schema_name}.emit_identity() is a C function, ${fn.probin ?? '?'} ${fn.prosrc}, not dbwitness's native emitter (${NATIVE_EMITTER_LIBRARY} ${NATIVE_EMITTER_SYMBOL})`, SETUP_FIX);
  }
  let loaded: boolean | null;
  try {
    await client.query('SELECT pg_catalog.fmgr_c_validator($1::pg_catalog.oid)', [fn.oid]);
    loaded = true;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === '42501') loaded = null;
    else if (code === '58P01' || code === '42883') loaded = false;
    else throw err;
  }
  if (loaded === false) {
    return fail('pg.emitter', title, `${config.schema_name}.emit_identity() is the native emitter, but the server cannot load ${NATIVE_EMITTER_LIBRARY}: every write to an audited table fails`, `install it again for this server's version (make && make install in native/postgres-emitter; docs/postgres.md, "Native emitter"), or set identity_emitter: plpgsql and ${SETUP_FIX}`);
  }
  if (config.identity_emitter !== 'native') {
    return warn('pg.emitter', title, 'the native emitter is installed, but the configuration says identity_emitter: plpgsql: the next `setup --apply` with it replaces the native emitter by the PL/pgSQL one', 'set identity_emitter: native in the configuration (or --identity-emitter native), or leave it if the switch back is intended');
  }
  const checked = loaded === null ? '; whether its library still loads was not checked (only a superuser may: connect as one)' : `; ${NATIVE_EMITTER_LIBRARY} loads`;
  return ok('pg.emitter', title, `native emitter (C): the trigger runs as the caller and writes the identity itself${checked}`);
}

function label(t: TableName): string {
  return qualified(t);
}

const emitter: Check = async (client, config) => {
  const out: Finding[] = [];
  const { rows } = await client.query<{ oid: number; name: string; owner: string; secdef: boolean; lang: string; probin: string | null; prosrc: string; public_exec: boolean; public_usage: boolean }>(
    `SELECT p.oid::pg_catalog.int8 AS oid, p.proname::pg_catalog.text AS name, pg_catalog.pg_get_userbyid(p.proowner)::pg_catalog.text AS owner, p.prosecdef AS secdef,
            l.lanname::pg_catalog.text AS lang, p.probin, p.prosrc,
            pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE') AS public_exec,
            pg_catalog.has_schema_privilege('public', n.oid, 'USAGE') AS public_usage
     FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace JOIN pg_catalog.pg_language l ON l.oid = p.prolang
     WHERE n.nspname = $1 AND p.proname IN ('emit_identity', 'emit_session_identity')`,
    [config.schema_name],
  );
  const title = 'Identity emitter functions';
  const trigger = rows.find((r) => r.name === 'emit_identity');
  const session = rows.find((r) => r.name === 'emit_session_identity');
  if (trigger !== undefined && trigger.lang === 'c') {
    out.push(await nativeEmitter(client, config, trigger, title));
  } else if (trigger === undefined) {
    out.push(fail('pg.emitter', title, `${config.schema_name}.emit_identity() does not exist`, SETUP_FIX));
  } else if (trigger.secdef) {
    // The layout before emit_session_identity(): the trigger emits by itself, so every change is still attributed, only slower.
    out.push(warn('pg.emitter', title, `${config.schema_name}.emit_identity() is SECURITY DEFINER (an older setup): each audited statement pays a privileged call`, SETUP_FIX));
  } else if (session === undefined) {
    out.push(fail('pg.emitter', title, `${config.schema_name}.emit_session_identity() does not exist: writes to audited tables fail`, SETUP_FIX));
  } else if (!session.secdef || session.owner !== config.emitter_role) {
    out.push(fail('pg.emitter', title, `emit_session_identity(): owner ${session.owner}, security definer ${session.secdef}`, `it must be SECURITY DEFINER owned by ${config.emitter_role}: ${SETUP_FIX}`));
  } else if (!session.public_exec || !session.public_usage) {
    // The trigger runs as whoever writes: without these grants their writes fail with "permission denied".
    const lacking = [session.public_usage ? '' : `USAGE on schema ${config.schema_name}`, session.public_exec ? '' : 'EXECUTE on emit_session_identity()'].filter(Boolean).join(' and ');
    out.push(fail('pg.emitter', title, `PUBLIC lacks ${lacking}: writes to audited tables by roles without it fail`, `GRANT USAGE ON SCHEMA ${config.schema_name} TO PUBLIC; GRANT EXECUTE ON FUNCTION ${config.schema_name}.emit_session_identity() TO PUBLIC; or ${SETUP_FIX}`));
  } else if (config.identity_emitter === 'native') {
    out.push(warn('pg.emitter', title, 'the configuration asks for the native emitter (identity_emitter: native) but the PL/pgSQL one is installed: changes are attributed, at the higher cost per transaction', `install the native emitter on the server (docs/postgres.md, "Native emitter"), then ${SETUP_FIX}`));
  } else {
    out.push(ok('pg.emitter', title, `trigger runs as the caller; emit_session_identity() is SECURITY DEFINER, owned by ${session.owner}`));
  }
  const open = await client.query<{ sig: string }>(
    `SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text AS sig FROM pg_catalog.pg_proc p
     WHERE p.proname = 'pg_logical_emit_message' AND p.pronamespace = 'pg_catalog'::pg_catalog.regnamespace
       AND pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')`,
  );
  out.push(
    open.rowCount === 0
      ? ok('pg.emit_message_revoked', 'Identity messages cannot be forged', 'PUBLIC may not execute pg_logical_emit_message')
      : fail('pg.emit_message_revoked', 'Identity messages cannot be forged', `PUBLIC may execute ${open.rows.map((r) => r.sig).join(', ')}: any role can write a fake identity`, `REVOKE EXECUTE ON FUNCTION ... FROM PUBLIC, or ${SETUP_FIX}`),
  );
  return out;
};

/**
 * The key that signs cached session ids. Whoever can read it can sign a
 * session id of their choosing for their own connection, so PUBLIC must
 * not; the daemon must, or it reports every session's id as unchecked.
 */
const sessionKey: Check = async (client, config) => {
  const title = 'Session id signing key';
  const table = `${config.schema_name}.${SESSION_KEY_TABLE}`;
  const { rows } = await client.query<{ exists: boolean; public_read: boolean | null; daemon_read: boolean | null }>(
    `SELECT c.oid IS NOT NULL AS exists,
            CASE WHEN c.oid IS NOT NULL THEN pg_catalog.has_table_privilege('public', c.oid, 'SELECT') END AS public_read,
            CASE WHEN c.oid IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $3)
                 THEN pg_catalog.has_table_privilege($3, c.oid, 'SELECT') END AS daemon_read
     FROM (SELECT pg_catalog.to_regclass(pg_catalog.format('%I.%I', $1::text, $2::text)) AS oid) AS c`,
    [config.schema_name, SESSION_KEY_TABLE, config.daemon_role],
  );
  const r = rows[0];
  if (r === undefined || !r.exists) return [fail('pg.session_key', title, `${table} does not exist: every transaction reads the backend start again and the daemon reports session ids as unsigned`, SETUP_FIX)];
  if (r.public_read === true) return [fail('pg.session_key', title, `PUBLIC may read ${table}: any role could sign a session id of its choosing`, `REVOKE ALL ON TABLE ${table} FROM PUBLIC, or ${SETUP_FIX}`)];
  if (r.daemon_read === false) return [fail('pg.session_key', title, `${config.daemon_role} cannot read ${table}: the daemon cannot check session ids and raises an alert for each session`, `GRANT SELECT ON TABLE ${table} TO ${config.daemon_role}, or ${SETUP_FIX}`)];
  let count: number | null = null;
  let rotation = '';
  try {
    // As JSON: a table from a setup before rotation has no rotated_at / prev_until.
    const keyRows = (await client.query<{ r: Record<string, unknown> }>(`SELECT pg_catalog.to_jsonb(t.*) - 'k' - 'prev_k' AS r FROM ${quoteIdent(config.schema_name)}.${SESSION_KEY_TABLE} AS t`)).rows;
    count = keyRows.length;
    const rotatedAt = keyRows[0]?.r['rotated_at'];
    const until = keyRows[0]?.r['prev_until'];
    if (typeof rotatedAt === 'string') rotation = `; rotated ${rotatedAt}${typeof until === 'string' && Date.parse(until) > Date.now() ? `, the previous key accepted for sessions open before it until ${until}` : ''}`;
  } catch {
    // Not readable by the role doctor runs as: the row cannot be counted, which is how it should be.
  }
  if (count === 0) return [fail('pg.session_key', title, `${table} is empty: session ids are not signed`, SETUP_FIX)];
  return [ok('pg.session_key', title, `${table} present${count === null ? '' : ', one key'}; readable by ${config.daemon_role} and not by PUBLIC${rotation}`)];
};

/**
 * A warning, not a failure: without heartbeats nothing is lost, but an idle
 * source counts as silent (pipeline_silent, /readyz) and lag has no seconds.
 */
const heartbeat: Check = async (client, config) => {
  const title = 'Heartbeat function';
  const name = `${config.schema_name}.${HEARTBEAT_FUNCTION}(text)`;
  const { rows } = await client.query<{ owner: string; secdef: boolean; public_exec: boolean; own_exec: boolean }>(
    `SELECT pg_catalog.pg_get_userbyid(p.proowner)::pg_catalog.text AS owner, p.prosecdef AS secdef,
            pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE') AS public_exec,
            pg_catalog.has_function_privilege(p.oid, 'EXECUTE')
              AND pg_catalog.has_schema_privilege(p.pronamespace, 'USAGE') AS own_exec
     FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = $1 AND p.proname = $2 AND p.proargtypes = '25'::pg_catalog.oidvector`,
    [config.schema_name, HEARTBEAT_FUNCTION],
  );
  const f = rows[0];
  const fix = `${SETUP_FIX}; until then an idle source counts as silent (pipeline_silent, /readyz)`;
  if (f === undefined) return [warn('pg.heartbeat', title, `${name} does not exist: the daemon cannot tell an idle database from a stuck stream`, fix)];
  if (f.public_exec) return [warn('pg.heartbeat', title, `PUBLIC may execute ${name}: any role can write heartbeats`, `REVOKE ALL ON FUNCTION ${name} FROM PUBLIC, or ${SETUP_FIX}`)];
  if (!f.secdef || f.owner !== config.emitter_role) return [warn('pg.heartbeat', title, `owner ${f.owner}, security definer ${f.secdef}`, `it must be SECURITY DEFINER owned by ${config.emitter_role}: ${fix}`)];
  if (!f.own_exec) return [warn('pg.heartbeat', title, `this role (${await currentUser(client)}) may not execute ${name}: the daemon's heartbeats would fail`, `connect as ${config.daemon_role} (setup grants it EXECUTE), or ${SETUP_FIX}`)];
  return [ok('pg.heartbeat', title, `SECURITY DEFINER, owned by ${f.owner}, not executable by PUBLIC`)];
};

async function currentUser(client: PgClient): Promise<string> {
  return (await client.query<{ u: string }>('SELECT CURRENT_USER::pg_catalog.text AS u')).rows[0]?.u ?? 'unknown';
}

const eventTriggers: Check = async (client) => {
  const { rows } = await client.query<{ evtname: string; evtenabled: string }>('SELECT evtname, evtenabled FROM pg_catalog.pg_event_trigger WHERE evtname = ANY($1)', [[DDL_EVENT_TRIGGER, DROP_EVENT_TRIGGER]]);
  const bad = [DDL_EVENT_TRIGGER, DROP_EVENT_TRIGGER].filter((n) => {
    const r = rows.find((x) => x.evtname === n);
    return r === undefined || r.evtenabled === 'D';
  });
  return [
    bad.length === 0
      ? ok('pg.ddl_capture', 'DDL capture and partition coverage', `${DDL_EVENT_TRIGGER}, ${DROP_EVENT_TRIGGER} enabled`)
      : fail('pg.ddl_capture', 'DDL capture and partition coverage', `missing or disabled: ${bad.join(', ')}`, `ALTER EVENT TRIGGER ... ENABLE, or ${SETUP_FIX}`),
  ];
};

const transport: Check = async (client) => {
  const { rows } = await client.query<{ ssl: boolean | null; version: string | null; local: boolean }>(
    `SELECT s.ssl, s.version, pg_catalog.inet_client_addr() IS NULL OR pg_catalog.host(pg_catalog.inet_client_addr()) IN ('127.0.0.1', '::1') AS local
     FROM pg_catalog.pg_stat_ssl s WHERE s.pid = pg_catalog.pg_backend_pid()`,
  );
  const r = rows[0];
  if (r?.ssl === true) return [ok('pg.tls', 'Connection is encrypted (TLS)', `TLS ${r.version ?? ''}`.trim())];
  const fix = 'enable ssl = on on the server and connect with sslmode=verify-full (hostssl lines in pg_hba.conf)';
  return [r?.local === true ? warn('pg.tls', 'Connection is encrypted (TLS)', 'not encrypted (local connection)', fix) : fail('pg.tls', 'Connection is encrypted (TLS)', 'not encrypted: ePHI crosses the network in clear text', fix)];
};
