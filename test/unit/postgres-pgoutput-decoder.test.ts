/**
 * Byte-level pgoutput decoding with hand-built messages, for the cases a
 * server rarely produces on demand (xid and OIDs above 2^31, binary values,
 * unknown message types). The integration tests cover real streams.
 */
import { describe, expect, it } from 'vitest';
import { decodePgoutput } from '../../adapters/postgres/pgoutput-decoder.js';
import { PgoutputTranslator, pgTimeToIso } from '../../adapters/postgres/pgoutput-translator.js';

function msg(...parts: Array<string | number | bigint | Buffer | ['u8' | 'u16' | 'u32', number]>): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    if (Buffer.isBuffer(p)) out.push(p);
    else if (typeof p === 'string') out.push(Buffer.from(p, 'latin1'));
    else if (typeof p === 'bigint') {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(p);
      out.push(b);
    } else if (Array.isArray(p)) {
      const [kind, v] = p;
      const b = Buffer.alloc(kind === 'u8' ? 1 : kind === 'u16' ? 2 : 4);
      if (kind === 'u8') b.writeUInt8(v);
      else if (kind === 'u16') b.writeUInt16BE(v);
      else b.writeUInt32BE(v);
      out.push(b);
    } else throw new Error('use a tagged number');
  }
  return Buffer.concat(out);
}
const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
const text = (s: string): Buffer => Buffer.concat([Buffer.from('t'), msg(['u32', Buffer.byteLength(s)]), Buffer.from(s, 'utf8')]);

describe('pgoutput decoder', () => {
  it('reads xid and relation OIDs unsigned and commit times exactly', async () => {
    const begin = decodePgoutput(msg('B', 0x1_0000_0010n, 0n, ['u32', 0xfffffff0]));
    expect(begin).toMatchObject({ tag: 'begin', xid: 4294967280, finalLsn: 0x1_0000_0010n });
    const relation = decodePgoutput(
      msg('R', ['u32', 0x8000_0001], cstr('clinic'), cstr('patients'), 'f', ['u16', 2], ['u8', 1], cstr('id'), ['u32', 20], ['u32', 0xffffffff], ['u8', 1], cstr('photo'), ['u32', 17], ['u32', 0xffffffff]),
    );
    expect(relation).toMatchObject({ tag: 'relation', relation: { id: 0x8000_0001, schema: 'clinic', replicaIdentity: 'f', columns: [{ name: 'id', typeMod: -1 }, { name: 'photo' }] } });
    const t = new PgoutputTranslator(async () => ['id']);
    expect(await t.translate(begin)).toEqual([{ kind: 'begin', txId: '4294967280' }]);
    await t.translate(relation);
    const insert = decodePgoutput(msg('I', ['u32', 0x8000_0001], 'N', ['u16', 2], text('9223372036854775807'), 'b', ['u32', 3], Buffer.from([0, 255, 1])));
    const [change] = await t.translate(insert);
    expect(change).toEqual({
      kind: 'change',
      change: { action: 'insert', schema: 'clinic', table: 'patients', key: { id: '9223372036854775807' }, before: null, after: { id: '9223372036854775807', photo: { base64: 'AP8B' } }, columns: ['id', 'photo'], statement: null, detail: null },
    });
    // 2026-11-26T10:00:00.123456Z in microseconds since 2000-01-01.
    const micros = (Date.UTC(2026, 10, 26, 10) - Date.UTC(2000, 0, 1)) * 1000 + 123456;
    expect(pgTimeToIso(BigInt(micros))).toBe('2026-11-26T10:00:00.123456Z');
    const commit = decodePgoutput(msg('C', ['u8', 0], 0x1_0000_0010n, 0x1_0000_0040n, BigInt(micros)));
    expect(await t.translate(commit)).toEqual([{ kind: 'commit', position: '1/10', checkpoint: '00000001/00000040', commitTime: '2026-11-26T10:00:00.123456Z' }]);
  });

  it('turns invalid identity JSON into an alert and ignores foreign prefixes', async () => {
    const t = new PgoutputTranslator(async () => null);
    await t.translate(decodePgoutput(msg('B', 0x50n, 0n, ['u32', 7])));
    const bad = Buffer.from('{"v":1,"db_user":42}');
    const out = await t.translate(decodePgoutput(msg('M', ['u8', 1], 0x40n, cstr('dbwitness'), ['u32', bad.length], bad)));
    expect(out).toMatchObject([{ kind: 'alert', code: 'identity_invalid', position: '0/50' }]);
    const other = Buffer.from('hello');
    expect(await t.translate(decodePgoutput(msg('M', ['u8', 1], 0x40n, cstr('someone.else'), ['u32', other.length], other)))).toEqual([]);
  });

  it('refuses unknown message types with a clear error', () => {
    expect(() => decodePgoutput(msg('S', ['u32', 1]))).toThrow(/unexpected message type 'S'/);
    expect(() => decodePgoutput(msg('I', ['u32', 1]))).toThrow(/shorter/);
  });
});
