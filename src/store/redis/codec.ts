/**
 * Stored shape ↔ domain shape for the Redis engines: how each part's state is
 * laid out as hash fields, and how replies of the scripts are read back.
 *
 * Values are kept small (listpack-friendly) and readable by the Lua scripts
 * with cjson without its pitfalls: no empty arrays are ever written (cjson
 * cannot tell them from objects), no nulls, numbers are integers below 2^53,
 * and user JSON (cart attributes, preference values) is stored as the text
 * JSON.stringify made, which Lua never re-encodes.
 */
import type { CartLineState, CartState } from '../../domain/cart.js';
import type { DeviceState, DevicesState, RevokeReason } from '../../domain/devices.js';
import type { HistoryState } from '../../domain/history.js';
import type { Change, ChangeRecord, DataPart, PartName, PartStates } from '../../domain/parts.js';
import type { SessionSnapshot } from '../session-store.js';
import type { Json, PrefRegister, PrefsState } from '../../domain/prefs.js';
import type { SessionMeta } from '../../domain/session.js';
import type { Mutable } from '../../domain/mutable.js';
import { setOwn } from '../../domain/own.js';
import { EMPTY_VERSION } from '../../domain/versions.js';

/** A hash as HGETALL returns it: field, value, field, value… */
export type FieldList = readonly string[];

/** Calls `each` for every field and value. (A plain loop: this runs for every field of every read.) */
export function forEachField(flat: FieldList, each: (field: string, value: string) => void): void {
  for (let i = 0; i + 1 < flat.length; i += 2) each(flat[i]!, flat[i + 1]!);
}

function fieldMap(flat: FieldList): Map<string, string> {
  const map = new Map<string, string>();
  forEachField(flat, (field, value) => map.set(field, value));
  return map;
}

// Metadata ------------------------------------------------------------------

/** Metadata fields (the versions `dc dp dh dd` live in the same hash; see `lua/session.lua.ts`). */
export function encodeMeta(meta: SessionMeta): string[] {
  const flat = [
    'c', String(meta.createdAt),
    'l', String(meta.lastActiveAt),
    'i', String(meta.idleExpiresAt),
    'a', String(meta.absoluteExpiresAt),
    's', meta.csrfSecret,
  ];
  if (meta.userId !== null) flat.push('u', meta.userId);
  if (meta.endedAt !== undefined) flat.push('e', String(meta.endedAt));
  if (meta.erasedAt !== undefined) flat.push('x', String(meta.erasedAt));
  if (meta.mergedInto !== undefined) flat.push('r', meta.mergedInto);
  if (meta.t !== undefined) flat.push('t', meta.t);
  return flat;
}

/** The metadata hash: the session's metadata and the version of every part. */
export function decodeMeta(sessionId: string, flat: FieldList): { meta: SessionMeta; versions: Record<DataPart, string> } {
  const m = fieldMap(flat);
  return { meta: metaOf(sessionId, m), versions: versionsOf(m) };
}

function metaOf(sessionId: string, m: ReadonlyMap<string, string>): SessionMeta {
  const number = (field: string): number => {
    const value = Number(m.get(field));
    if (!Number.isFinite(value)) throw new TypeError(`stored session metadata lacks numeric field "${field}"`);
    return value;
  };
  const meta: Mutable<SessionMeta> = {
    id: sessionId,
    userId: m.get('u') ?? null,
    createdAt: number('c'),
    lastActiveAt: number('l'),
    idleExpiresAt: number('i'),
    absoluteExpiresAt: number('a'),
    csrfSecret: m.get('s') ?? '',
  };
  // Added, not spread in: every apply reply decodes its session's metadata.
  if (m.has('e')) meta.endedAt = number('e');
  if (m.has('x')) meta.erasedAt = number('x');
  const mergedInto = m.get('r');
  if (mergedInto !== undefined) meta.mergedInto = mergedInto;
  const t = m.get('t');
  if (t !== undefined) meta.t = t;
  return meta;
}

const VERSION_FIELDS: Readonly<Record<DataPart, string>> = { cart: 'dc', prefs: 'dp', history: 'dh', devices: 'dd' };

function versionsOf(m: ReadonlyMap<string, string>): Record<DataPart, string> {
  const version = (part: DataPart): string => m.get(VERSION_FIELDS[part]) ?? EMPTY_VERSION;
  return { cart: version('cart'), prefs: version('prefs'), history: version('history'), devices: version('devices') };
}

// Devices -------------------------------------------------------------------

