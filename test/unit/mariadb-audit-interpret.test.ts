/**
 * server_audit lines -> audit changes, on lines captured from a real
 * MariaDB 10.11 with server_audit_events=CONNECT,QUERY_DDL,QUERY_DCL,QUERY_DML,TABLE.
 */
import { describe, expect, it } from 'vitest';
import { mariadbInterpreter, MARIADB_SYSTEM_SCHEMAS, parseServerAuditLine } from '../../adapters/mariadb-audit/index.js';
import { auditScope } from '../../adapters/pglog/index.js';
import type { LogInterpretation } from '../../src/log-tail/index.js';

const CAPTURED = `20261126 10:07:38,vm,reader,localhost,13,0,CONNECT,,,0
20261126 10:07:38,vm,reader,localhost,13,24,QUERY,,'select connection_id()',0
20261126 10:07:38,vm,reader,localhost,13,25,READ,clinic,patients,
20261126 10:07:38,vm,reader,localhost,13,25,QUERY,clinic,'select * from clinic.patients where name = \\'x"y,z\\nnl\\'',0
20261126 10:07:38,vm,reader,localhost,13,26,QUERY,clinic,'insert into clinic.patients values (3,\\'c\\')',1142
20261126 10:07:38,vm,reader,localhost,13,0,DISCONNECT,,,0
20261126 10:07:38,vm,reader,localhost,14,0,FAILED_CONNECT,,,1045
20261126 10:07:38,vm,reader,localhost,14,0,DISCONNECT,,,0
20261126 10:07:33,vm,root,localhost,5,9,WRITE,clinic,patients,
20261126 10:07:33,vm,root,localhost,5,9,READ,mysql,table_stats,
20261126 10:07:33,vm,root,localhost,5,9,QUERY,clinic,'insert into clinic.patients values (1,\\'a\\'),(2,\\'b\\')',0
20261126 10:07:33,vm,root,localhost,5,10,WRITE,mysql,global_priv,
20261126 10:07:33,vm,root,localhost,5,10,QUERY,clinic,'create user reader@\\'%\\' identified by *****',0
20261126 10:07:38,vm,root,localhost,19,32,QUERY,mysql,'drop table clinic.nosuch',1051
`;

function runAll(text: string, scope = auditScope([], [], MARIADB_SYSTEM_SCHEMAS, false)) {
  const interp = mariadbInterpreter({ scope, statementMaxChars: 8192, offsetMinutes: 0 });
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => interp(Buffer.from(l + '\n')));
}

function changes(results: LogInterpretation[]) {
  return results.flatMap((r) => (r.kind === 'event' ? r.changes.map((c) => ({ c, identity: r.identity, time: r.time })) : []));
}

describe('mariadb server_audit interpretation', () => {
  const all = changes(runAll(CAPTURED));

  it('yields exactly the expected events in order', () => {
    expect(all.map(({ c }) => `${c.action}/${c.outcome ?? 'success'} ${c.schema}.${c.table}`)).toEqual([
      'login/success null.null',
      'read/success clinic.patients',
      'insert/failure clinic.patients',
      'logout/success null.null',
      'login_failed/failure null.null',
      'insert/success clinic.patients',
      'privilege/success null.null',
      'ddl/failure clinic.nosuch',
    ]);
  });

  it('joins to the session as <serverhost>:<connection id> and unescapes the statement', () => {
    const read = all[1]!;
    expect(read.identity).toEqual({ db_user: 'reader', role: null, app_user: null, client_addr: 'localhost', client_port: null, application: null, session_id: 'vm:13' });
    expect(read.c.statement).toBe(`select * from clinic.patients where name = 'x"y,z\nnl'`);
    expect(read.time).toBe('2026-11-26T10:07:38.000000Z');
    expect(read.c.detail).toMatchObject({ query_id: '25', retcode: '0', operation: 'READ' });
  });

  it('a refused insert names the table from the statement and carries the error code', () => {
    expect(all[2]!.c.detail).toMatchObject({ retcode: '1142', command: 'INSERT INTO' });
  });

  it('no logout for a connection whose login failed', () => {
    expect(all.filter(({ c, identity }) => c.action === 'logout' && identity.session_id === 'vm:14')).toHaveLength(0);
  });

  it('time_zone offset converts the local timestamps', () => {
    const interp = mariadbInterpreter({ scope: auditScope([], [], MARIADB_SYSTEM_SCHEMAS, false), statementMaxChars: 100, offsetMinutes: -300 });
    const r = interp(Buffer.from('20261126 10:07:38,vm,reader,localhost,13,0,CONNECT,,,0\n'));
    expect(r.kind === 'event' && r.time).toBe('2026-11-26T15:07:38.000000Z');
  });

  it('filters by database.table', () => {
    const only = changes(runAll(CAPTURED, auditScope(['clinic.encounters'], [], MARIADB_SYSTEM_SCHEMAS, false)));
    expect(only.map(({ c }) => c.action)).toEqual(['login', 'logout', 'login_failed', 'privilege', 'ddl']);
  });

  it('a procedure call reports the tables it opened', () => {
    const got = changes(
      runAll(`20261126 10:07:38,vm,app,127.0.0.1,30,40,READ,clinic,patients,
20261126 10:07:38,vm,app,127.0.0.1,30,40,WRITE,clinic,visits,
20261126 10:07:38,vm,app,127.0.0.1,30,40,QUERY,clinic,'CALL clinic.touch_patient(1)',0
20261126 10:07:38,vm,app,127.0.0.1,30,41,QUERY,clinic,'USE clinic',0
`),
    );
    expect(got.map(({ c }) => `${c.action} ${c.schema}.${c.table} ${c.detail?.command}`)).toEqual(['read clinic.patients CALL', 'update clinic.visits CALL']);
  });

  it('line parser rejects malformed lines with a reason', () => {
    expect(parseServerAuditLine("20261126 10:07:38,vm,u,h,1,2,QUERY,db,'unterminated,0")).toEqual({ ok: false, reason: 'unterminated_quote' });
    expect(parseServerAuditLine("20261126 10:07:38,vm,u,h,x,2,QUERY,db,'q',0")).toEqual({ ok: false, reason: 'bad_ids' });
    expect(parseServerAuditLine("20261126 10:07:38,vm,u,h,1,2,QUERY,db,'q'x,0")).toEqual({ ok: false, reason: 'text_after_quote' });
    expect(parseServerAuditLine('garbage')).toEqual({ ok: false, reason: 'too_few_fields' });
    expect(parseServerAuditLine("20261126 10:07:38,vm,u,h,1,2,QUERY,db,'a\\\\',0")).toMatchObject({ ok: true, line: { object: 'a\\' } });
  });
});
