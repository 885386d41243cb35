/**
 * pglog end to end on a private PostgreSQL 15 with Debian's pgaudit:
 * a workload of reads, a refused write, good and bad logins and a GRANT
 * yields exactly the expected events, joined to the session ids PostgreSQL
 * reports in pg_stat_activity; a log rotation mid-run loses nothing; a
 * restart resumes at the checkpoint with no duplicates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import pg from 'pg';
import type { AuditEvent } from '../../src/core/event.js';
import { AuditEvent as AuditEventSchema } from '../../src/core/event.js';
import { silentLogger } from '../../src/core/logger.js';
import { runPipeline } from '../../src/pipeline/index.js';
import { openStore, readEvents } from '../../src/store/index.js';
import { openPglogSource, pgauditDoctorFindings, pglogAdapter, PglogSourceConfig } from '../../adapters/pglog/index.js';
import { startPostgres, tempDir, waitFor, type PgServer } from '../harness/index.js';

let server: PgServer;
let storeDir: string;

const PGAUDIT_CONFIG: Record<string, string> = {
  shared_preload_libraries: 'pgaudit',
  logging_collector: 'on',
  log_destination: 'jsonlog',
  log_directory: 'log',
  log_connections: 'on',
  log_disconnections: 'on',
  log_min_error_statement: 'error',
  log_timezone: 'UTC',
  'pgaudit.log': 'read, role, ddl',
  'pgaudit.log_relation': 'on',
  'pgaudit.log_rows': 'on',
};

beforeAll(async () => {
  server = await startPostgres({ version: 15, config: PGAUDIT_CONFIG, hba: ['host all pwuser 127.0.0.1/32 scram-sha-256'] });
  await server.query('CREATE EXTENSION pgaudit');
  await server.query(`CREATE SCHEMA clinic; CREATE TABLE clinic.patients (id int PRIMARY KEY, name text); INSERT INTO clinic.patients VALUES (1, 'a'), (2, 'b')`);
  await server.query(`CREATE ROLE reader LOGIN; GRANT USAGE ON SCHEMA clinic TO reader; GRANT SELECT ON clinic.patients TO reader; CREATE ROLE pwuser LOGIN PASSWORD 'right-password'`);
  storeDir = await tempDir('pglog-store-');
});

afterAll(async () => {
  await server?.close();
});

interface Session {
  sid: string;
  port: number;
}

/** A reader session: reads the table, tries an insert it may not do, logs out. */
async function readerSession(application: string): Promise<Session> {
  const c = new pg.Client({ host: server.host, port: server.port, user: 'reader', database: 'postgres', application_name: application });
  await c.connect();
  try {
    const [me] = (
      await c.query<{ sid: string; port: number }>(
        `SELECT to_hex(trunc(extract(epoch FROM backend_start))::int) || '.' || to_hex(pid) AS sid, client_port AS port FROM pg_stat_activity WHERE pid = pg_backend_pid()`,
      )
    ).rows;
    await c.query('SELECT * FROM clinic.patients WHERE id > $1', [0]);
    await expect(c.query(`INSERT INTO clinic.patients VALUES (3, 'c')`)).rejects.toThrow(/permission denied/);
    return me!;
  } finally {
    await c.end();
  }
}

async function runFor(until: (events: AuditEvent[]) => boolean, during: (events: AuditEvent[]) => Promise<void> = async () => undefined): Promise<{ events: AuditEvent[]; stats: { events: number } }> {
  const source = await openPglogSource(PglogSourceConfig.parse({ id: 'pglog-it', url: `pglog://${join(server.dataDir, 'log')}?format=jsonlog`, tables: ['clinic.patients'], poll_ms: 20 }), { logger: silentLogger() });
  const store = await openStore(storeDir, { unsigned: true });
  const chain = await store.openChain(source.source);
  const controller = new AbortController();
  const events: AuditEvent[] = [];
  const done = runPipeline({ source, chain, logger: silentLogger(), signal: controller.signal, onDurable: (stored) => events.push(...stored) });
  try {
    await during(events);
    await waitFor(() => until(events), { what: 'expected events in the store', timeoutMs: 20_000 });
  } finally {
    controller.abort();
  }
  const stats = await done;
  await chain.close();
  await store.close();
  return { events, stats };
}

const summary = (events: AuditEvent[], sid: string): string[] =>
  events.filter((e) => e.actor.session_id === sid).map((e) => `${e.action}/${e.outcome} ${e.object?.schema ?? ''}.${e.object?.table ?? ''}`);

