/**
 * MySQL 8 identity path, proven on byte-level fixtures (no MySQL server
 * is available to the tests): raw GTID / Query BEGIN / Rows_query / Xid
 * events are decoded, joined with the connection registry by thread id,
 * and assembled into the SourceMessage stream.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { BinlogEvent } from '../../adapters/mysql/binlog-events.js';
import { ConnectionRegistry } from '../../adapters/mysql/connection-registry.js';
import { parseRawEvent } from '../../adapters/mysql/raw-events.js';
import { TxAssembler } from '../../adapters/mysql/tx-assembler.js';
import type { SourceMessage } from '../../src/core/ports.js';

const dir = new URL('../fixtures/mysql8/', import.meta.url);

function loadEvents(): BinlogEvent[] {
  const lines = readFileSync(new URL('mysql8-session.jsonl', dir), 'utf8').trim().split('\n');
  return lines.map((l) => {
    const x = JSON.parse(l) as { raw?: string; rows?: BinlogEvent };
    if (x.rows) return x.rows;
    const e = parseRawEvent(Buffer.from(x.raw!, 'hex'), { checksum: true });
    if (!e) throw new Error('fixture event not decoded');
    return e;
  });
}

function run(events: readonly BinlogEvent[], registry = new ConnectionRegistry()): SourceMessage[] {
  const a = new TxAssembler({
    start: { kind: 'mysql-gtid', set: '' },
    marker: ['dbwitness', 'session_marker'],
    registryTable: ['dbwitness', 'connections'],
    registry,
    ddlDatabases: ['clinic'],
    now: () => 0,
  });
  return events.flatMap((e) => a.push(e));
}

describe('MySQL 8 binlog fixtures', () => {
  it('decodes GTID, BEGIN thread id, Rows_query and Xid from raw bytes, verifying CRC32', () => {
    const events = loadEvents();
    expect(events[0]).toMatchObject({ type: 'mysql-gtid', gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1' });
    expect(events[1]).toMatchObject({ type: 'query', query: 'BEGIN', threadId: 42 });
    expect(events[6]).toMatchObject({ type: 'statement', text: "INSERT INTO clinic.patients VALUES (1, 'M1')" });
    expect(events[3]).toMatchObject({ type: 'xid' });
    const first = JSON.parse(readFileSync(new URL('mysql8-session.jsonl', dir), 'utf8').split('\n')[0]!) as { raw: string };
    const corrupt = Buffer.from(first.raw, 'hex');
    corrupt[30] = corrupt[30]! ^ 0xff;
    expect(() => parseRawEvent(corrupt, { checksum: true })).toThrow(/checksum mismatch/);
  });

  it('decodes a Query event recorded from MariaDB 10.11 (same layout as MySQL)', () => {
    const b = Buffer.from(readFileSync(new URL('mariadb-10.11-ddl-query-event.hex', dir), 'utf8').trim(), 'hex');
    const e = parseRawEvent(b, { checksum: true });
    expect(e).toMatchObject({ type: 'query', query: expect.stringMatching(/^CREATE TABLE clinic\.patients/) });
    expect((e as { threadId: number }).threadId).toBeGreaterThan(0);
  });

  it('attributes a transaction to the session registered for its BEGIN thread id', () => {
    const msgs = run(loadEvents());
    const tx2 = msgs.slice(msgs.findIndex((m) => m.kind === 'begin' && m.txId.endsWith(':2')));
    expect(tx2[0]).toEqual({ kind: 'begin', txId: '3e11fa47-71ca-11e1-9e33-c80aa9429562:2' });
    expect(tx2[1]).toMatchObject({ kind: 'identity', identity: { db_user: 'alice', client_addr: '10.0.0.5', client_port: 53211, application: 'clinic-web', session_id: '42' } });
    expect(tx2[2]).toMatchObject({ kind: 'change', change: { action: 'insert', key: { id: '1' }, statement: "INSERT INTO clinic.patients VALUES (1, 'M1')" } });
    // The microsecond commit time from the GTID event, not the whole-second header.
    expect(tx2[3]).toMatchObject({ kind: 'commit', position: '3e11fa47-71ca-11e1-9e33-c80aa9429562:2', commitTime: '2025-11-26T10:00:01.123456Z', checkpoint: 'mysql-gtid:3e11fa47-71ca-11e1-9e33-c80aa9429562:1-2' });
    // Registry rows never reach the trail.
    expect(msgs.some((m) => m.kind === 'change' && m.change.table === 'connections')).toBe(false);
  });

  it('rejects a registry row for another thread and leaves that transaction unattributed', () => {
    const registry = new ConnectionRegistry();
    const msgs = run(loadEvents(), registry);
    expect(registry.rejected).toBe(1);
    expect(registry.lookup(42)).toMatchObject({ db_user: 'alice' });
    const i = msgs.findIndex((m) => m.kind === 'begin' && m.txId.endsWith(':3'));
    const tx3 = msgs.slice(i, msgs.findIndex((m, j) => j > i && m.kind === 'commit') + 1);
    expect(tx3.some((m) => m.kind === 'identity')).toBe(false);
    expect(tx3.find((m) => m.kind === 'change')).toMatchObject({ change: { action: 'update', columns: ['mrn'] } });
  });

  it('delivers DDL as its own transaction and folds every GTID into the checkpoint set', () => {
    const msgs = run(loadEvents());
    const ddl = msgs.find((m) => m.kind === 'change' && m.change.action === 'ddl');
    expect(ddl).toMatchObject({ change: { statement: 'ALTER TABLE patients ADD COLUMN note TEXT', schema: 'clinic', detail: { thread_id: '42' } } });
    const commits = msgs.filter((m): m is Extract<SourceMessage, { kind: 'commit' }> => m.kind === 'commit');
    expect(commits.at(-1)).toMatchObject({ checkpoint: 'mysql-gtid:3e11fa47-71ca-11e1-9e33-c80aa9429562:1-4', commitTime: '2025-11-26T10:00:03.999999Z' });
  });
});
