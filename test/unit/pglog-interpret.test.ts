/**
 * PostgreSQL log records -> audit changes, on records captured from a real
 * PostgreSQL 15 with pgaudit 1.7 (jsonlog and csvlog of the same workload).
 */
import { describe, expect, it } from 'vitest';
import { auditScope, pgInterpreter, PG_SYSTEM_SCHEMAS, parsePgaudit, splitQualifiedName } from '../../adapters/pglog/index.js';
import type { LogInterpretation } from '../../src/log-tail/index.js';

const ALL = auditScope([], [], PG_SYSTEM_SCHEMAS, false);
const json = pgInterpreter({ format: 'jsonlog', database: null, scope: ALL, statementMaxChars: 8192 });
const csv = pgInterpreter({ format: 'csvlog', database: null, scope: ALL, statementMaxChars: 8192 });

const J = {
  login: `{"timestamp":"2026-11-26 10:07:21.826 UTC","user":"reader","dbname":"postgres","pid":13190,"remote_host":"127.0.0.1","remote_port":58008,"session_id":"6b0804d9.3386","line_num":2,"ps":"authentication","session_start":"2026-11-26 10:07:21 UTC","vxid":"3/17","txid":0,"error_severity":"LOG","message":"connection authorized: user=reader database=postgres application_name=capture-app","backend_type":"client backend","query_id":0}`,
  read: `{"timestamp":"2026-11-26 10:07:21.833 UTC","user":"reader","dbname":"postgres","pid":13190,"remote_host":"127.0.0.1","remote_port":58008,"session_id":"6b0804d9.3386","line_num":6,"ps":"SELECT","session_start":"2026-11-26 10:07:21 UTC","vxid":"3/19","txid":0,"error_severity":"LOG","message":"AUDIT: SESSION,2,1,READ,SELECT,TABLE,clinic.patients,select * from clinic.patients where id = $1,<not logged>,1","application_name":"capture-app","backend_type":"client backend","query_id":0}`,
  catalogRead: `{"timestamp":"2026-11-26 10:07:21.829 UTC","user":"reader","dbname":"postgres","pid":13190,"remote_host":"127.0.0.1","remote_port":58008,"session_id":"6b0804d9.3386","line_num":5,"ps":"SELECT","session_start":"2026-11-26 10:07:21 UTC","vxid":"3/18","txid":0,"error_severity":"LOG","message":"AUDIT: SESSION,1,1,READ,SELECT,TABLE,pg_catalog.pg_authid,select 1,<not logged>,1","application_name":"capture-app","backend_type":"client backend","query_id":0}`,
  denied: `{"timestamp":"2026-11-26 10:07:21.834 UTC","user":"reader","dbname":"postgres","pid":13190,"remote_host":"127.0.0.1","remote_port":58008,"session_id":"6b0804d9.3386","line_num":7,"ps":"UPDATE","session_start":"2026-11-26 10:07:21 UTC","vxid":"3/20","txid":0,"error_severity":"ERROR","state_code":"42501","message":"permission denied for table patients","statement":"update clinic.patients set name = name where id = 1","application_name":"capture-app","backend_type":"client backend","query_id":0}`,
  logout: `{"timestamp":"2026-11-26 10:07:21.834 UTC","user":"reader","dbname":"postgres","pid":13190,"remote_host":"127.0.0.1","remote_port":58008,"session_id":"6b0804d9.3386","line_num":8,"ps":"idle","session_start":"2026-11-26 10:07:21 UTC","txid":0,"error_severity":"LOG","message":"disconnection: session time: 0:00:00.009 user=reader database=postgres host=127.0.0.1 port=58008","application_name":"capture-app","backend_type":"client backend","query_id":0}`,
  badPassword: `{"timestamp":"2026-11-26 10:07:21.849 UTC","user":"pwuser","dbname":"postgres","pid":13192,"remote_host":"127.0.0.1","remote_port":58034,"session_id":"6b0804d9.3388","line_num":2,"ps":"authentication","session_start":"2026-11-26 10:07:21 UTC","vxid":"3/22","txid":0,"error_severity":"FATAL","state_code":"28P01","message":"password authentication failed for user \\"pwuser\\"","detail":"Connection matched pg_hba.conf line 2: \\"host all pwuser 127.0.0.1/32 scram-sha-256\\"","backend_type":"client backend","query_id":0}`,
  grantWithPassword: `{"timestamp":"2026-11-26 10:07:21.787 UTC","user":"postgres","dbname":"postgres","pid":13185,"remote_host":"127.0.0.1","remote_port":57952,"session_id":"6b0804d9.3381","line_num":4,"ps":"GRANT","session_start":"2026-11-26 10:07:21 UTC","vxid":"3/8","txid":726,"error_severity":"LOG","message":"AUDIT: SESSION,2,1,ROLE,GRANT,SCHEMA,,create role reader login; grant usage on schema clinic to reader; create role pwuser login password 'secret',<not logged>,0","backend_type":"client backend","query_id":0}`,
  // pgaudit object auditing (pgaudit.role): only the relation granted to the audit role is logged.
  objectRead: `{"timestamp":"2026-11-26 10:44:41.880 UTC","user":"postgres","dbname":"postgres","pid":9570,"remote_host":"127.0.0.1","remote_port":55392,"session_id":"6b080d99.2562","line_num":1,"ps":"SELECT","session_start":"2026-11-26 10:44:41 UTC","vxid":"3/6","txid":0,"error_severity":"LOG","message":"AUDIT: OBJECT,1,1,READ,SELECT,TABLE,clinic.patients,select * from clinic.patients p join clinic.other o using (id),<not logged>,0","backend_type":"client backend","query_id":0}`,
  createSchema: `{"timestamp":"2026-11-26 10:07:21.776 UTC","user":"postgres","dbname":"postgres","pid":13184,"remote_host":"127.0.0.1","remote_port":57938,"session_id":"6b0804d9.3380","line_num":3,"ps":"CREATE SCHEMA","session_start":"2026-11-26 10:07:21 UTC","vxid":"3/6","txid":725,"error_severity":"LOG","message":"AUDIT: SESSION,1,1,DDL,CREATE SCHEMA,SCHEMA,clinic,\\"create schema clinic; create table clinic.patients(id int primary key)\\",<not logged>,0","backend_type":"client backend","query_id":0}`,
};