describe('pglog on PostgreSQL 15 + pgaudit', () => {
  let first: Session;
  let second: Session;
  let firstRun: AuditEvent[];

  it('records reads, a refused write, logins, a failed login and a grant, across a rotation while running', async () => {
    const { events } = await runFor(
      (ev) => ev.some((e) => e.actor.session_id === second.sid && e.action === 'logout'),
      async (ev) => {
        // While the source streams: a session, a failed login and a grant, all stored ...
        first = await readerSession('ehr-1');
        await expect(server.query('SELECT 1', [], { user: 'pwuser', password: 'wrong-password' })).rejects.toThrow(/password authentication failed/);
        await server.query('GRANT SELECT ON clinic.patients TO pwuser');
        await waitFor(() => ev.some((e) => e.action === 'privilege' && e.statement?.startsWith('GRANT SELECT ON clinic.patients TO pwuser')), { what: 'first file read' });
        // ... then a rotation under the running source, and a second session in the new file.
        const [before] = await server.query<{ f: string }>('SELECT pg_current_logfile() AS f');
        // pg_rotate_logfile() only signals the syslogger, and log file names
        // have a one-second resolution (a rotation within the file's own
        // second reuses its name): rotate until the name changes.
        await waitFor(
          async () => {
            await server.query('SELECT pg_rotate_logfile()');
            return (await server.query<{ f: string }>('SELECT pg_current_logfile() AS f'))[0]!.f !== before!.f;
          },
          { what: 'log rotation', intervalMs: 250 },
        );
        second = await readerSession('ehr-2');
      },
    );
    firstRun = events;
    for (const s of [first, second]) {
      expect(summary(events, s.sid)).toEqual(['login/success .', 'read/success clinic.patients', 'insert/failure .patients', 'logout/success .']);
      const login = events.find((e) => e.actor.session_id === s.sid)!;
      expect(login.actor).toMatchObject({ db_user: 'reader', client_addr: '127.0.0.1', client_port: s.port, identity: 'verified' });
    }
    const read = events.find((e) => e.actor.session_id === first.sid && e.action === 'read')!;
    expect(read.detail).toMatchObject({ rows: '2', audit_class: 'READ', database: 'postgres' });
    expect(read.statement).toBe('SELECT * FROM clinic.patients WHERE id > $1');
    expect(read.actor.application).toBe('ehr-1');
    expect(read.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}000Z$/);
    expect(read.source).toMatchObject({ id: 'pglog-it', engine: 'pglog' });
    expect(read.position).toMatch(/^postgresql-.*\.json:\d+$/);
    const refused = events.find((e) => e.actor.session_id === first.sid && e.action === 'insert')!;
    expect(refused).toMatchObject({ outcome: 'failure', statement: `INSERT INTO clinic.patients VALUES (3, 'c')`, detail: { sqlstate: '42501' } });
    const failedLogin = events.filter((e) => e.action === 'login_failed');
    expect(failedLogin).toHaveLength(1);
    expect(failedLogin[0]).toMatchObject({ outcome: 'failure', actor: { db_user: 'pwuser' }, detail: { sqlstate: '28P01' } });
    expect(events.filter((e) => e.action === 'privilege' && e.statement === 'GRANT SELECT ON clinic.patients TO pwuser')).toHaveLength(1);
    // The two sessions were logged in different files: the rotation lost nothing.
    expect(new Set([read.position.split(':')[0], events.find((e) => e.actor.session_id === second.sid && e.action === 'read')!.position.split(':')[0]]).size).toBe(2);
    for (const e of events) AuditEventSchema.parse(e);
  });

  it('resumes after a restart at the checkpoint: new events only, none twice', async () => {
    const third = await readerSession('ehr-3');
    const { events } = await runFor((ev) => ev.some((e) => e.actor.session_id === third.sid && e.action === 'logout'));
    expect(summary(events, third.sid)).toEqual(['login/success .', 'read/success clinic.patients', 'insert/failure .patients', 'logout/success .']);
    const firstIds = new Set(firstRun.map((e) => e.id));
    expect(events.filter((e) => firstIds.has(e.id))).toEqual([]);
    expect(events.filter((e) => e.actor.session_id === first.sid || e.actor.session_id === second.sid)).toEqual([]);
    const stored: AuditEvent[] = [];
    for await (const ref of readEvents(storeDir, { sources: ['pglog-it'] })) stored.push(ref.event);
    expect(new Set(stored.map((e) => e.id)).size).toBe(stored.length);
    expect(stored.map((e) => e.seq)).toEqual(stored.map((_, i) => i + 1));
  });

  it('doctor: every recommended setting is found, and a missing pgaudit class fails with a fix', async () => {
    const config = PglogSourceConfig.parse({ id: 'doc', url: `pglog://${join(server.dataDir, 'log')}`, database_url: server.url() });
    const findings = await pglogAdapter.doctor(config, { logger: silentLogger() });
    const notOk = findings.filter((f) => f.status !== 'ok').map((f) => f.id);
    expect(notOk).toEqual([]);
    expect(findings.map((f) => f.id)).toEqual(expect.arrayContaining(['pglog.log_files', 'pglog.pgaudit_loaded', 'pglog.pgaudit_extension', 'pglog.pgaudit_classes', 'pglog.pgaudit_rows', 'pglog.log_connections', 'pglog.lc_messages']));
    await server.query(`ALTER SYSTEM SET pgaudit.log = 'ddl'`);
    await server.query('SELECT pg_reload_conf()');
    try {
      const client = new pg.Client({ connectionString: server.url() });
      await client.connect();
      try {
        const classes = (await pgauditDoctorFindings(client)).find((f) => f.id === 'pglog.pgaudit_classes');
        expect(classes).toMatchObject({ status: 'fail', fix: expect.stringContaining('missing: read, role') });
      } finally {
        await client.end();
      }
    } finally {
      await server.query('ALTER SYSTEM RESET pgaudit.log');
      await server.query('SELECT pg_reload_conf()');
    }
  });
});
