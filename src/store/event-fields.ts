/**
 * Canonical serializers for the fixed-shape parts of an AuditEvent
 * (actor, source, tx, object, changes): their keys are known, so they are
 * written in sorted order directly instead of listing and sorting keys. A
 * value that does not have exactly the expected keys goes through the
 * generic serializer, so the output is always core canonicalJson's.
 * Equality with canonicalJson is tested in store-fast-canonical.test.ts.
 */
import { fastCanonicalJson } from './fast-canonical.js';

type Obj = Record<string, unknown>;

function str(v: unknown): string | null {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  return null;
}

function hasExactly(o: unknown, n: number): o is Obj {
  return typeof o === 'object' && o !== null && !Array.isArray(o) && Object.keys(o).length === n;
}

function actor(a: unknown): string | null {
  if (!hasExactly(a, 8)) return null;
  const port = a['client_port'];
  const p = port === null ? 'null' : typeof port === 'number' && Number.isSafeInteger(port) ? String(port) : null;
  const parts = [str(a['app_user']), str(a['application']), str(a['client_addr']), p, str(a['db_user']), str(a['identity']), str(a['role']), str(a['session_id'])];
  if (parts.includes(null) || a['identity'] === null || a['identity'] === undefined) return null;
  return `{"app_user":${parts[0]},"application":${parts[1]},"client_addr":${parts[2]},"client_port":${parts[3]},"db_user":${parts[4]},"identity":${parts[5]},"role":${parts[6]},"session_id":${parts[7]}}`;
}

function source(s: unknown): string | null {
  if (!hasExactly(s, 4)) return null;
  const d = str(s['database']);
  const e = str(s['engine']);
  const i = str(s['id']);
  const v = str(s['server']);
  if (d === null || e === null || i === null || v === null) return null;
  return `{"database":${d},"engine":${e},"id":${i},"server":${v}}`;
}

function tx(t: unknown): string | null {
  if (t === null) return 'null';
  if (!hasExactly(t, 3)) return null;
  const c = t['count'];
  const x = t['index'];
  const i = str(t['id']);
  if (i === null || typeof c !== 'number' || !Number.isSafeInteger(c) || typeof x !== 'number' || !Number.isSafeInteger(x)) return null;
  return `{"count":${c},"id":${i},"index":${x}}`;
}

function object(o: unknown): string | null {
  if (o === null) return 'null';
  if (!hasExactly(o, 3) || o['key'] === undefined) return null;
  const s = str(o['schema']);
  const t = str(o['table']);
  if (s === null || t === null) return null;
  return `{"key":${fastCanonicalJson(o['key'])},"schema":${s},"table":${t}}`;
}

function changes(c: unknown): string | null {
  if (c === null) return 'null';
  if (!hasExactly(c, 3) || c['after'] === undefined || c['before'] === undefined || c['columns'] === undefined) return null;
  return `{"after":${fastCanonicalJson(c['after'])},"before":${fastCanonicalJson(c['before'])},"columns":${fastCanonicalJson(c['columns'])}}`;
}

/**
 * Serialized form of frozen objects. Every event of a source shares one
 * `source` object and every change of a transaction one `actor`; producers
 * freeze them, and a frozen object of primitives cannot change, so its
 * canonical form can be computed once. Unfrozen objects are serialized
 * every time, so a producer that mutates its objects stays correct.
 */
const frozenJson = new WeakMap<object, string>();

function onceIfFrozen(serialize: (v: unknown) => string | null): (v: unknown) => string | null {
  return (v) => {
    if (typeof v !== 'object' || v === null || !Object.isFrozen(v)) return serialize(v);
    let s = frozenJson.get(v);
    if (s === undefined) {
      const fresh = serialize(v);
      if (fresh === null) return null;
      frozenJson.set(v, fresh);
      s = fresh;
    }
    return s;
  };
}

const SPECIAL: Record<string, (v: unknown) => string | null> = { actor: onceIfFrozen(actor), source: onceIfFrozen(source), tx, object, changes };

/** canonicalJson of the value of top-level event field `key`. */
export function fieldJson(key: string, value: unknown): string {
  const special = SPECIAL[key];
  if (special !== undefined) {
    const s = special(value);
    if (s !== null) return s;
  }
  return fastCanonicalJson(value);
}
