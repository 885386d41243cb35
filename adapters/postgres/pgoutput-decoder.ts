/**
 * Decodes pgoutput protocol messages (proto_version 1, text tuples) from the
 * payload of an XLogData frame.
 * https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
 *
 * Written here rather than taken from pg-logical-replication because its
 * parser loses what an audit trail must keep: tuple text goes through pg's
 * type parsers (timestamps lose microseconds, numerics become floats), xid
 * and OIDs are read as signed 32-bit, an unchanged TOAST value is replaced by
 * the old one or `undefined`, and binary values are views into pg-protocol's
 * reusable read buffer. Here: raw text, unsigned integers, an explicit marker
 * for `u`, and copied bytes (this function runs synchronously inside the
 * 'copyData' event, before pg-protocol reuses its buffer).
 */
import { DbwitnessError } from '../../src/core/errors.js';

export type TupleValue =
  | { readonly kind: 'null' }
  | { readonly kind: 'toast' }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'binary'; readonly data: Buffer };

export type Tuple = readonly TupleValue[];

export interface RelationColumn {
  /** Bit 1: part of the replica identity key (every column under REPLICA IDENTITY FULL). */
  readonly flags: number;
  readonly name: string;
  readonly typeOid: number;
  readonly typeMod: number;
}

export interface Relation {
  readonly id: number;
  readonly schema: string;
  readonly name: string;
  /** d default, n nothing, f full, i index */
  readonly replicaIdentity: string;
  readonly columns: readonly RelationColumn[];
}

export type PgoutputMessage =
  | { readonly tag: 'begin'; readonly finalLsn: bigint; readonly commitTime: bigint; readonly xid: number }
  | { readonly tag: 'commit'; readonly commitLsn: bigint; readonly endLsn: bigint; readonly commitTime: bigint }
  | { readonly tag: 'relation'; readonly relation: Relation }
  | { readonly tag: 'insert'; readonly relationId: number; readonly after: Tuple }
  | { readonly tag: 'update'; readonly relationId: number; readonly oldKind: 'K' | 'O' | null; readonly before: Tuple | null; readonly after: Tuple }
  | { readonly tag: 'delete'; readonly relationId: number; readonly oldKind: 'K' | 'O'; readonly before: Tuple }
  | { readonly tag: 'truncate'; readonly relationIds: readonly number[]; readonly cascade: boolean; readonly restartIdentity: boolean }
  | { readonly tag: 'message'; readonly transactional: boolean; readonly lsn: bigint; readonly prefix: string; readonly content: Buffer }
  | { readonly tag: 'ignored'; readonly what: 'origin' | 'type' };

const utf8 = new TextDecoder('utf-8');

