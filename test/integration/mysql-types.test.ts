/**
 * Every column type round-trips exactly: the decoded binlog value equals
 * the server's own text for it (CAST(... AS CHAR) in a UTC session),
 * binary values their bytes, BIT its bits. FLOAT/DOUBLE compare as the
 * stored binary value (the server prints FLOAT with 6 digits, lossy).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import type { MariaDbServer } from '../harness/index.js';
import type { Row } from '../../src/core/event.js';
import type { BinlogSource } from '../../adapters/mysql/binlog-source.js';
import { type Collector, sourceConfig, startClinic, startedCollector, stopAll } from './mysql-fixture.js';

const COLUMNS: Array<[string, string, 'text' | 'bits' | 'binary' | 'float' | 'double']> = [
  ['d', 'DECIMAL(30,10)', 'text'],
  ['d0', 'DECIMAL(65,0)', 'text'],
  ['bu', 'BIGINT UNSIGNED', 'text'],
  ['bs', 'BIGINT', 'text'],
  ['ti', 'TINYINT', 'text'],
  ['mu', 'MEDIUMINT UNSIGNED', 'text'],
  ['f', 'FLOAT', 'float'],
  ['db', 'DOUBLE', 'double'],
  ['dt', 'DATETIME(6)', 'text'],
  ['dt0', 'DATETIME', 'text'],
  ['dt3', 'DATETIME(3)', 'text'],
  ['ts', 'TIMESTAMP(6) NULL', 'text'],
  ['tm', 'TIME(6)', 'text'],
  ['dte', 'DATE', 'text'],
  ['y', 'YEAR', 'text'],
  ['b10', 'BIT(10)', 'bits'],
  ['b64', 'BIT(64)', 'bits'],
  ['e', "ENUM('a','b,c','x''y')", 'text'],
  ['s', "SET('r','w','x')", 'text'],
  ['bl', 'BLOB', 'binary'],
  ['bn', 'BINARY(4)', 'binary'],
  ['vb', 'VARBINARY(10)', 'binary'],
  ['tx', 'TEXT', 'text'],
  ['l1', 'VARCHAR(20) CHARACTER SET latin1', 'text'],
  ['sj', 'VARCHAR(20) CHARACTER SET sjis', 'text'],
  ['u8', 'VARCHAR(20) CHARACTER SET utf8mb4', 'text'],
  ['ch', 'CHAR(5) CHARACTER SET utf8mb4', 'text'],
  ['j', 'JSON', 'text'],
  ['uu', 'UUID', 'text'],
  ['ip', 'INET6', 'text'],
];

const ROWS = [
  `(1, '-12345678901234567890.0123456789', '99999999999999999999999999999999999999999999999999999999999999999', 18446744073709551615, -9223372036854775808, -128, 16777215,
    0.1, 0.1, '2026-11-26 10:00:00.123456', '1000-01-01 00:00:00', '9999-12-31 23:59:59.999', '2038-01-19 03:14:07.999999', '-838:59:59.000000', '2024-02-29', 0,
    b'1010101010', b'1111111111111111111111111111111111111111111111111111111111111111', 'b,c', 'r,x', X'00FF10', X'6162', X'', 'line1\nline2 é',
    'café €', '日本語', '😀 ok', 'ab', '{"k": [1, 2.50, "x"], "big": 123456789012345678901234567890}', '123e4567-e89b-12d3-a456-426614174000', '2001:db8::1')`,
  `(2, '0.0000000001', '0', 9007199254740993, 9007199254740993, 127, 0,
    123456789, 1.2345678901234568e17, '1970-01-01 00:00:00.000001', '2026-01-01 00:00:00', '2026-01-01 00:00:00.001', '1970-01-01 00:00:01.000000', '12:34:56.000001', '0000-00-00', 2155,
    b'0000000001', b'0', '', '', X'', X'00000000', X'00', '',
    '', 'ｶﾀｶﾅ', 'x', '', '[]', '00000000-0000-0000-0000-000000000000', '::ffff:10.0.0.1')`,
  `(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
];

function serverExpr(col: string, kind: string, decl: string): string {
  if (kind === 'bits') return `LPAD(BIN(\`${col}\`), ${/\((\d+)\)/.exec(decl)![1]}, '0')`;
  if (kind === 'binary') return `HEX(\`${col}\`)`;
  if (kind === 'float' || kind === 'double') return `CAST(\`${col}\` AS DOUBLE)`;
  return `CAST(\`${col}\` AS CHAR)`;
}

describe('mysql source: exact values for every type (MariaDB 10.11)', () => {
  let db: MariaDbServer;
  let source: BinlogSource;
  let c: Collector;
  beforeAll(async () => {
    // Non-strict mode so the ENUM error value '' and the zero date can be stored.
    db = await startClinic({ 'sql-mode': 'NO_ENGINE_SUBSTITUTION' });
    await db.query(`CREATE TABLE clinic.types (id INT PRIMARY KEY, ${COLUMNS.map(([n, t]) => `\`${n}\` ${t}`).join(', ')})`);
    ({ source, c } = await startedCollector(sourceConfig(db, { tables: ['clinic.types'] })));
  });
  afterAll(() => stopAll(c, source, db));

  it('decodes inserts and update before/after images to the server text', async () => {
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: db.port, user: 'root', dateStrings: true, supportBigNumbers: true, bigNumberStrings: true });
    // Deliberately not UTC: TIMESTAMP must come out as UTC whatever the writer's zone.
    await conn.query("SET time_zone = '+05:30'");
    await conn.query(`INSERT INTO clinic.types VALUES ${ROWS.join(',')}`);
    await conn.query("UPDATE clinic.types SET d = d + 1, ts = '2000-02-29 12:00:00.5' WHERE id = 1");
    await conn.query("SET time_zone = '+00:00'");
    const [expectedRows] = await conn.query(`SELECT id, ${COLUMNS.map(([n, t, k]) => `${serverExpr(n, k, t)} AS \`${n}\``).join(', ')} FROM clinic.types ORDER BY id`);
    await conn.end();

    const inserts = await c.until(() => {
      const ins = c.changes().filter((ch) => ch.table === 'types' && ch.action === 'insert');
      return ins.length === 3 && c.changes().some((ch) => ch.action === 'update') ? ins : null;
    }, 'three inserts and an update');
    const update = c.changes().find((ch) => ch.action === 'update')!;
    const finalImages = new Map<string, Row>(inserts.map((ch) => [ch.after!['id'] as string, ch.after!]));
    finalImages.set('1', update.after!);
    expect(update.before!['d']).toBe('-12345678901234567890.0123456789');
    expect(update.after!['d']).toBe('-12345678901234567889.0123456789');
    expect(update.after!['ts']).toBe('2000-02-29 06:30:00.500000');
    expect(update.columns).toEqual(['d', 'ts']);

    for (const exp of expectedRows as Array<Record<string, string | null>>) {
      const got = finalImages.get(String(exp['id']))!;
      for (const [col, , kind] of COLUMNS) {
        const want = exp[col] ?? null;
        const have = got[col];
        const label = `row ${exp['id']} column ${col}`;
        if (want === null) {
          expect(have, label).toBeNull();
        } else if (kind === 'binary') {
          expect(Buffer.from((have as { base64: string }).base64, 'base64').toString('hex').toUpperCase(), label).toBe(want);
        } else if (kind === 'float') {
          expect(Math.fround(Number(have)), label).toBe(Math.fround(Number(want)));
          expect(String(have).length, label).toBeLessThanOrEqual(12); // shortest float32 text, not the widened double
        } else if (kind === 'double') {
          expect(Number(have), label).toBe(Number(want));
        } else {
          expect(have, label).toBe(want);
        }
      }
    }
    // Spot checks of the hard cases, against literal expectations.
    const r1 = finalImages.get('1')!;
    expect(r1['bu']).toBe('18446744073709551615');
    expect(r1['dt']).toBe('2026-11-26 10:00:00.123456');
    expect(r1['f']).toBe('0.1');
    expect(r1['y']).toBe('0000');
    expect(r1['e']).toBe('b,c');
    expect(finalImages.get('2')!['bs']).toBe('9007199254740993');
    expect(finalImages.get('2')!['e']).toBe('');
  });
});
