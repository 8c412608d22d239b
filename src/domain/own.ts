/**
 * Ids (SKUs, product ids, preference keys, device ids, writers) are caller
 * data, so a record keyed by them must not see Object.prototype: `lines['constructor']`
 * would find a function, and assigning `items['__proto__']` would replace the
 * object's prototype instead of storing an entry. Read with `ownValue`; build
 * records with a `Map` and `Object.fromEntries`, which defines own properties.
 */
export function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
