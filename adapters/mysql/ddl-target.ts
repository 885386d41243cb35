/**
 * The object a statement-logged query acts on, for the `object` of DDL and
 * TRUNCATE events. TRUNCATE matters most: the server logs it as a statement
 * (a Query event), never as row deletes, so without this it would look
 * like schema DDL instead of the removal of every row.
 */
const IDENT = '(?:`(?:[^`]|``)+`|[A-Za-z0-9_$]+)';
const QUALIFIED = new RegExp(`^(${IDENT})(?:\\s*\\.\\s*(${IDENT}))?`);
const HEAD = /^\s*(?:\/\*.*?\*\/\s*)*(CREATE|ALTER|DROP|TRUNCATE|RENAME|OPTIMIZE|REPAIR|ANALYZE)\s+(?:OR\s+REPLACE\s+)?(?:(?:TEMPORARY|ONLINE|IGNORE|DEFINER\s*=\s*\S+)\s+)*(TABLE|TRIGGER|INDEX\s+\S+\s+ON|VIEW|PROCEDURE|FUNCTION|DATABASE|SCHEMA)?\s*(?:IF\s+(?:NOT\s+)?EXISTS\s+)?/is;

function unquote(s: string): string {
  return s.startsWith('`') ? s.slice(1, -1).replace(/``/g, '`') : s;
}

export interface DdlTarget {
  readonly truncate: boolean;
  readonly schema: string | null;
  readonly table: string | null;
}

/** `defaultSchema` is the session's current database when the statement ran. */
export function ddlTarget(query: string, defaultSchema: string): DdlTarget {
  const head = HEAD.exec(query);
  const none: DdlTarget = { truncate: false, schema: defaultSchema || null, table: null };
  if (!head) return none;
  const verb = head[1]!.toUpperCase();
  const kind = (head[2] ?? (verb === 'TRUNCATE' ? 'TABLE' : '')).toUpperCase();
  const rest = query.slice(head[0].length);
  const m = QUALIFIED.exec(rest);
  if (!m) return { ...none, truncate: verb === 'TRUNCATE' };
  if (kind === 'DATABASE' || kind === 'SCHEMA') return { truncate: false, schema: unquote(m[1]!), table: null };
  const [schema, name] = m[2] !== undefined ? [unquote(m[1]!), unquote(m[2])] : [defaultSchema || null, unquote(m[1]!)];
  // For a trigger the name is the trigger's; its table follows ON.
  if (kind === 'TRIGGER') {
    const on = new RegExp(`\\bON\\s+(${IDENT})(?:\\s*\\.\\s*(${IDENT}))?`, 'i').exec(rest);
    if (on) return on[2] !== undefined ? { truncate: false, schema: unquote(on[1]!), table: unquote(on[2]) } : { truncate: false, schema, table: unquote(on[1]!) };
    return { truncate: false, schema, table: null };
  }
  if (kind.startsWith('INDEX')) {
    const on = new RegExp(`\\bON\\s+(${IDENT})(?:\\s*\\.\\s*(${IDENT}))?`, 'i').exec(head[0]);
    if (on) return on[2] !== undefined ? { truncate: false, schema: unquote(on[1]!), table: unquote(on[2]) } : { truncate: false, schema: defaultSchema || null, table: unquote(on[1]!) };
  }
  return { truncate: verb === 'TRUNCATE', schema, table: name };
}
