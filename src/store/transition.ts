/**
 * The engine-independent rules of a store: who may change a session, the
 * version check, the operation and the join. The embedded engine runs these
 * functions inside a transaction; the Redis engines run their Lua twin, and the
 * conformance suite holds both to the same behaviour.
 */
import { isLive } from '../domain/devices.js';
import { applyOperation, partOf, type Operation } from '../domain/operations.js';
import { DATA_PARTS, mergePart, type ChangeRecord, type DataPart, type PartName, type PartStates } from '../domain/parts.js';
import { isSessionLive, type SessionMeta } from '../domain/session.js';
import { isAccepted, matchToken } from '../tokens/token-match.js';
import type { ApplyOptions, ApplyResult, Caller, LoadedSession, StoreSettings } from './session-store.js';

export interface StoredSession extends PartStates {
  readonly versions: Readonly<Record<DataPart, number>>;
}

export const INITIAL_VERSIONS: Readonly<Record<DataPart, number>> = { cart: 0, prefs: 0, history: 0, devices: 0 };

export function formatVersion(version: number): string {
  return `v${version}`;
}

export function loadedView(stored: StoredSession, parts: readonly DataPart[]): LoadedSession {
  const versions = Object.fromEntries(DATA_PARTS.map((p) => [p, formatVersion(stored.versions[p])])) as Record<DataPart, string>;
  const view: { -readonly [K in keyof LoadedSession]: LoadedSession[K] } = { meta: stored.meta, devices: stored.devices, versions };
  if (parts.includes('cart')) view.cart = stored.cart;
  if (parts.includes('prefs')) view.prefs = stored.prefs;
  if (parts.includes('history')) view.history = stored.history;
  return view;
}

/** Activity moves the idle deadline, never past the absolute one. */
export function slide(meta: SessionMeta, now: number, idleTimeoutMs: number): SessionMeta {
  return {
    ...meta,
    lastActiveAt: Math.max(meta.lastActiveAt, now),
    idleExpiresAt: Math.max(meta.idleExpiresAt, Math.min(now + idleTimeoutMs, meta.absoluteExpiresAt)),
  };
}

export function isAuthorized(caller: Caller, stored: StoredSession, now: number): boolean {
  if (caller.kind === 'admin') return true;
  const device = Object.hasOwn(stored.devices.devices, caller.deviceId) ? stored.devices.devices[caller.deviceId] : undefined;
  return isLive(device) && isAccepted(matchToken(device, caller.tokenHash, now));
}

/** Joins records into a stored session; returns it and the data parts whose state changed. */
export function joinRecords(
  stored: StoredSession,
  records: readonly ChangeRecord[],
  settings: StoreSettings,
): { next: StoredSession; changed: ReadonlySet<PartName> } {
  let next: StoredSession = stored;
  const changed = new Set<PartName>();
  for (const record of records) {
    const merged = mergePart(record.part, next[record.part], record.state, settings.limits.historyItems);
    next = { ...next, [record.part]: merged };
    changed.add(record.part);
  }
  return { next, changed };
}

/**
 * The reference `merge`: joins records into a stored session. A data part's
 * version moves only when its state changed, and an ended session takes
 * metadata only (its data is gone for good).
 */
export function mergeIntoStored(stored: StoredSession, records: readonly ChangeRecord[], settings: StoreSettings): StoredSession {
  const accepted = stored.meta.endedAt === undefined ? records : records.filter((r) => r.part === 'meta');
  const { next } = joinRecords(stored, accepted, settings);
  const versions = { ...next.versions };
  for (const part of DATA_PARTS) {
    if (stableJson(stored[part]) !== stableJson(next[part])) versions[part] += 1;
  }
  return { ...next, versions };
}

/** JSON with object keys sorted, so equal states compare equal whatever their key order. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

export type Transition =
  | { readonly result: Exclude<ApplyResult, { status: 'applied' }> }
  | { readonly result: Extract<ApplyResult, { status: 'applied' }>; readonly next: StoredSession; readonly part: DataPart };

/** The outcome of an operation on a stored session (null: no such session). */
export function transition(
  stored: StoredSession | null,
  caller: Caller,
  op: Operation,
  options: ApplyOptions,
  settings: StoreSettings,
): Transition {
  const { now } = options;
  if (stored === null || !isSessionLive(stored.meta, now)) return { result: { status: 'not-found' } };
  if (!isAuthorized(caller, stored, now)) return { result: { status: 'unauthorized' } };
  const part = partOf(op);
  const version = formatVersion(stored.versions[part]);
  if (options.ifVersion !== undefined && options.ifVersion !== version) {
    return { result: { status: 'version-mismatch', version } };
  }
  const outcome = applyOperation(stored, op, {
    sessionId: stored.meta.id,
    now,
    hlc: options.hlc,
    origin: settings.origin,
    limits: settings.limits,
  });
  if (!outcome.ok) return { result: { status: 'rejected', code: outcome.code, detail: outcome.detail } };
  const { next: joined } = joinRecords(stored, outcome.records, settings);
  const next: StoredSession = {
    ...joined,
    meta: slide(joined.meta, now, settings.idleTimeoutMs),
    versions: { ...joined.versions, [part]: joined.versions[part] + 1 },
  };
  return {
    result: { status: 'applied', session: appliedView(next, part, caller), records: outcome.records },
    next,
    part,
  };
}

/** What an applied operation answers with: its part, and the devices it touched or the caller's alone. */
function appliedView(next: StoredSession, part: DataPart, caller: Caller): LoadedSession {
  const view = loadedView(next, [part]);
  if (part === 'devices' || caller.kind === 'admin') return view;
  const own = next.devices.devices[caller.deviceId];
  return { ...view, devices: { devices: own ? { [caller.deviceId]: own } : {} } };
}
