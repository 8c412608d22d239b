/**
 * Key layout of the Redis engines.
 *
 * A session is five small hashes that share the hash tag `{sessionId}`, so
 * they live in one cluster slot and one Lua script reads or changes them
 * atomically:
 *
 *   <prefix>{<sessionId>}:m   metadata and the version of every part
 *   <prefix>{<sessionId>}:d   devices, one field per device
 *   <prefix>{<sessionId>}:c   cart, one field per SKU
 *   <prefix>{<sessionId>}:p   preferences, one field per top-level key
 *   <prefix>{<sessionId>}:h   history, one field per product
 *
 * The user index `<prefix>u:{<userId>}` (a string holding the session id)
 * lives in the user's own slot; it carries the same deadline as the keys of
 * the session it names.
 */

/** The keys of one session, in the order every session script takes them. */
export type SessionKeys = readonly [meta: string, devices: string, cart: string, prefs: string, history: string];

export interface KeyLayout {
  session(sessionId: string): SessionKeys;
  user(userId: string): string;
}

export function keyLayout(prefix: string): KeyLayout {
  return {
    session(sessionId) {
      const base = `${prefix}{${sessionId}}:`;
      return [`${base}m`, `${base}d`, `${base}c`, `${base}p`, `${base}h`];
    },
    user(userId) {
      return `${prefix}u:{${userId}}`;
    },
  };
}
