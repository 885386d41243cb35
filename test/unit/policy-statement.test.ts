import { describe, expect, it } from 'vitest';
import { redactSqlLiterals } from '../../src/policy/statement.js';
import { loadHmacKey } from '../../src/policy/hmac.js';

describe('redactSqlLiterals', () => {
  const cases: [string, 'postgres' | 'mysql', string][] = [
    ["UPDATE t SET name='O''Brien' WHERE id=7", 'postgres', 'UPDATE t SET name=? WHERE id=?'],
    ["UPDATE t SET name='a\\'b' WHERE t1.id = 12.5e3", 'mysql', 'UPDATE t SET name=? WHERE t1.id = ?'],
    ['SELECT "Name" FROM t WHERE x = "secret"', 'mysql', 'SELECT ? FROM t WHERE x = ?'],
    ['SELECT "Name" FROM t WHERE x = $1', 'postgres', 'SELECT "Name" FROM t WHERE x = $1'],
    ['SELECT $$Jane$$, $q$it\'s$q$', 'postgres', 'SELECT ?, ?'],
    ["INSERT INTO `t-1` VALUES (X'DEADBEEF', 0x1F, E'\\n') /* Jane */ # mrn", 'mysql', 'INSERT INTO `t-1` VALUES (X?, ?, E?)'],
    ["SELECT 'unterminated Jane", 'postgres', 'SELECT ?'],
  ];
  for (const [sql, dialect, want] of cases) {
    it(`${dialect}: ${sql}`, () => {
      expect(redactSqlLiterals(sql, dialect)).toBe(want);
    });
  }
});

describe('loadHmacKey', () => {
  it('decodes hex from the environment and refuses short or missing keys', () => {
    expect(loadHmacKey({ env: 'K' }, { K: 'ab'.repeat(32) })).toEqual(Buffer.alloc(32, 0xab));
    expect(() => loadHmacKey({ env: 'K' }, { K: 'short' })).toThrow(/at least 32/);
    expect(() => loadHmacKey({ env: 'K' }, {})).toThrow(/not set/);
    expect(() => loadHmacKey({ file: '/nonexistent/dbwitness.key' })).toThrow(/cannot read/);
  });
});