/**
 * A device as stored: short keys; `r` (retired hashes) omitted when empty.
 * `av` authenticated at, `al` its level, `co` country at sign-in, `li` `lc`
 * address and country last seen, `ti` `ta` a transient device's idle timeout
 * and absolute deadline, `rf` why it was revoked.
 */
interface StoredDevice {
  c: number;
  l: number;
  g: number;
  h: string;
  t: string;
  p?: string;
  u?: number;
  r?: string[];
  x?: number;
  n?: string;
  k?: string;
  a?: string;
  i?: string;
  av?: number;
  al?: string;
  co?: string;
  li?: string;
  lc?: string;
  ti?: number;
  ta?: number;
  rf?: string;
}

export function encodeDevice(d: DeviceState): string {
  const stored: StoredDevice = { c: d.createdAt, l: d.lastActiveAt, g: d.gen, h: d.hash, t: d.t };
  if (d.prevHash !== undefined) stored.p = d.prevHash;
  if (d.graceUntil !== undefined) stored.u = d.graceUntil;
  if (d.retired.length > 0) stored.r = [...d.retired];
  if (d.revokedAt !== undefined) stored.x = d.revokedAt;
  if (d.name !== undefined) stored.n = d.name;
  if (d.kind !== undefined) stored.k = d.kind;
  if (d.userAgent !== undefined) stored.a = d.userAgent;
  if (d.ip !== undefined) stored.i = d.ip;
  if (d.authenticatedAt !== undefined) stored.av = d.authenticatedAt;
  if (d.authLevel !== undefined) stored.al = d.authLevel;
  if (d.country !== undefined) stored.co = d.country;
  if (d.lastIp !== undefined) stored.li = d.lastIp;
  if (d.lastCountry !== undefined) stored.lc = d.lastCountry;
  if (d.idleTimeoutMs !== undefined) stored.ti = d.idleTimeoutMs;
  if (d.absoluteExpiresAt !== undefined) stored.ta = d.absoluteExpiresAt;
  if (d.revokedFor !== undefined) stored.rf = d.revokedFor;
  return JSON.stringify(stored);
}

export function decodeDevice(text: string): DeviceState {
  const s = JSON.parse(text) as StoredDevice;
  // Optional fields are added, not spread in: every apply reply decodes its session's devices.
  const d: Mutable<DeviceState> = { createdAt: s.c, lastActiveAt: s.l, gen: s.g, hash: s.h, retired: Array.isArray(s.r) ? s.r : [], t: s.t };
  if (s.p !== undefined) d.prevHash = s.p;
  if (s.u !== undefined) d.graceUntil = s.u;
  if (s.x !== undefined) d.revokedAt = s.x;
  if (s.n !== undefined) d.name = s.n;
  if (s.k !== undefined) d.kind = s.k;
  if (s.a !== undefined) d.userAgent = s.a;
  if (s.i !== undefined) d.ip = s.i;
  if (s.av !== undefined) d.authenticatedAt = s.av;
  if (s.al !== undefined) d.authLevel = s.al;
  if (s.co !== undefined) d.country = s.co;
  if (s.li !== undefined) d.lastIp = s.li;
  if (s.lc !== undefined) d.lastCountry = s.lc;
  if (s.ti !== undefined) d.idleTimeoutMs = s.ti;
  if (s.ta !== undefined) d.absoluteExpiresAt = s.ta;
  if (s.rf !== undefined) d.revokedFor = s.rf as RevokeReason;
  return d;
}

// Cart ----------------------------------------------------------------------

/** A cart line as stored: counters per writer, first add, attributes as JSON text and their stamp. */
interface StoredLine {
  n: Record<string, [number, number]>;
  at: number;
  a?: string;
  t?: string;
}

export function encodeCartLine(line: CartLineState): string {
  const stored: StoredLine = { n: {}, at: line.at };
  for (const [writer, [added, removed]] of Object.entries(line.n)) stored.n[writer] = [added, removed];
  if (line.a !== undefined) {
    stored.a = JSON.stringify(line.a.v);
    stored.t = line.a.t;
  }
  return JSON.stringify(stored);
}

export function decodeCartLine(text: string): CartLineState {
  const s = JSON.parse(text) as StoredLine;
  // cjson writes an empty Lua table as {}; counters are always pairs.
  const n: Record<string, readonly [number, number]> = {};
  for (const [writer, counters] of Object.entries(s.n ?? {})) setOwn(n, writer, [counters[0], counters[1]] as const);
  if (s.a === undefined || s.t === undefined) return { n, at: s.at };
  return { n, at: s.at, a: { v: JSON.parse(s.a) as Record<string, unknown>, t: s.t } };
}

