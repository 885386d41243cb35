import { describe, expect, it } from 'vitest';
import { parseSchemaName, parseTableName, quoteIdent, quoteLiteral } from '../../adapters/postgres/sql-quote.js';
import { checkpointOf, formatLsn, parseLsn } from '../../adapters/postgres/lsn.js';

describe('postgres quoting', () => {
  it('quotes identifiers and literals so hostile names stay names', () => {
    expect(quoteIdent('a"; DROP TABLE x; --')).toBe('"a""; DROP TABLE x; --"');
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral('back\\slash')).toBe("E'back\\\\slash'");
  });

  it('parses table names like PostgreSQL folds them', () => {
    expect(parseTableName('Clinic.Patients')).toEqual({ schema: 'clinic', name: 'patients' });
    expect(parseTableName('patients')).toEqual({ schema: 'public', name: 'patients' });
    expect(parseTableName('"My Schema"."Odd ""x"".y"')).toEqual({ schema: 'My Schema', name: 'Odd "x".y' });
    expect(parseSchemaName('"Ward 7"')).toBe('Ward 7');
    for (const bad of ['a.b.c', '', '"open', 'a.', '.b', 'a"b.c']) expect(() => parseTableName(bad), bad).toThrow(/schema\.table/);
  });
});

describe('LSNs', () => {
  it('round-trip and sort as checkpoints', () => {
    const lsn = parseLsn('16/B374D848');
    expect(lsn).toBe(0x16b374d848n);
    expect(formatLsn(lsn)).toBe('16/B374D848');
    expect(checkpointOf(lsn)).toBe('00000016/B374D848');
    expect(parseLsn(checkpointOf(lsn))).toBe(lsn);
    const a = checkpointOf(parseLsn('F/FFFFFFFF'));
    const b = checkpointOf(parseLsn('10/0'));
    expect(a < b).toBe(true);
    expect(() => parseLsn('mysql-bin.000001:4')).toThrow(/LSN/);
  });
});