// csvlog of the same session: a quoted statement with a doubled quote, a comma and a newline.
const CSV_READ = `2026-11-26 10:07:21.798 UTC,"postgres","postgres",13186,"127.0.0.1:57956",6b0804d9.3382,3,"SELECT",2026-11-26 10:07:21 UTC,3/10,0,LOG,00000,"AUDIT: SESSION,1,1,READ,SELECT,TABLE,clinic.patients,""select * from clinic.patients where name = 'x""""y,z
newline'"",<not logged>,0",,,,,,,,,"","client backend",,0
`;
const CSV_DENIED = `2026-11-26 10:07:21.811 UTC,"reader","postgres",13188,"127.0.0.1:57978",6b0804d9.3384,3,"INSERT",2026-11-26 10:07:21 UTC,3/14,0,ERROR,42501,"permission denied for table patients",,,,,,"insert into clinic.patients values (3,'c')",,,"","client backend",,0
`;

function event(r: LogInterpretation) {
  if (r.kind !== 'event') throw new Error(`expected an event, got ${JSON.stringify(r)}`);
  expect(r.changes).toHaveLength(1);
  return { time: r.time, identity: r.identity, change: r.changes[0]! };
}
const run = (line: string) => json(Buffer.from(line + '\n'));

describe('pglog jsonlog interpretation', () => {
  it('login carries user, client, application and the %c session id, with zero-filled microseconds', () => {
    const e = event(run(J.login));
    expect(e.time).toBe('2026-11-26T10:07:21.826000Z');
    expect(e.change).toMatchObject({ action: 'login', outcome: 'success', schema: null, table: null, detail: { database: 'postgres' } });
    expect(e.identity).toEqual({ db_user: 'reader', role: null, app_user: null, client_addr: '127.0.0.1', client_port: 58008, application: 'capture-app', session_id: '6b0804d9.3386' });
  });

  it('pgaudit READ becomes a read of the relation with its row count', () => {
    const e = event(run(J.read));
    expect(e.change).toMatchObject({ action: 'read', outcome: 'success', schema: 'clinic', table: 'patients', statement: 'select * from clinic.patients where id = $1' });
    expect(e.change.detail).toMatchObject({ rows: '1', audit_class: 'READ', command: 'SELECT', object_type: 'TABLE', statement_id: '2' });
  });

  it('pgaudit object auditing (AUDIT: OBJECT) yields the same read event', () => {
    const e = event(run(J.objectRead));
    expect(e.change).toMatchObject({ action: 'read', schema: 'clinic', table: 'patients', detail: { audit_type: 'OBJECT', rows: '0' } });
  });

  it('reads of system catalogs are not audit events unless asked for', () => {
    expect(run(J.catalogRead).kind).toBe('skip');
    const withSystem = pgInterpreter({ format: 'jsonlog', database: null, scope: auditScope([], [], PG_SYSTEM_SCHEMAS, true), statementMaxChars: 100 });
    expect(withSystem(Buffer.from(J.catalogRead)).kind).toBe('event');
  });

  it('tables filter keeps only audited relations', () => {
    const only = pgInterpreter({ format: 'jsonlog', database: null, scope: auditScope(['clinic.encounters'], [], PG_SYSTEM_SCHEMAS, false), statementMaxChars: 100 });
    expect(only(Buffer.from(J.read)).kind).toBe('skip');
    expect(only(Buffer.from(J.login)).kind).toBe('event');
  });

  it('permission denied becomes the refused action with outcome failure', () => {
    const e = event(run(J.denied));
    expect(e.change).toMatchObject({ action: 'update', outcome: 'failure', schema: null, table: 'patients', statement: 'update clinic.patients set name = name where id = 1' });
    expect(e.change.detail).toMatchObject({ sqlstate: '42501', command: 'UPDATE' });
  });

  it('without a command tag the refused action comes from the statement keyword', () => {
    const noTag = J.denied.replace('"ps":"UPDATE",', '').replace('update clinic.patients set name = name where id = 1', 'select name from clinic.patients');
    expect(event(run(noTag)).change).toMatchObject({ action: 'read', outcome: 'failure', detail: { command: 'SELECT' } });
  });

  it('logout carries the session time; failed password is login_failed', () => {
    expect(event(run(J.logout)).change).toMatchObject({ action: 'logout', detail: { session_time: '0:00:00.009' } });
    const f = event(run(J.badPassword));
    expect(f.change).toMatchObject({ action: 'login_failed', outcome: 'failure', detail: { sqlstate: '28P01' } });
    expect(f.identity.db_user).toBe('pwuser');
  });

  it('masks passwords pgaudit leaves in sibling statements', () => {
    const e = event(run(J.grantWithPassword));
    expect(e.change.action).toBe('privilege');
    expect(e.change.statement).not.toContain('secret');
    expect(e.change.statement).toContain('password <REDACTED>');
  });

  it('DDL on a schema names the schema; the database filter drops other databases', () => {
    expect(event(run(J.createSchema)).change).toMatchObject({ action: 'ddl', schema: 'clinic', table: null });
    const onlyClinic = pgInterpreter({ format: 'jsonlog', database: 'clinic', scope: ALL, statementMaxChars: 100 });
    expect(onlyClinic(Buffer.from(J.read)).kind).toBe('skip');
  });

  it('caps long statements with a marker', () => {
    const long = J.read.replace('select * from clinic.patients where id = $1', 'select ' + 'x'.repeat(500) + ' from clinic.patients');
    const capped = pgInterpreter({ format: 'jsonlog', database: null, scope: ALL, statementMaxChars: 100 });
    const e = event(capped(Buffer.from(long)));
    expect(e.change.statement!.startsWith('select xxx')).toBe(true);
    expect(e.change.statement).toMatch(/\.\.\.\[truncated 4\d\d chars\]$/);
  });

  it('rejects non-UTC zone abbreviations and malformed records as bad, never as events', () => {
    expect(run(J.login.replace('10:07:21.826 UTC', '11:07:21.826 CET'))).toEqual({ kind: 'bad', reason: 'bad_timestamp' });
    expect(run('{"timestamp":')).toEqual({ kind: 'bad', reason: 'not_json' });
    expect(run('[1,2]')).toEqual({ kind: 'bad', reason: 'not_json_object' });
    expect(run(J.read.replace('AUDIT: SESSION,2,1', 'AUDIT: SESSION,x,1'))).toEqual({ kind: 'bad', reason: 'bad_pgaudit_message' });
    expect(run(J.login.replace('2026-11-26 10', '2026-02-30 10'))).toEqual({ kind: 'bad', reason: 'bad_timestamp' });
  });

  it('numeric log_timezone offsets convert to UTC', () => {
    expect(event(run(J.login.replace('10:07:21.826 UTC', '12:07:21.826 +02'))).time).toBe('2026-11-26T10:07:21.826000Z');
  });
});

