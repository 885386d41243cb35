/**
 * Log lines are untrusted: any client can put quotes, newlines, invalid
 * UTF-8 or megabytes into a statement, and files get corrupted. Random and
 * adversarial lines must never throw, never yield an event that fails the
 * event schema, be counted when rejected, and never leak their content into
 * logs or alerts.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { AuditEvent, GENESIS_HASH, type Source } from '../../src/core/event.js';
import { canonicalJson } from '../../src/core/canonical.js';
import type { SourceMessage } from '../../src/core/ports.js';
import { changeDraft } from '../../src/pipeline/event-builder.js';
import { auditScope, openPglogSource, pgInterpreter, PG_SYSTEM_SCHEMAS, PglogSourceConfig } from '../../adapters/pglog/index.js';
import { mariadbInterpreter, MARIADB_SYSTEM_SCHEMAS } from '../../adapters/mariadb-audit/index.js';
import type { Interpreter, LogInterpretation } from '../../src/log-tail/index.js';
import { rng } from './seeded-random.js';

const SECRET = 'PHI-SECRET-4711';
const SOURCE: Source = { id: 'fuzz', engine: 'pglog', server: 's', database: 'd' };


const PG_GOOD = [
  `{"timestamp":"2026-11-26 10:07:21.833 UTC","user":"reader","dbname":"postgres","remote_host":"127.0.0.1","remote_port":58008,"session_id":"6b0804d9.3386","ps":"SELECT","error_severity":"LOG","message":"AUDIT: SESSION,2,1,READ,SELECT,TABLE,clinic.patients,select * from clinic.patients where name = '${SECRET}',<not logged>,1","application_name":"ehr"}`,
  `{"timestamp":"2026-11-26 10:07:21.826 UTC","user":"reader","dbname":"postgres","remote_host":"127.0.0.1","remote_port":58008,"session_id":"6b0804d9.3386","ps":"authentication","error_severity":"LOG","message":"connection authorized: user=reader database=postgres"}`,
  `{"timestamp":"2026-11-26 10:07:21.834 UTC","user":"reader","dbname":"postgres","session_id":"6b0804d9.3386","ps":"UPDATE","error_severity":"ERROR","state_code":"42501","message":"permission denied for table patients","statement":"update clinic.patients set name = '${SECRET}'"}`,
  `{"timestamp":"2026-11-26 10:07:21.849 UTC","user":"pwuser","dbname":"postgres","session_id":"6b0804d9.3388","error_severity":"FATAL","state_code":"28P01","message":"password authentication failed for user \\"pwuser\\""}`,
];
const MDB_GOOD = [
  `20261126 10:07:38,vm,reader,127.0.0.1,13,25,READ,clinic,patients,`,
  `20261126 10:07:38,vm,reader,127.0.0.1,13,25,QUERY,clinic,'select * from clinic.patients where name = \\'${SECRET}\\'',0`,
  `20261126 10:07:38,vm,reader,127.0.0.1,13,26,QUERY,clinic,'insert into clinic.patients values (3,\\'${SECRET}\\')',1142`,
  `20261126 10:07:38,vm,reader,127.0.0.1,14,0,FAILED_CONNECT,,,1045`,
];

const HOSTILE = [
  '',
  '\u0000\u0001\u0002',
  '{',
  'null',
  '"string"',
  '{"timestamp":123,"error_severity":"LOG","message":"x"}',
  '{"timestamp":"2026-11-26 10:07:21.833 UTC","error_severity":"LOG","message":"AUDIT: SESSION,1,1,READ,SELECT,TABLE,\\"a.b.c.d\\",x,<not logged>,NaN"}',
  '{"timestamp":"2026-11-26 10:07:21.833 UTC","error_severity":"LOG","message":"AUDIT: SESSION,1,1,READ,SELECT,TABLE,\\"unterminated,x,<not logged>,1"}',
  '{"timestamp":"2026-11-26 10:07:21.833 UTC","remote_port":1.5,"error_severity":"LOG","message":"connection authorized: user=x"}',
  '{"timestamp":"9999-99-99 99:99:99.999 UTC","error_severity":"LOG","message":"connection authorized: user=x"}',
  '{"timestamp":"2026-11-26 10:07:21.833 UTC","error_severity":"LOG","message":"connection authorized: user=x","__proto__":{"polluted":true}}',
  "20261126 10:07:38,vm,u,h,1,2,QUERY,db,'never closed",
  "20261126 25:99:99,vm,u,h,1,2,CONNECT,,,0",
  "20261126 10:07:38,vm,u,h,99999999999999999999,2,QUERY,db,'select 1',0",
  "20261126 10:07:38,vm,u,h,1,2,QUERY,db,'x\\',notanumber",
  `20261126 10:07:38,vm,u,h,1,2,QUERY,clinic,'select * from clinic.patients ${'x'.repeat(200_000)}',0`,
  Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1]).toString('latin1'),
];

function mutate(line: string, r: () => number): string {
  const ops = [
    () => line.slice(0, Math.floor(r() * line.length)),
    () => {
      const i = Math.floor(r() * line.length);
      return line.slice(0, i) + ['"', "'", ',', '\\', '{', '}', '\u2028', '\r', '\u0000', 'é'][Math.floor(r() * 10)]! + line.slice(i);
    },
    () => {
      const i = Math.floor(r() * line.length);
      return line.slice(0, i) + line.slice(i + 1 + Math.floor(r() * 5));
    },
    () => line.replace(/\d/g, () => String(Math.floor(r() * 10))),
    () => Array.from({ length: 1 + Math.floor(r() * 200) }, () => String.fromCharCode(Math.floor(r() * 0x3000))).join(''),
  ];
  return ops[Math.floor(r() * ops.length)]!();
}

function assertSafe(result: LogInterpretation): void {
  expect(['event', 'skip', 'bad']).toContain(result.kind);
  if (result.kind !== 'event') return;
  result.changes.forEach((change, index) => {
    const draft = changeDraft(SOURCE, { txId: 'f:0', position: 'f:0', commitTime: result.time, count: result.changes.length }, index, change, result.identity);
    AuditEvent.parse({ ...draft, seq: 1, recorded_at: result.time, prev: GENESIS_HASH, hash: GENESIS_HASH });
    expect(() => canonicalJson(draft)).not.toThrow();
    expect((change.statement ?? '').length).toBeLessThanOrEqual(8192 + 40);
  });
}

describe('fuzzed log lines', () => {
  const interpreters: Array<[string, () => Interpreter, string[]]> = [
    ['pg jsonlog', () => pgInterpreter({ format: 'jsonlog', database: null, scope: auditScope([], [], PG_SYSTEM_SCHEMAS, false), statementMaxChars: 8192 }), PG_GOOD],
    ['pg csvlog', () => pgInterpreter({ format: 'csvlog', database: null, scope: auditScope([], [], PG_SYSTEM_SCHEMAS, false), statementMaxChars: 8192 }), PG_GOOD],
    ['server_audit', () => mariadbInterpreter({ scope: auditScope([], [], MARIADB_SYSTEM_SCHEMAS, false), statementMaxChars: 8192, offsetMinutes: 0 }), MDB_GOOD],
  ];
  for (const [name, make, good] of interpreters) {
    it(`${name}: 5000 mutated and hostile lines never throw and never yield an invalid event`, () => {
      const interpret = make();
      const r = rng(0x5eed + name.length);
      let bad = 0;
      for (const line of HOSTILE) assertSafe(interpret(Buffer.from(line + '\n', 'latin1')));
      for (let i = 0; i < 5000; i++) {
        const base = good[Math.floor(r() * good.length)]!;
        const result = interpret(Buffer.from(mutate(base, r) + '\n'));
        if (result.kind === 'bad') bad++;
        assertSafe(result);
      }
      // Most mutations break the record; they must be counted, not silently skipped.
      expect(bad).toBeGreaterThan(1000);
    });
  }

  it('the source counts rejected records, alerts with counts only, and keeps going', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbwitness-fuzz-'));
    try {
      const r = rng(42);
      const lines: string[] = [];
      let good = 0;
      for (let i = 0; i < 400; i++) {
        if (i % 4 === 0) {
          lines.push(PG_GOOD[0]!.replace('10:07:21.833', `10:07:${String(10 + (i % 40)).padStart(2, '0')}.833`));
          good++;
        } else lines.push(mutate(PG_GOOD[i % PG_GOOD.length]!, r).replace(/\n/g, ' '));
      }
      writeFileSync(join(dir, 'postgresql.json'), lines.join('\n') + '\n' + 'x'.repeat(70_000) + '\n' + PG_GOOD[1] + '\n');
      const captured: string[] = [];
      const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, cb) => (captured.push(String(chunk)), cb()) }));
      const source = await openPglogSource(PglogSourceConfig.parse({ id: 'fuzz', url: `pglog://${dir}`, poll_ms: 10, max_record_bytes: 65_536 }), { logger });
      const controller = new AbortController();
      const messages: SourceMessage[] = [];
      for await (const m of source.messages(null, controller.signal)) {
        messages.push(m);
        // The rejection report is sent once the source has caught up with the end of the file.
        if (m.kind === 'alert' && m.code === 'log_records_rejected') controller.abort();
      }
      const commits = messages.filter((m) => m.kind === 'commit');
      const alerts = messages.filter((m): m is Extract<SourceMessage, { kind: 'alert' }> => m.kind === 'alert');
      // Every intact read line and the final login line became an event; mutated ones may too, if still well-formed.
      expect(commits.length).toBeGreaterThanOrEqual(good + 1);
      expect(source.rejected.total).toBeGreaterThan(100);
      expect(source.rejected.byReason.record_too_long).toBe(1);
      expect(alerts.some((a) => a.code === 'log_records_rejected' && a.detail?.rejected === String(source.rejected.total))).toBe(true);
      const outside = JSON.stringify(alerts) + captured.join('');
      expect(outside).toContain('log records rejected');
      expect(outside).not.toContain(SECRET);
      expect(outside).not.toContain('xxxxxxxx');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
