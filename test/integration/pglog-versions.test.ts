/**
 * The connection log and refusal messages pglog matches, on every PostgreSQL
 * major version the harness provides: jsonlog from 15, csvlog on 14. (pgaudit
 * itself is packaged for the Debian 15 build only: see pglog-pgaudit.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import pg from 'pg';
import type { SourceMessage } from '../../src/core/ports.js';
import { silentLogger } from '../../src/core/logger.js';
import { openPglogSource, PglogSourceConfig } from '../../adapters/pglog/index.js';
import { availablePgVersions, startPostgres, waitFor } from '../harness/index.js';

const versions = availablePgVersions();

describe.each(versions)('pglog on PostgreSQL %i', (version) => {
  it('login, refused read, logout and a failed password login, joined by session id', async () => {
    const format = version >= 15 ? 'jsonlog' : 'csvlog';
    await using server = await startPostgres({
      version,
      config: { logging_collector: 'on', log_destination: format, log_directory: 'log', log_connections: 'on', log_disconnections: 'on', log_timezone: 'UTC', log_min_error_statement: 'error' },
      hba: ['host all pwuser 127.0.0.1/32 scram-sha-256'],
    });
    await server.query(`CREATE TABLE secrets (id int); CREATE ROLE reader LOGIN; CREATE ROLE pwuser LOGIN PASSWORD 'right'`);
    const c = new pg.Client({ host: server.host, port: server.port, user: 'reader', database: 'postgres', application_name: 'v-test' });
    await c.connect();
    const [me] = (await c.query<{ sid: string }>(`SELECT to_hex(trunc(extract(epoch FROM backend_start))::int) || '.' || to_hex(pid) AS sid FROM pg_stat_activity WHERE pid = pg_backend_pid()`)).rows;
    await expect(c.query('SELECT * FROM secrets')).rejects.toThrow(/permission denied/);
    await c.end();
    await expect(server.query('SELECT 1', [], { user: 'pwuser', password: 'wrong' })).rejects.toThrow(/password authentication failed/);

    const source = await openPglogSource(PglogSourceConfig.parse({ id: `v${version}`, url: `pglog://${join(server.dataDir, 'log')}?format=${format}`, poll_ms: 20 }), { logger: silentLogger() });
    const controller = new AbortController();
    const seen: Array<{ action: string; outcome: string; table: string | null; sid: string | null; user: string | null; app: string | null }> = [];
    let identity: Extract<SourceMessage, { kind: 'identity' }>['identity'] | null = null;
    const run = (async () => {
      for await (const m of source.messages(null, controller.signal)) {
        if (m.kind === 'identity') identity = m.identity;
        if (m.kind === 'change') seen.push({ action: m.change.action, outcome: m.change.outcome ?? 'success', table: m.change.table, sid: identity?.session_id ?? null, user: identity?.db_user ?? null, app: identity?.application ?? null });
      }
    })();
    try {
      await waitFor(() => seen.some((e) => e.action === 'login_failed'), { what: `PostgreSQL ${version} log events`, timeoutMs: 15_000 });
    } finally {
      controller.abort();
      await run;
    }
    expect(seen.filter((e) => e.sid === me!.sid).map((e) => `${e.action}/${e.outcome} ${e.table ?? ''}`)).toEqual(['login/success ', 'read/failure secrets', 'logout/success ']);
    expect(seen.find((e) => e.sid === me!.sid)).toMatchObject({ user: 'reader', app: 'v-test' });
    expect(seen.filter((e) => e.action === 'login_failed')).toEqual([expect.objectContaining({ user: 'pwuser', outcome: 'failure' })]);
  });
});