describe('pglog csvlog interpretation', () => {
  it('reads a multi-line quoted statement exactly', () => {
    const e = event(csv(Buffer.from(CSV_READ)));
    expect(e.change).toMatchObject({ action: 'read', schema: 'clinic', table: 'patients', statement: `select * from clinic.patients where name = 'x"y,z\nnewline'` });
    expect(e.identity).toMatchObject({ db_user: 'postgres', client_addr: '127.0.0.1', client_port: 57956, session_id: '6b0804d9.3382' });
  });

  it('refused insert from csvlog', () => {
    expect(event(csv(Buffer.from(CSV_DENIED))).change).toMatchObject({ action: 'insert', outcome: 'failure', table: 'patients' });
  });
});

describe('pgaudit field parsing', () => {
  it('handles quoted identifiers and the optional rows column', () => {
    expect(splitQualifiedName('"My ""Schema"""."Pat.ients"')).toEqual(['My "Schema"', 'Pat.ients']);
    expect(splitQualifiedName('a.b.c')).toBeNull();
    expect(parsePgaudit('AUDIT: OBJECT,3,1,READ,SELECT,TABLE,public.t,select 1,<not logged>')?.rows).toBeNull();
    expect(parsePgaudit('AUDIT: SESSION,3,1,READ,SELECT,TABLE,public.t,"select "",""",<not logged>,7')).toMatchObject({ statement: 'select ","', rows: '7' });
  });
});
