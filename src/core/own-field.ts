/**
 * `obj[key] = value` for keys that come from outside (column names), which
 * may be `__proto__`: plain assignment of that key sets the object's
 * prototype (or is ignored for a string), so a column named `__proto__`
 * would vanish from a row, and from the audit trail with it. Defining the
 * property keeps it an ordinary own, enumerable field, which
 * `Object.keys`, `JSON.stringify`, spread and `JSON.parse` all treat as
 * one.
 */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}
