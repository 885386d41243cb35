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

export function exactRow(raw: Record<string, unknown>, columns: readonly ColumnInfo[]): Row {
  const out: Row = {};
  for (const c of columns) out[c.name] = exactValue(raw[c.name], c);
  return out;
}
