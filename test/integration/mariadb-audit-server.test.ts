/**
 * mariadb-audit end to end on a private MariaDB 10.11 with server_audit:
 * reads, a refused insert, a failed login and a GRANT yield exactly the
 * expected events joined to `@@hostname:CONNECTION_ID()`; a rotation
 * (server_audit_file_rotate_now) mid-run and another while stopped lose
 * nothing; a restart resumes with no duplicates; doctor sees the settings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import type { AuditEvent } from '../../src/core/event.js';
import { AuditEvent as AuditEventSchema } from '../../src/core/event.js';
import { silentLogger } from '../../src/core/logger.js';
import { runPipeline } from '../../src/pipeline/index.js';
import { openStore, readEvents } from '../../src/store/index.js';
import { mariadbAuditAdapter, MariadbAuditSourceConfig, openMariadbAuditSource, serverAuditDoctorFindings, SERVER_AUDIT_EVENTS } from '../../adapters/mariadb-audit/index.js';
import { startMariaDB, tempDir, waitFor, type MariaDbServer } from '../harness/index.js';

let db: MariaDbServer;
let storeDir: string;
let auditFile: string;

beforeAll(async () => {
  db = await startMariaDB({
    database: 'clinic',
    config: { 'plugin-load-add': 'server_audit', 'server-audit-logging': 'ON', 'server-audit-events': SERVER_AUDIT_EVENTS },
  });
  auditFile = join(db.dataDir, 'server_audit.log');
  await db.query('CREATE TABLE clinic.patients (id INT PRIMARY KEY, name TEXT)');
  await db.query(`INSERT INTO clinic.patients VALUES (1, 'a'), (2, 'b')`);
  await db.query(`CREATE USER reader@'%' IDENTIFIED BY 'reader-pw'`);
  await db.query(`GRANT SELECT ON clinic.patients TO reader@'%'`);
  storeDir = await tempDir('mariadb-audit-store-');
});

afterAll(async () => {
  await db?.close();
});

/** A reader session: reads, tries an insert it may not do, disconnects. Returns its session id. */
async function readerSession(): Promise<string> {
  const c = await mysql.createConnection({ host: db.host, port: db.port, user: 'reader', password: 'reader-pw', database: 'clinic' });
  try {
    const [[me]] = (await c.query('SELECT CONCAT(@@hostname, ":", CONNECTION_ID()) AS sid')) as unknown as [[{ sid: string }]];
    await c.query('SELECT * FROM clinic.patients WHERE id > 0');
    await expect(c.query(`INSERT INTO clinic.patients VALUES (3, 'c')`)).rejects.toThrow(/INSERT command denied/);
    return me.sid;
  } finally {
    await c.end();
  }
}

async function runFor(until: (events: AuditEvent[]) => boolean, during: (events: AuditEvent[]) => Promise<void> = async () => undefined): Promise<AuditEvent[]> {
  const config = MariadbAuditSourceConfig.parse({ id: 'audit-it', url: `mariadb-audit://${auditFile}`, tables: ['clinic.patients'], poll_ms: 20 });
  const source = await openMariadbAuditSource(config, { logger: silentLogger() });
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
  await done;
  await chain.close();
  await store.close();
  return events;
}

const summary = (events: AuditEvent[], sid: string): string[] =>
  events.filter((e) => e.actor.session_id === sid).map((e) => `${e.action}/${e.outcome} ${e.object?.schema ?? ''}.${e.object?.table ?? ''}`);

const EXPECTED = ['login/success .', 'read/success clinic.patients', 'insert/failure clinic.patients', 'logout/success .'];

