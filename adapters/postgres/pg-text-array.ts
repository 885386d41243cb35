/**
 * Reads the text form of a one-dimensional PostgreSQL text[] as array_out
 * writes it: `{a,"b c",NULL,"NULL","x\"y"}`. An element is quoted when it
 * is empty, contains a delimiter, brace, quote, backslash or white space, or
 * spells NULL in any case; inside quotes `\` escapes the next character.
 * An unquoted NULL is a null element. Anything else (dimension decorations,
 * nesting, stray characters) is rejected: the caller treats the message as
 * untrusted.
 */

const WHITE = new Set([' ', '\t', '\n', '\r', '\v', '\f']);

export function parsePgTextArray(text: string): Array<string | null> | null {
  const n = text.length;
  if (n < 2 || text[0] !== '{' || text[n - 1] !== '}') return null;
  const out: Array<string | null> = [];
  if (n === 2) return out;
  let i = 1;
  for (;;) {
    if (text[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= n - 1) return null;
        const c = text[i] as string;
        if (c === '"') break;
        if (c === '\\') {
          i++;
          if (i >= n - 1) return null;
        }
        v += text[i];
        i++;
      }
      out.push(v);
      i++;
    } else {
      const start = i;
      while (i < n - 1 && text[i] !== ',') {
        const c = text[i] as string;
        // array_out would have quoted any of these.
        if (c === '"' || c === '\\' || c === '{' || c === '}' || WHITE.has(c)) return null;
        i++;
      }
      const v = text.slice(start, i);
      if (v === '') return null;
      if (v.toUpperCase() === 'NULL') {
        // array_out quotes the string "null" in any case, so unquoted it is only ever the null element.
        if (v !== 'NULL') return null;
        out.push(null);
      } else out.push(v);
    }
    if (i === n - 1) return out;
    if (text[i] !== ',') return null;
    i++;
  }
}
