/**
 * Doctor check: the functions setup installed are the ones this version of
 * dbwitness would install. `setup --apply` replaces them (CREATE OR
 * REPLACE), but nothing runs it after an upgrade, and an older emitter keeps
 * working with fixes missing (before messages were written as UTF-8, an app
 * user with an accent arrived garbled from a LATIN1 database). The daemon
 * reads every message version, so this is a warning, not a failure.
 */
import type { Finding } from '../../src/core/ports.js';
import { heartbeatFunctionSql } from './heartbeat-sql.js';
import { NATIVE_EMITTER_SYMBOL, ddlEndFunctionSql, emitIdentityFunctionSql, emitSessionIdentityFunctionSql, ensureCoverageFunctionSql, sqlDropFunctionSql } from './identity-sql.js';
import { HEARTBEAT_FUNCTION, type PostgresSourceConfig } from './postgres-config.js';
import type { PgClient } from './postgres-connection.js';

/** The function's body (prosrc: the text between the dollar quotes) as setup writes it. */
function body(name: string, sql: string): { name: string; body: string } {
  const m = /\$dbw\$([\s\S]*)\$dbw\$$/.exec(sql);
  if (m === null) throw new Error(`setup SQL of ${name} has no $dbw$ body`);
  return { name, body: m[1] as string };
}

export async function setupFunctionsCurrent(client: PgClient, config: PostgresSourceConfig): Promise<Finding[]> {
  const schema = config.schema_name;
  const wanted = [
    body('emit_session_identity', emitSessionIdentityFunctionSql(schema)),
    body('emit_identity', emitIdentityFunctionSql(schema)),
    body('ensure_coverage', ensureCoverageFunctionSql(schema, config.publication)),
    body('on_ddl_command_end', ddlEndFunctionSql(schema)),
    body('on_sql_drop', sqlDropFunctionSql(schema)),
    body(HEARTBEAT_FUNCTION, heartbeatFunctionSql(schema)),
  ];
  const { rows } = await client.query<{ name: string; body: string }>(
    `SELECT p.proname::pg_catalog.text AS name, p.prosrc AS body
     FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = $1 AND p.proname = ANY ($2::pg_catalog.text[])`,
    [schema, wanted.map((w) => w.name)],
  );
  const installed = new Map(rows.map((r) => [r.name, r.body]));
  // The native emitter (a C function: prosrc is its symbol) is current as it is; the emitter check reviews it.
  const native = installed.get('emit_identity') === NATIVE_EMITTER_SYMBOL;
  if (native) installed.delete('emit_identity');
  // A missing function is reported by the checks that need it (emitter, event triggers, heartbeat).
  const stale = wanted.filter((w) => installed.has(w.name) && installed.get(w.name) !== w.body).map((w) => `${schema}.${w.name}()`);
  const title = 'Setup functions are current';
  if (stale.length === 0) return [{ id: 'pg.setup_current', status: 'ok', title, detail: `${installed.size + (native ? 1 : 0)} function(s) match this version's setup${native ? ' (emit_identity() is the native emitter)' : ''}` }];
  return [
    {
      id: 'pg.setup_current',
      status: 'warn',
      title,
      detail: `${stale.join(', ')} differ from what this version's setup installs (an older or newer setup, or edited by hand): changes are still captured, but fixes since are missing`,
      fix: 'run `dbwitness setup postgres --url URL --tables ... --apply` to replace them (review the plan without --apply first)',
    },
  ];
}