// Preferences -----------------------------------------------------------------

/** "<hlc> <JSON text>": an HLC never holds a space, so the first one splits. */
export function encodeRegister(register: PrefRegister): string {
  if (register.t.includes(' ')) throw new TypeError(`HLC stamp "${register.t}" must not contain a space`);
  return `${register.t} ${JSON.stringify(register.v)}`;
}

export function decodeRegister(text: string): PrefRegister {
  const space = text.indexOf(' ');
  return { t: text.slice(0, space), v: JSON.parse(text.slice(space + 1)) as Json };
}

// Parts -----------------------------------------------------------------------

export function decodeDevices(flat: FieldList): DevicesState {
  const devices: Record<string, DeviceState> = {};
  forEachField(flat, (id, text) => setOwn(devices, id, decodeDevice(text)));
  return { devices };
}

export function decodeCart(flat: FieldList): CartState {
  const lines: Record<string, CartLineState> = {};
  forEachField(flat, (sku, text) => setOwn(lines, sku, decodeCartLine(text)));
  return { lines };
}

export function decodePrefs(flat: FieldList): PrefsState {
  const keys: Record<string, PrefRegister> = {};
  forEachField(flat, (key, text) => setOwn(keys, key, decodeRegister(text)));
  return { keys };
}

export function decodeHistory(flat: FieldList): HistoryState {
  const items: Record<string, number> = {};
  forEachField(flat, (productId, viewedAt) => setOwn(items, productId, Number(viewedAt)));
  return { items };
}

/** The hash fields that carry a part's state (a whole state or a delta). */
export function encodePartFields<P extends PartName>(part: P, state: PartStates[P]): string[] {
  const flat: string[] = [];
  switch (part) {
    case 'meta':
      return encodeMeta(state as SessionMeta);
    case 'devices':
      for (const [id, d] of Object.entries((state as DevicesState).devices)) flat.push(id, encodeDevice(d));
      return flat;
    case 'cart':
      for (const [sku, line] of Object.entries((state as CartState).lines)) flat.push(sku, encodeCartLine(line));
      return flat;
    case 'prefs':
      for (const [key, register] of Object.entries((state as PrefsState).keys)) flat.push(key, encodeRegister(register));
      return flat;
    case 'history':
      for (const [productId, viewedAt] of Object.entries((state as HistoryState).items)) flat.push(productId, String(viewedAt));
      return flat;
    default:
      throw new TypeError(`unknown session part "${String(part)}"`);
  }
}

/** A change record as a script returned it: part and stored fields. */
export function decodeRecord(
  sessionId: string,
  part: PartName,
  flat: FieldList,
  stamp: { readonly hlc: string; readonly origin: string },
): ChangeRecord {
  const base = { sessionId, hlc: stamp.hlc, origin: stamp.origin };
  switch (part) {
    case 'meta':
      return { ...base, part, state: decodeMeta(sessionId, flat).meta };
    case 'devices':
      return { ...base, part, state: decodeDevices(flat) };
    case 'cart':
      return { ...base, part, state: decodeCart(flat) };
    case 'prefs':
      return { ...base, part, state: decodePrefs(flat) };
    case 'history':
      return { ...base, part, state: decodeHistory(flat) };
    default:
      throw new TypeError(`unknown session part "${String(part)}"`);
  }
}

/** A feed entry as the scripts write it (`lua/feed.lua.ts`): cjson of {s, h, o, r: [[part, fields]...]}. */
export function decodeFeedChange(text: string): Change {
  const raw = JSON.parse(text) as { s: string; h: string; o: string; r?: unknown };
  const stamp = { hlc: raw.h, origin: raw.o };
  // cjson writes an empty Lua table as {}: an empty list either way.
  const records = (Array.isArray(raw.r) ? (raw.r as unknown[]) : []).map((entry) => {
    const [part, flat] = entry as [PartName, unknown];
    return decodeRecord(raw.s, part, Array.isArray(flat) ? (flat as string[]) : [], stamp);
  });
  return { sessionId: raw.s, hlc: raw.h, origin: raw.o, records };
}

/** Everything stored of a session, from the snapshot script's reply lists. */
export function decodeSnapshot(
  sessionId: string,
  [meta, devices, cart, prefs, history]: readonly [FieldList, FieldList, FieldList, FieldList, FieldList],
): SessionSnapshot {
  return {
    ...decodeMeta(sessionId, meta),
    devices: decodeDevices(devices),
    cart: decodeCart(cart),
    prefs: decodePrefs(prefs),
    history: decodeHistory(history),
  };
}