class Reader {
  #p = 0;
  constructor(readonly buf: Buffer) {}
  u8(): number {
    this.#need(1);
    return this.buf.readUInt8(this.#p++);
  }
  u16(): number {
    this.#need(2);
    const v = this.buf.readUInt16BE(this.#p);
    this.#p += 2;
    return v;
  }
  u32(): number {
    this.#need(4);
    const v = this.buf.readUInt32BE(this.#p);
    this.#p += 4;
    return v;
  }
  i32(): number {
    this.#need(4);
    const v = this.buf.readInt32BE(this.#p);
    this.#p += 4;
    return v;
  }
  u64(): bigint {
    this.#need(8);
    const v = this.buf.readBigUInt64BE(this.#p);
    this.#p += 8;
    return v;
  }
  i64(): bigint {
    this.#need(8);
    const v = this.buf.readBigInt64BE(this.#p);
    this.#p += 8;
    return v;
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.#p);
    if (end < 0) throw protocolError('unterminated string');
    const s = utf8.decode(this.buf.subarray(this.#p, end));
    this.#p = end + 1;
    return s;
  }
  bytes(n: number): Buffer {
    this.#need(n);
    // Copy: the frame is a view into pg-protocol's reusable buffer.
    const b = Buffer.from(this.buf.subarray(this.#p, this.#p + n));
    this.#p += n;
    return b;
  }
  text(n: number): string {
    this.#need(n);
    const s = utf8.decode(this.buf.subarray(this.#p, this.#p + n));
    this.#p += n;
    return s;
  }
  #need(n: number): void {
    if (this.#p + n > this.buf.length) throw protocolError('message shorter than its fields');
  }
}

function protocolError(what: string): DbwitnessError {
  return new DbwitnessError('E_PG_PROTOCOL', `cannot decode a pgoutput message: ${what}`, 'check that the slot uses the pgoutput plugin and report this with the server version');
}

export function decodePgoutput(payload: Buffer): PgoutputMessage {
  const r = new Reader(payload);
  const tag = String.fromCharCode(r.u8());
  switch (tag) {
    case 'B':
      // Timestamps are signed microseconds since 2000-01-01 (TimestampTz).
      return { tag: 'begin', finalLsn: r.u64(), commitTime: r.i64(), xid: r.u32() };
    case 'C': {
      r.u8(); // flags, unused
      return { tag: 'commit', commitLsn: r.u64(), endLsn: r.u64(), commitTime: r.i64() };
    }
    case 'R':
      return { tag: 'relation', relation: readRelation(r) };
    case 'I': {
      const relationId = r.u32();
      expect(r.u8(), 'N');
      return { tag: 'insert', relationId, after: readTuple(r) };
    }
    case 'U': {
      const relationId = r.u32();
      let kind = String.fromCharCode(r.u8());
      let before: Tuple | null = null;
      let oldKind: 'K' | 'O' | null = null;
      if (kind === 'K' || kind === 'O') {
        oldKind = kind;
        before = readTuple(r);
        kind = String.fromCharCode(r.u8());
      }
      if (kind !== 'N') throw protocolError(`update without new tuple (${kind})`);
      return { tag: 'update', relationId, oldKind, before, after: readTuple(r) };
    }
    case 'D': {
      const relationId = r.u32();
      const kind = String.fromCharCode(r.u8());
      if (kind !== 'K' && kind !== 'O') throw protocolError(`delete with tuple kind ${kind}`);
      return { tag: 'delete', relationId, oldKind: kind, before: readTuple(r) };
    }
    case 'T': {
      const n = r.u32();
      const flags = r.u8();
      const relationIds: number[] = [];
      for (let i = 0; i < n; i++) relationIds.push(r.u32());
      return { tag: 'truncate', relationIds, cascade: (flags & 1) !== 0, restartIdentity: (flags & 2) !== 0 };
    }
    case 'M': {
      const flags = r.u8();
      const lsn = r.u64();
      const prefix = r.cstring();
      const len = r.u32();
      return { tag: 'message', transactional: (flags & 1) !== 0, lsn, prefix, content: r.bytes(len) };
    }
    case 'O':
      return { tag: 'ignored', what: 'origin' };
    case 'Y':
      return { tag: 'ignored', what: 'type' };
    default:
      // Stream/two-phase messages need options dbwitness never requests.
      throw protocolError(`unexpected message type '${tag}'`);
  }
}

function expect(byte: number, want: string): void {
  if (String.fromCharCode(byte) !== want) throw protocolError(`expected '${want}', got '${String.fromCharCode(byte)}'`);
}

function readRelation(r: Reader): Relation {
  const id = r.u32();
  const schema = r.cstring();
  const name = r.cstring();
  const replicaIdentity = String.fromCharCode(r.u8());
  const n = r.u16();
  const columns: RelationColumn[] = [];
  for (let i = 0; i < n; i++) {
    const flags = r.u8();
    const colName = r.cstring();
    const typeOid = r.u32();
    const typeMod = r.i32();
    columns.push({ flags, name: colName, typeOid, typeMod });
  }
  return { id, schema, name, replicaIdentity, columns };
}

function readTuple(r: Reader): Tuple {
  const n = r.u16();
  const values: TupleValue[] = [];
  for (let i = 0; i < n; i++) {
    const kind = String.fromCharCode(r.u8());
    switch (kind) {
      case 'n':
        values.push({ kind: 'null' });
        break;
      case 'u':
        values.push({ kind: 'toast' });
        break;
      case 't':
        values.push({ kind: 'text', text: r.text(r.u32()) });
        break;
      case 'b':
        values.push({ kind: 'binary', data: r.bytes(r.u32()) });
        break;
      default:
        throw protocolError(`unknown tuple value kind '${kind}'`);
    }
  }
  return values;
}
