/**
 * Ids (SKUs, product ids, preference keys, device ids, writers) are caller
 * data, so a record keyed by them must not see Object.prototype: `lines['constructor']`
 * would find a function, and assigning `items['__proto__']` would replace the
 * object's prototype instead of storing an entry. Read with `ownValue`; write
 * with `setOwn`, which defines own properties. (`Object.entries` and
 * `Object.fromEntries` are safe too, but cost 10–25 µs for a hundred entries:
 * hot paths loop over `Object.keys` and write with `setOwn`.)
 */
export function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** `record[key] = value` as an own data property, even for `__proto__`. */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  // Only `__proto__` is an accessor on Object.prototype; every other key assigns as data.
  if (key === '__proto__') Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
  else record[key] = value;
}

/**
 * An empty object in V8's dictionary mode (a hash table, not a hidden class).
 * A record keyed by caller data gets a hidden class of its own per
 * combination of keys, and copying a large one by spread or key by key into
 * `{}` builds those classes again at every write; a dictionary takes the keys
 * without any. Deleting a property that is not the last one added is what
 * switches V8 to dictionary mode.
 */
export function dictionary<T>(): Record<string, T> {
  const record: Record<string, unknown> = { first: 0, second: 0 };
  delete record.first;
  delete record.second;
  return record as Record<string, T>;
}
