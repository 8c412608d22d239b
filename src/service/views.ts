/**
 * Public shapes of API v1, derived from stored states. What callers see never
 * exposes stored layouts (counters, stamps, token hashes).
 */
import { cartItems, type CartItem } from '../domain/cart.js';
import { deviceViews, type DeviceView } from '../domain/devices.js';
import { historyItems, type HistoryItem } from '../domain/history.js';
import type { DataPart } from '../domain/parts.js';
import { prefsObject, type JsonObject } from '../domain/prefs.js';
import { expiresAt } from '../domain/session.js';
import type { LoadedSession } from '../store/session-store.js';

export interface SessionInfo {
  readonly id: string;
  readonly userId: string | null;
  readonly deviceId: string;
  readonly createdAt: string;
  readonly lastActiveAt: string;
  readonly expiresAt: string;
}

export interface CartView {
  readonly items: CartItem[];
  readonly version: string;
}

export interface PrefsView {
  readonly prefs: JsonObject;
  readonly version: string;
}

export interface HistoryView {
  readonly items: HistoryItem[];
  readonly version: string;
}

export interface DevicesView {
  readonly devices: DeviceView[];
  readonly version: string;
}

export interface SessionParts {
  cart?: { items: CartItem[] };
  prefs?: JsonObject;
  history?: { items: HistoryItem[] };
  devices?: DeviceView[];
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Views of a part state, computed once per state object. The L1 cache hands out
 * the same state object until the part changes, so on a cache hit the view is
 * reused too. States are never mutated, so the memo cannot go stale.
 */
function memoized<S extends object, V>(compute: (state: S) => V): (state: S) => V {
  const memo = new WeakMap<S, V>();
  return (state) => {
    let view = memo.get(state);
    if (view === undefined) {
      view = compute(state);
      memo.set(state, view);
    }
    return view;
  };
}

const cartItemsOf = memoized(cartItems);
const prefsObjectOf = memoized(prefsObject);
const historyItemsOf = memoized(historyItems);

export function sessionInfo(session: LoadedSession, deviceId: string): SessionInfo {
  const { meta } = session;
  return {
    id: meta.id,
    userId: meta.userId,
    deviceId,
    createdAt: iso(meta.createdAt),
    lastActiveAt: iso(meta.lastActiveAt),
    expiresAt: iso(expiresAt(meta)),
  };
}

export function cartView(session: LoadedSession): CartView {
  return { items: session.cart ? cartItemsOf(session.cart) : [], version: session.versions.cart };
}

export function prefsView(session: LoadedSession): PrefsView {
  return { prefs: session.prefs ? prefsObjectOf(session.prefs) : {}, version: session.versions.prefs };
}

export function historyView(session: LoadedSession): HistoryView {
  return { items: session.history ? historyItemsOf(session.history) : [], version: session.versions.history };
}

export function devicesView(session: LoadedSession, currentDeviceId: string | null): DevicesView {
  return { devices: deviceViews(session.devices, currentDeviceId), version: session.versions.devices };
}

export function partsView(session: LoadedSession, parts: readonly DataPart[], deviceId: string): SessionParts {
  const out: SessionParts = {};
  if (parts.includes('cart')) out.cart = { items: cartView(session).items };
  if (parts.includes('prefs')) out.prefs = prefsView(session).prefs;
  if (parts.includes('history')) out.history = { items: historyView(session).items };
  if (parts.includes('devices')) out.devices = devicesView(session, deviceId).devices;
  return out;
}
