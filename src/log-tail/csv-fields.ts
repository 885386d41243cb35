/**
 * RFC 4180 field splitting, as PostgreSQL writes csvlog and pgaudit writes
 * its AUDIT payload: fields holding a comma, quote or newline are quoted and
 * inner quotes doubled. Returns null for malformed input (an unterminated
 * quote, text after a closing quote) instead of guessing.
 */
export function splitCsv(text: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) return null;
        value += text.slice(i, q);
        if (text[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === n) return fields;
      if (text[i] !== ',') return null;
      i++;
    } else {
      const c = text.indexOf(',', i);
      if (c < 0) {
        fields.push(text.slice(i));
        return fields;
      }
      fields.push(text.slice(i, c));
      i = c + 1;
    }
  }
}
