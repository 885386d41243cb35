import { describe, expect, it } from 'vitest';
import { bitText, exactRow, exactValue, float32Text, inet6Text, logicalText, T } from '../../adapters/mysql/row-values.js';
import { quoteIdent, quoteString } from '../../adapters/mysql/sql-quote.js';
import { splitQualified } from '../../adapters/mysql/mysql-config.js';
import { triggerName } from '../../adapters/mysql/session-marker.js';

describe('exact binlog values', () => {
  it('prints FLOAT as the shortest text that reads back to the same float32', () => {
    expect(float32Text(Math.fround(0.1))).toBe('0.1');
    expect(float32Text(Math.fround(123456789))).toBe('123456790');
    expect(Math.fround(Number(float32Text(Math.fround(3.4028234e38))))).toBe(Math.fround(3.4028234e38));
    expect(exactValue(Math.fround(-1.5e-10), { name: 'f', type: T.FLOAT })).toBe('-1.5e-10');
  });

  it('builds rows in key order (type 15: VARCHAR); a column named __proto__ is kept when present and refused loudly when the decoder lost it', () => {
    const cols = [{ name: 'z', type: 15 }, { name: '__proto__', type: 15 }, { name: 'a', type: 15 }];
    const present: Record<string, unknown> = { z: 'z1', a: 'a1' };
    Object.defineProperty(present, '__proto__', { value: 'p1', enumerable: true, writable: true, configurable: true });
    expect(Object.entries(exactRow(present, cols))).toEqual([['__proto__', 'p1'], ['a', 'a1'], ['z', 'z1']]);
    // What the decoder hands over: assignment of "__proto__" leaves no own field.
    const lost: Record<string, unknown> = {};
    lost['z'] = 'z1';
    lost['__proto__'] = 'p1';
    lost['a'] = 'a1';
    expect(() => exactRow(lost, cols)).toThrow(expect.objectContaining({ code: 'E_MYSQL_COLUMN_NAME', message: expect.stringMatching(/__proto__/) }));
  });

  it('keeps DOUBLE, BIGINT text, YEAR 0000, ENUM error value, BIT width and bytes', () => {
    expect(exactValue(1.2345678901234568e17, { name: 'd', type: T.DOUBLE })).toBe('123456789012345680');
    expect(exactValue(1e300, { name: 'd', type: T.DOUBLE })).toBe('1e300');
    expect(exactValue('18446744073709551615', { name: 'b', type: T.LONGLONG })).toBe('18446744073709551615');
    expect(exactValue(1900, { name: 'y', type: T.YEAR })).toBe('0000');
    expect(exactValue(2155, { name: 'y', type: T.YEAR })).toBe('2155');
    expect(exactValue(undefined, { name: 'e', type: T.ENUM })).toBe('');
    expect(bitText(Buffer.from([0x02, 0xaa]), 10)).toBe('1010101010');
    expect(exactValue(Buffer.from([0, 255]), { name: 'b', type: 252 })).toEqual({ base64: 'AP8=' });
    expect(() => exactValue(new Date(0), { name: 'dt', type: 18 })).toThrow(/dateStrings/);
  });

  it('formats MariaDB UUID/INET4/INET6 like the server, re-padding stripped zero bytes', () => {
    expect(logicalText(Buffer.from('123e4567e89b12d3a456426614174000', 'hex'), 'uuid')).toBe('123e4567-e89b-12d3-a456-426614174000');
    expect(logicalText(Buffer.from([10, 0, 0]), 'inet4')).toBe('10.0.0.0');
    expect(inet6Text(Buffer.from('20010db8000000000000000000000001', 'hex'))).toBe('2001:db8::1');
    expect(inet6Text(Buffer.from('00000000000000000000ffff0a000001', 'hex'))).toBe('::ffff:10.0.0.1');
    expect(inet6Text(Buffer.alloc(16))).toBe('::');
  });
});

describe('quoting and names', () => {
  it('quotes hostile identifiers and literals', () => {
    expect(quoteIdent('we`ird')).toBe('`we``ird`');
    expect(quoteString("o'brien")).toBe("'o''brien'");
    expect(quoteString('a\\b')).toBe("_utf8mb4 X'615c62'");
    expect(splitQualified('`clinic`.`we``ird.ta\'ble x`')).toEqual(['clinic', "we`ird.ta'ble x"]);
    expect(() => splitQualified('patients')).toThrow(/database\.table/);
  });

  it('keeps trigger names within 64 characters and distinct for similar tables', () => {
    const long = 'x'.repeat(64);
    expect(triggerName(long, 'insert').length).toBeLessThanOrEqual(64);
    expect(triggerName('a-b', 'insert')).not.toBe(triggerName('a_b', 'insert'));
  });
});