describe('mariadb-audit on MariaDB 10.11 + server_audit', () => {
  let first: string;
  let second: string;
  let firstRun: AuditEvent[];

  it('records reads, a refused insert, a failed login and a grant, across a rotation while running', async () => {
    const events = await runFor(
      (ev) => ev.some((e) => e.actor.session_id === second && e.action === 'logout'),
      async (ev) => {
        // While the source streams: a session, a failed login and a grant, all stored ...
        first = await readerSession();
        await expect(mysql.createConnection({ host: db.host, port: db.port, user: 'reader', password: 'wrong' })).rejects.toThrow(/Access denied/);
        await db.query(`GRANT SELECT ON clinic.* TO reader@'%'`);
        await waitFor(() => ev.some((e) => e.action === 'privilege' && e.statement === `GRANT SELECT ON clinic.* TO reader@'%'`), { what: 'first file read' });
        // ... then a rotation (rename to .1, new file) under the running source, and a second session.
        await db.query('SET GLOBAL server_audit_file_rotate_now = ON');
        second = await readerSession();
      },
    );
    firstRun = events;
    expect(summary(events, first)).toEqual(EXPECTED);
    expect(summary(events, second)).toEqual(EXPECTED);
    const read = events.find((e) => e.actor.session_id === first && e.action === 'read')!;
    expect(read).toMatchObject({ statement: 'SELECT * FROM clinic.patients WHERE id > 0', actor: { db_user: 'reader', client_addr: '127.0.0.1', identity: 'verified' }, source: { engine: 'mariadb_audit' } });
    expect(read.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000000Z$/);
    const refused = events.find((e) => e.actor.session_id === first && e.action === 'insert')!;
    expect(refused.detail).toMatchObject({ retcode: '1142' });
    const failed = events.filter((e) => e.action === 'login_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ outcome: 'failure', actor: { db_user: 'reader' }, detail: { retcode: '1045' } });
    // The failed connection's DISCONNECT is not a logout.
    expect(events.filter((e) => e.actor.session_id === failed[0]!.actor.session_id).map((e) => e.action)).toEqual(['login_failed']);
    expect(events.filter((e) => e.action === 'privilege' && e.statement === `GRANT SELECT ON clinic.* TO reader@'%'`)).toHaveLength(1);
    // Both files were first opened as server_audit.log; positions keep that name, and the
    // second session's records start again near offset 0 of the new file.
    const readPos = (sid: string) => events.find((e) => e.actor.session_id === sid && e.action === 'read')!.position;
    expect(readPos(first)).toMatch(/^server_audit\.log:\d+$/);
    expect(readPos(second)).toMatch(/^server_audit\.log:\d+$/);
    expect(Number(readPos(second).split(':')[1])).toBeLessThan(Number(readPos(first).split(':')[1]));
    expect(new Set(events.map((e) => e.tx!.id.split(':').slice(0, 2).join(':'))).size).toBe(2);
    for (const e of events) AuditEventSchema.parse(e);
  });

  it('resumes after a restart with a rotation in between: new events only, none twice', async () => {
    const third = await readerSession();
    await db.query('SET GLOBAL server_audit_file_rotate_now = ON');
    const fourth = await readerSession();
    const events = await runFor((ev) => ev.some((e) => e.actor.session_id === fourth && e.action === 'logout'));
    expect(summary(events, third)).toEqual(EXPECTED);
    expect(summary(events, fourth)).toEqual(EXPECTED);
    const firstIds = new Set(firstRun.map((e) => e.id));
    expect(events.filter((e) => firstIds.has(e.id))).toEqual([]);
    expect(events.filter((e) => e.actor.session_id === first || e.actor.session_id === second)).toEqual([]);
    const stored: AuditEvent[] = [];
    for await (const ref of readEvents(storeDir, { sources: ['audit-it'] })) stored.push(ref.event);
    expect(new Set(stored.map((e) => e.id)).size).toBe(stored.length);
  });

  it('doctor reports the plugin and its settings; setup --apply fixes them', async () => {
    const conn = await mysql.createConnection({ host: db.host, port: db.port, user: 'root' });
    try {
      const findings = await serverAuditDoctorFindings(conn);
      const status = Object.fromEntries(findings.map((f) => [f.id, f.status]));
      expect(status).toMatchObject({ 'mariadb_audit.plugin': 'ok', 'mariadb_audit.logging': 'ok', 'mariadb_audit.events': 'ok', 'mariadb_audit.table_events': 'ok', 'mariadb_audit.permanent': 'warn', 'mariadb_audit.query_limit': 'warn' });
      expect(findings.find((f) => f.id === 'mariadb_audit.query_limit')?.fix).toContain('server_audit_query_log_limit = 8192');
      await conn.query(`SET GLOBAL server_audit_events = 'CONNECT'`);
      const after = await serverAuditDoctorFindings(conn);
      expect(after.find((f) => f.id === 'mariadb_audit.events')).toMatchObject({ status: 'fail', fix: expect.stringContaining('QUERY_DML') });
      // setup --apply repairs what SQL can repair; only the my.cnf-only item is left.
      const config = MariadbAuditSourceConfig.parse({ id: 'audit-it', url: `mariadb-audit://${auditFile}`, database_url: db.url() });
      await mariadbAuditAdapter.applyPlan(config, await mariadbAuditAdapter.planSetup(config, { logger: silentLogger() }), { logger: silentLogger() });
      const doctor = await mariadbAuditAdapter.doctor(config, { logger: silentLogger() });
      expect(doctor.filter((f) => f.status !== 'ok').map((f) => f.id)).toEqual(['mariadb_audit.permanent']);
    } finally {
      await conn.end();
    }
  });
});
