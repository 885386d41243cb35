/**
 * Exact values: every column in an event must equal the server's own text
 * form (`col::text`), including the values JavaScript would round or break.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../harness/index.js';
import { applySetup, Collector, exec, pgConfig, unique } from './postgres-fixture.js';

let server: PgServer;
let collector: Collector;
const db = 'vals';

const COLUMNS: Array<[string, string, string]> = [
  ['n_big', 'numeric', "'123456789012345678901234567890.123456789012345678901234567890'"],
  ['n_nan', 'numeric', "'NaN'"],
  ['i8', 'bigint', '9223372036854775807'],
  ['i8_min', 'bigint', '-9223372036854775808'],
  ['f8', 'double precision', '0.1'],
  ['f8_tiny', 'double precision', "'4.9e-324'"],
  ['f8_inf', 'double precision', "'-Infinity'"],
  ['f4', 'real', "'3.4028235e38'"],
  ['ts_tz', 'timestamptz', "'2026-11-26 10:00:00.123456+02'"],
  ['ts_inf', 'timestamp', "'infinity'"],
  ['ts_micro', 'timestamp(6)', "'1999-12-31 23:59:59.999999'"],
  ['ts_bc', 'timestamptz', "'0044-03-15 12:00:00 BC'"],
  ['d', 'date', "'-infinity'"],
  ['t', 'time', "'23:59:59.999999'"],
  ['ttz', 'timetz', "'01:02:03.000004-05:30'"],
  ['iv', 'interval', "'1 year 2 mons 3 days 04:05:06.789012'"],
  ['arr', 'int[]', "'{1,NULL,3}'"],
  ['tarr', 'text[]', `ARRAY['a"b', 'c,d', NULL, 'e\\f', '']`],
  ['js', 'json', `'{"b": 1.000000000000000000001, "a": [1, 2]}'`],
  ['jb', 'jsonb', `'{"big": 123456789012345678901234567890, "s": "\\u00e9"}'`],
  ['by', 'bytea', "'\\x00ff10'::bytea"],
  ['u', 'uuid', "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"],
  ['mood_v', 'clinic_mood', "'ok'"],
  ['dom', 'positive_int', '42'],
  ['b', 'boolean', 'true'],
  ['ip', 'inet', "'192.168.0.1/24'"],
  ['mac', 'macaddr', "'08:00:2b:01:02:03'"],
  ['bits', 'bit varying(8)', "B'1011'"],
  ['rng', 'tstzrange', "'[2026-01-01 00:00:00.000001+00,infinity)'"],
  ['ch', 'char(5)', "'ab'"],
  ['uni', 'text', "'emoji 🩺, quote '' and \\ backslash, tab\t.'"],
  ['nul', 'text', 'NULL'],
  ['money_v', 'numeric(20,10)', "'-0.0000000001'"],
];

beforeAll(async () => {
  server = await startPostgres({ database: db });
  const q = (sql: string): Promise<unknown> => server.query(sql, [], { database: db });
  await q('CREATE SCHEMA clinic');
  await q("CREATE TYPE clinic_mood AS ENUM ('sad', 'ok')");
  await q('CREATE DOMAIN positive_int AS int CHECK (VALUE > 0)');
  await q(`CREATE TABLE clinic.vals (id int PRIMARY KEY, ${COLUMNS.map(([c, t]) => `${c} ${t}`).join(', ')}, big text)`);
  await q('CREATE TABLE clinic.toasty (id int PRIMARY KEY, small int, big text)');
  // A key column whose name JavaScript objects treat specially.
  await q('CREATE TABLE clinic.odd ("__proto__" text PRIMARY KEY, "constructor" text, v text)');
  const config = pgConfig(server, db, { slot: unique('s'), tables: ['clinic.vals', 'clinic.odd'] });
  await applySetup(config);
  // A table under REPLICA IDENTITY DEFAULT (added by hand, not by setup) shows the unchanged-TOAST marker.
  await q('ALTER PUBLICATION dbwitness ADD TABLE clinic.toasty');
  collector = new Collector(config);
});
afterAll(async () => {
  await collector?.stop();
  await server?.close();
});

describe('postgres values', () => {
  it('every column equals the server text output', async () => {
    await exec(server.url({ database: db }), [`INSERT INTO clinic.vals VALUES (1, ${COLUMNS.map(([, , v]) => v).join(', ')}, NULL)`]);
    const tx = await collector.waitChange('vals');
    const after = tx.items[0]?.change.after ?? {};
    // The server's text output of each column, unparsed (what psql shows; for booleans 't', unlike the bool::text cast).
    const client = new pg.Client({ connectionString: server.url({ database: db }), types: { getTypeParser: () => (v: string) => v } });
    await client.connect();
    const { rows } = await client.query<Record<string, string | null>>(`SELECT ${COLUMNS.map(([c]) => c).join(', ')} FROM clinic.vals WHERE id = 1`).finally(() => client.end());
    const expected = rows[0];
    for (const [c] of COLUMNS) expect({ column: c, value: after[c] }).toEqual({ column: c, value: expected?.[c] });
    // Spot checks that JS parsing would have broken.
    expect(after['i8']).toBe('9223372036854775807');
    expect(after['ts_tz']).toBe('2026-11-26 08:00:00.123456+00');
    expect(after['by']).toBe('\\x00ff10');
    expect(after['b']).toBe('t');
    expect(after['nul']).toBeNull();
  });

  it('TOASTed values: full under REPLICA IDENTITY FULL, marked when not sent', async () => {
    const big = 'x'.repeat(20000) + Array.from({ length: 3000 }, (_, i) => String(i * 7919)).join('');
    const url = server.url({ database: db });
    await exec(url, [`INSERT INTO clinic.vals (id, big) VALUES (2, '${big}')`, `INSERT INTO clinic.toasty VALUES (2, 1, '${big}')`]);
    await exec(url, ['UPDATE clinic.vals SET i8 = 1 WHERE id = 2', 'UPDATE clinic.toasty SET small = 2 WHERE id = 2']);
    const tx = await collector.waitChange('toasty', (c) => c.action === 'update');
    const full = tx.items.find((i) => i.change.table === 'vals')?.change;
    expect(full?.after?.['big']).toBe(big);
    expect(full?.before?.['big']).toBe(big);
    expect(full?.columns).toEqual(['i8']);
    const dflt = tx.items.find((i) => i.change.table === 'toasty')?.change;
    expect(dflt?.after?.['big']).toEqual({ unchanged_toast: true });
    expect(dflt?.before).toBeNull();
    expect(dflt?.key).toEqual({ id: '2' });
    expect(dflt?.columns).toEqual(['id', 'small']);
  });

  it('a column named __proto__ is an ordinary column: in the rows, the key and the changed columns', async () => {
    const url = server.url({ database: db });
    await exec(url, [`INSERT INTO clinic.odd VALUES ('k1', 'c1', 'a')`, `UPDATE clinic.odd SET "__proto__" = 'k2', v = 'b' WHERE "__proto__" = 'k1'`, `DELETE FROM clinic.odd WHERE "__proto__" = 'k2'`]);
    const changes = (await collector.waitChange('odd', (c) => c.action === 'delete')).items.map((i) => i.change);
    const all = [...collector.txs.flatMap((t) => t.items.map((i) => i.change)).filter((c) => c.table === 'odd' && c.action !== 'delete'), ...changes];
    const own = (r: Record<string, unknown> | null | undefined) => (r ? Object.entries(r) : null);
    const ins = all.find((c) => c.action === 'insert');
    const upd = all.find((c) => c.action === 'update');
    const del = all.find((c) => c.action === 'delete');
    expect(own(ins?.after)).toEqual([['__proto__', 'k1'], ['constructor', 'c1'], ['v', 'a']]);
    expect(own(ins?.key)).toEqual([['__proto__', 'k1']]);
    expect(ins?.columns).toEqual(['__proto__', 'constructor', 'v']);
    expect(own(upd?.before)).toEqual([['__proto__', 'k1'], ['constructor', 'c1'], ['v', 'a']]);
    expect(own(upd?.after)).toEqual([['__proto__', 'k2'], ['constructor', 'c1'], ['v', 'b']]);
    expect(upd?.columns).toEqual(['__proto__', 'v']);
    expect(own(del?.key)).toEqual([['__proto__', 'k2']]);
  });
});
