import { describe, expect, it } from 'vitest';
import type { BinlogEvent } from '../../adapters/mysql/binlog-events.js';
import { decodeCheckpoint, encodeCheckpoint, mariaGap, parseMariaPos } from '../../adapters/mysql/binlog-checkpoint.js';
import { binlogMarkOf, TxAssembler } from '../../adapters/mysql/tx-assembler.js';
import type { SourceMessage } from '../../src/core/ports.js';

const gtid = (seq: number, standalone = false): BinlogEvent => ({ type: 'mariadb-gtid', domain: 0, server: 1, seq: BigInt(seq), standalone, threadId: null, timestampMs: 1_764_151_200_000 });
const xid: BinlogEvent = { type: 'xid', timestampMs: 1_764_151_201_000, nextPosition: 900 };
const patient = (id: string, action: 'insert' | 'delete' = 'insert'): BinlogEvent => ({
  type: 'rows', action, schema: 'clinic', table: 'patients', keyColumns: ['id'], columns: ['id', 'name'],
  rows: [action === 'insert' ? { before: null, after: { id, name: 'n' } } : { before: { id, name: 'n' }, after: null }],
});
const marker = (conn: string): BinlogEvent => ({
  type: 'rows', action: 'update', schema: 'dbwitness', table: 'session_marker', keyColumns: ['conn_id'], columns: ['conn_id', 'login', 'client_host'],
  rows: [{ before: { conn_id: conn, login: 'old@x', client_host: 'x' }, after: { conn_id: conn, login: 'alice@127.0.0.2', client_host: '127.0.0.2:5000' } }],
});

function assembler(holdLimit = 100, now = () => 0): TxAssembler {
  return new TxAssembler({ start: decodeCheckpoint('mariadb-gtid:0-1-9'), marker: ['dbwitness', 'session_marker'], ddlDatabases: ['clinic'], holdLimit, now });
}
const kinds = (ms: SourceMessage[]): string[] => ms.map((m) => m.kind);

describe('TxAssembler (MariaDB event groups)', () => {
  it('holds the rows before the marker (AFTER trigger) and puts the identity first', () => {
    const a = assembler();
    const out = [gtid(10), { type: 'statement', text: 'INSERT ...' } as BinlogEvent, patient('1'), marker('7'), patient('2'), xid].flatMap((e) => a.push(e));
    expect(kinds(out)).toEqual(['begin', 'identity', 'change', 'change', 'commit']);
    expect(out[1]).toMatchObject({ identity: { db_user: 'alice', client_addr: '127.0.0.2', client_port: 5000, session_id: '7' } });
    expect(out[2]).toMatchObject({ change: { key: { id: '1' }, statement: 'INSERT ...' } });
    expect(out[4]).toMatchObject({ position: '0-1-10', checkpoint: 'mariadb-gtid:0-1-10', commitTime: '2025-11-26T10:00:01.000000Z' });
  });

  it('releases held rows unattributed at commit, and past the hold limit, so memory stays bounded', () => {
    const a = assembler(2);
    const out = [gtid(10), patient('1'), patient('2'), patient('3'), patient('4'), xid].flatMap((e) => a.push(e));
    expect(kinds(out)).toEqual(['begin', 'change', 'change', 'change', 'change', 'commit']);
    expect(out.some((m) => m.kind === 'identity')).toBe(false);
  });

  it('holds rows for the marker up to a weight too, so wide rows are not held by the thousand', () => {
    const a = assembler(1000);
    const note = 'n'.repeat(100_000);
    const wide = (id: string): BinlogEvent => ({ type: 'rows', action: 'insert', schema: 'clinic', table: 'encounters', keyColumns: ['id'], columns: ['id', 'note'], rows: [{ before: null, after: { id, note } }] });
    a.push(gtid(10));
    const released: SourceMessage[] = [];
    for (let i = 0; i < 30 && released.length === 0; i++) released.push(...a.push(wide(String(i))));
    // About 1 MiB of rows (ten of these), not a thousand rows, before they flow without identity.
    expect(released.filter((m) => m.kind === 'change').length).toBeGreaterThanOrEqual(10);
    expect(released.filter((m) => m.kind === 'change').length).toBeLessThanOrEqual(12);
  });

  it('emits nothing but a throttled idle for transactions without audited rows', () => {
    let t = 0;
    const a = assembler(100, () => t);
    expect(a.push(gtid(10))).toEqual([]);
    t = 5000;
    expect(a.push(xid)).toEqual([{ kind: 'idle', checkpoint: 'mariadb-gtid:0-1-10' }]);
    a.push(gtid(11));
    expect(a.push(xid)).toEqual([]); // within the idle interval
    expect(a.checkpoint).toBe('mariadb-gtid:0-1-11');
    expect(a.push({ type: 'heartbeat', file: 'binlog.000001', position: 500 })).toEqual([{ kind: 'idle', checkpoint: 'mariadb-gtid:0-1-11' }]);
  });

  it("places no checkpoint at a GTID resume's artificial rotate (the file's start), only once an event gives the offset", () => {
    const a = assembler();
    // The connection's first event after a GTID resume: a rotate to the file's start, timestamp 0.
    expect(a.push({ type: 'rotate', file: 'binlog.000003', position: 4, artificial: true })).toEqual([]);
    const [idle] = a.push({ type: 'heartbeat', file: '', position: 0 });
    expect(idle?.kind).toBe('idle');
    expect(binlogMarkOf(idle!)?.file).toBe(''); // unknown: not "everything since byte 4"
    const commit = [gtid(10), patient('1'), xid].flatMap((e) => a.push(e)).find((m) => m.kind === 'commit');
    expect(binlogMarkOf(commit!)).toMatchObject({ file: 'binlog.000003', offset: 900 });
    // A rotate written in the binlog (a new file) is a real position.
    const [rotated] = a.push({ type: 'rotate', file: 'binlog.000004', position: 4 });
    expect(binlogMarkOf(rotated!)).toMatchObject({ file: 'binlog.000004', offset: 4 });
  });

  it('keeps the artificial rotate of a file-and-offset resume: there it is the resume position', () => {
    const a = new TxAssembler({ start: decodeCheckpoint('file:binlog.000003:1200'), marker: ['dbwitness', 'session_marker'], ddlDatabases: ['clinic'], holdLimit: 100, now: () => 0 });
    const [idle] = a.push({ type: 'rotate', file: 'binlog.000003', position: 1200, artificial: true });
    expect(binlogMarkOf(idle!)).toMatchObject({ file: 'binlog.000003', offset: 1200 });
  });

  it('delivers DDL on audited databases as its own transaction and skips others', () => {
    const a = assembler();
    const ddl = (schema: string, q: string): BinlogEvent => ({ type: 'query', query: q, schema, threadId: 12, timestampMs: 0, nextPosition: 1000 });
    const out = [gtid(10, true), ddl('clinic', 'ALTER TABLE patients ADD x INT'), gtid(11, true), ddl('shop', 'CREATE TABLE t (id INT)'), gtid(12, true), ddl('', 'DROP TRIGGER clinic.dbwitness_p_i')].flatMap((e) => a.push(e));
    const changes = out.filter((m) => m.kind === 'change');
    expect(changes.map((m) => (m as { change: { statement: string } }).change.statement)).toEqual(['ALTER TABLE patients ADD x INT', 'DROP TRIGGER clinic.dbwitness_p_i']);
    expect(a.checkpoint).toBe('mariadb-gtid:0-1-12');
  });

  it('never emits marker rows as changes, and replays identically (deterministic)', () => {
    const events = [gtid(10), patient('1'), marker('7'), patient('2', 'delete'), xid];
    const runOnce = (): SourceMessage[] => {
      const a = assembler();
      return events.flatMap((e) => a.push(e));
    };
    const first = runOnce();
    expect(first.filter((m) => m.kind === 'change')).toHaveLength(2);
    expect(first.filter((m) => m.kind === 'change' && m.change.table === 'session_marker')).toHaveLength(0);
    expect(runOnce()).toEqual(first);
  });
});

