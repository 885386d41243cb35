/**
 * (pgaudit CSV-quotes a statement holding commas, as here.)
 *
 * A realistic jsonlog mix for the parse/store benchmark: mostly pgaudit
 * reads (what a busy audited server logs), plus logins, logouts, refused
 * statements and records that are not audit events.
 */
const BASE = '{"timestamp":"2026-11-26 10:%M:%S.%F UTC","user":"app","dbname":"clinic","pid":4242,"remote_host":"10.0.0.7","remote_port":%P,"session_id":"6b0804d9.%H","line_num":%N,"ps":"%T","session_start":"2026-11-26 10:00:00 UTC","txid":0,"error_severity":"%V",%X"message":"%MSG","application_name":"ehr","backend_type":"client backend","query_id":0}';

export function workloadLine(i: number): string {
  const kind = i % 20;
  let severity = 'LOG';
  let tag = 'SELECT';
  let extra = '';
  let msg: string;
  if (kind < 14) msg = `AUDIT: SESSION,${i},1,READ,SELECT,TABLE,clinic.patients,\\"select id, name, dob from clinic.patients where id = $1 and clinic_id = $2\\",<not logged>,1`;
  else if (kind === 14) ((tag = 'authentication'), (msg = 'connection authorized: user=app database=clinic application_name=ehr'));
  else if (kind === 15) ((tag = 'idle'), (msg = 'disconnection: session time: 0:00:01.234 user=app database=clinic host=10.0.0.7 port=50000'));
  else if (kind === 16) {
    severity = 'ERROR';
    tag = 'UPDATE';
    extra = '"state_code":"42501","statement":"update clinic.patients set name = $1 where id = $2",';
    msg = 'permission denied for table patients';
  } else msg = 'checkpoint complete: wrote 12 buffers (0.1%); 0 WAL file(s) added, 0 removed, 0 recycled';
  // About 1000 records per second, as on a busy server.
  const s = Math.floor(i / 1000) % 60;
  return BASE.replace('%M', String(Math.floor(i / 60000) % 60).padStart(2, '0'))
    .replace('%S', String(s).padStart(2, '0'))
    .replace('%F', String(i % 1000).padStart(3, '0'))
    .replace('%P', String(40000 + (i % 20000)))
    .replace('%H', (0x1000 + (i % 4096)).toString(16))
    .replace('%N', String(i))
    .replace('%T', tag)
    .replace('%V', severity)
    .replace('%X', extra)
    .replace('%MSG', msg);
}
