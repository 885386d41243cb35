/**
 * Exact text for every binlog column value.
 *
 * zongji decodes row images into JS values; with the connection options
 * `dateStrings: true`, `timezone: 'Z'` and `jsonStrings: true` (set by
 * binlog-source.ts) most arrive exact already: DECIMAL as its full decimal
 * text, BIGINT as a Number inside +-2^53 and as exact text beyond it,
 * DATETIME(6)/TIMESTAMP(6)/TIME(6) as text with every fractional digit
 * (TIMESTAMP rendered in UTC), text columns decoded from their own charset.
 * What is fixed up here:
 * - numbers become strings (canonical JSON carries no floats);
 * - FLOAT arrives as the float32 widened to a double (0.1 ->
 *   0.10000000149011612): printed as the shortest decimal that reads back
 *   to the same float32. The server itself prints FLOAT with 6 significant
 *   digits, which is lossy, so this is deliberately not the server's text;
 * - DOUBLE: the shortest round-trip decimal (JS Number#toString);
 * - YEAR: zongji adds 1900 to the stored byte, so the zero year 0000
 *   (stored as 0) would read 1900, a value YEAR cannot hold;
 * - ENUM: the invalid-value index 0 (stored by non-strict sql_mode for a
 *   bad value) is the empty string, as the server shows it;
 * - BIT(n): a string of n binary digits, most significant first;
 * - BINARY/VARBINARY/BLOB and anything else zongji leaves as bytes: { base64 };
 * - GEOMETRY arrives as zongji's coordinate objects: JSON text of them.
 */
import type { ColumnValue, Row } from '../../src/core/event.js';
import { DbwitnessError } from '../../src/core/errors.js';
import { setOwn } from '../../src/core/own-field.js';
import { compareKeys } from '../../src/core/canonical.js';

/** Type codes of the binlog TABLE_MAP column types (include/mysql_com.h enum_field_types). */
export const T = {
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  LONGLONG: 8,
  INT24: 9,
  YEAR: 13,
  BIT: 16,
  ENUM: 247,
  SET: 248,
  GEOMETRY: 255,
} as const;

/** What row-values needs to know about a column (a subset of zongji's ColumnInfo). */
export interface ColumnInfo {
  readonly name: string;
  readonly type: number;
  readonly metadata?: { readonly bits?: number } | undefined;
}

export function float32Text(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(x.toPrecision(p));
    if (Math.fround(candidate) === x) return numberText(candidate);
  }
  return numberText(x);
}

/** JS shortest round-trip text, with the exponent written as the server writes it (1e21, not 1e+21). */
export function numberText(x: number): string {
  return String(x).replace('e+', 'e');
}

export function bitText(bytes: Buffer, bits: number): string {
  let s = '';
  for (const b of bytes) s += b.toString(2).padStart(8, '0');
  // The value is stored big-endian in ceil(bits/8) bytes; drop the padding bits.
  return s.slice(s.length - bits);
}

export function exactValue(value: unknown, column: ColumnInfo): ColumnValue {
  if (value === null) return null;
  if (value === undefined) {
    // zongji yields undefined for ENUM index 0 (the '' error value).
    if (column.type === T.ENUM) return '';
    return null;
  }
  if (Buffer.isBuffer(value)) {
    if (column.type === T.BIT) return bitText(value, column.metadata?.bits ?? value.length * 8);
    return { base64: value.toString('base64') };
  }
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      if (column.type === T.FLOAT) return float32Text(value);
      if (column.type === T.DOUBLE) return numberText(value);
      if (column.type === T.YEAR) return value === 1900 ? '0000' : String(value);
      return String(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? '1' : '0';
    case 'object':
      if (value instanceof Date) {
        // Only reachable if dateStrings were off: refuse rather than lose microseconds.
        throw new Error(`column ${column.name} decoded as a Date; the binlog connection must use dateStrings`);
      }
      return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    default:
      throw new Error(`column ${column.name}: cannot represent a ${typeof value} exactly`);
  }
}

/** Each table map's columns in canonical key order, computed once per table map. */
const sortedColumns = new WeakMap<readonly ColumnInfo[], readonly ColumnInfo[]>();

function inKeyOrder(columns: readonly ColumnInfo[]): readonly ColumnInfo[] {
  let sorted = sortedColumns.get(columns);
  if (sorted === undefined) {
    sorted = [...columns].sort((a, b) => compareKeys(a.name, b.name));
    sortedColumns.set(columns, sorted);
  }
  return sorted;
}

/**
 * The row with exact values, its keys in canonical order: the store then
 * serializes it natively (a flat object whose keys are already sorted is its
 * own canonical form). Column lists keep table order elsewhere.
 */
export function exactRow(raw: Record<string, unknown>, columns: readonly ColumnInfo[], logical?: ReadonlyMap<string, LogicalType>, table = 'an audited table'): Row {
  const out: Row = {};
  for (const c of inKeyOrder(columns)) {
    if (c.name === '__proto__' && !Object.hasOwn(raw, c.name)) {
      // The binlog decoder builds rows by assignment, which cannot hold a
      // column of this name: its value is gone before it reaches us. Never
      // invent one, never drop the column silently.
      throw new DbwitnessError(
        'E_MYSQL_COLUMN_NAME',
        `${table} has a column named __proto__, whose values the binlog row decoder cannot represent`,
        'rename the column (ALTER TABLE ... RENAME COLUMN `__proto__` TO ...), or remove the table from the audited set',
      );
    }
    const v = raw[c.name];
    const lt = logical?.get(c.name);
    setOwn(out, c.name, lt && Buffer.isBuffer(v) ? logicalText(v, lt) : exactValue(v, c));
  }
  return out;
}

/**
 * MariaDB's UUID, INET4 and INET6 ride in the binlog as plain BINARY
 * (the table map cannot say otherwise), so the declared type, read from
 * information_schema, picks their text form. The server strips trailing
 * zero bytes from fixed-width binary row images: values are re-padded.
 */
export type LogicalType = 'uuid' | 'inet4' | 'inet6';

export function logicalText(value: Buffer, type: LogicalType): string {
  const width = type === 'inet4' ? 4 : 16;
  const b = Buffer.alloc(width);
  value.copy(b, 0, 0, Math.min(width, value.length));
  if (type === 'uuid') {
    const h = b.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  if (type === 'inet4') return [...b].join('.');
  return inet6Text(b);
}

/** RFC 5952 text, with IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) in dotted form, as MariaDB prints them. */
export function inet6Text(b: Buffer): string {
  if (b.subarray(0, 10).every((x) => x === 0)) {
    const v4 = [...b.subarray(12)].join('.');
    if (b[10] === 0xff && b[11] === 0xff) return `::ffff:${v4}`;
    if (b[10] === 0 && b[11] === 0 && b.readUInt32BE(12) > 1) return `::${v4}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number): string => g.toString(16);
  if (bestStart < 0) return groups.map(hex).join(':');
  return `${groups.slice(0, bestStart).map(hex).join(':')}::${groups.slice(bestStart + bestLen).map(hex).join(':')}`;
}