describe('binlog checkpoints', () => {
  it('round-trips every kind and keeps 64-bit sequence numbers exact', () => {
    for (const t of ['mariadb-gtid:0-1-18446744073709551615,2-7-3', 'mysql-gtid:3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5', 'file:binlog.000003:1234']) {
      expect(encodeCheckpoint(decodeCheckpoint(t))).toBe(t);
    }
    expect(() => decodeCheckpoint('lsn:0/16B3748')).toThrow(/unknown checkpoint format/);
  });

  it('sizes the gap a purge left, per domain', () => {
    expect(mariaGap(parseMariaPos('0-1-10,1-1-5'), parseMariaPos('0-1-15,1-1-5'))).toEqual([{ domain: 0, from: 11n, to: 15n, missing: 5n }]);
    expect(mariaGap(parseMariaPos('0-1-20'), parseMariaPos('0-1-15'))).toEqual([]);
  });
});

describe('ddlTarget', () => {
  it('names the table of DDL and recognises TRUNCATE (a statement, never row events)', async () => {
    const { ddlTarget } = await import('../../adapters/mysql/ddl-target.js');
    expect(ddlTarget('TRUNCATE TABLE patients', 'clinic')).toEqual({ truncate: true, schema: 'clinic', table: 'patients' });
    expect(ddlTarget('truncate `clinic`.`we``ird`', '')).toEqual({ truncate: true, schema: 'clinic', table: 'we`ird' });
    expect(ddlTarget('ALTER TABLE clinic.patients ADD x INT', 'other')).toEqual({ truncate: false, schema: 'clinic', table: 'patients' });
    expect(ddlTarget('CREATE TABLE IF NOT EXISTS t (id INT)', 'clinic')).toEqual({ truncate: false, schema: 'clinic', table: 't' });
    expect(ddlTarget('DROP TRIGGER IF EXISTS `clinic`.`dbwitness_p_i`', '')).toEqual({ truncate: false, schema: 'clinic', table: null });
    expect(ddlTarget("CREATE DEFINER=`x`@`localhost` TRIGGER clinic.t1 AFTER INSERT ON clinic.patients FOR EACH ROW BEGIN END", '')).toEqual({ truncate: false, schema: 'clinic', table: 'patients' });
    expect(ddlTarget('CREATE INDEX i ON patients (mrn)', 'clinic')).toEqual({ truncate: false, schema: 'clinic', table: 'patients' });
    expect(ddlTarget('DROP DATABASE clinic', '')).toEqual({ truncate: false, schema: 'clinic', table: null });
    expect(ddlTarget('GRANT SELECT ON clinic.* TO x', 'clinic')).toEqual({ truncate: false, schema: 'clinic', table: null });
  });

  it('turns a TRUNCATE query event into a truncate change', () => {
    const a = assembler();
    const out = [gtid(10, true), { type: 'query', query: 'TRUNCATE TABLE patients', schema: 'clinic', threadId: 3, timestampMs: 0, nextPosition: 10 } as BinlogEvent].flatMap((e) => a.push(e));
    expect(out.find((m) => m.kind === 'change')).toMatchObject({ change: { action: 'truncate', schema: 'clinic', table: 'patients', statement: 'TRUNCATE TABLE patients' } });
  });
});
