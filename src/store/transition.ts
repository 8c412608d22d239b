/**
 * The engine-independent rules of a store: who may change a session, the
 * version check, the operation, activity, the join of change records, parking
 * and tombstones. The embedded engine runs these functions inside a
 * transaction; the Redis engines run their Lua twin (`redis/lua/`), and the
 * conformance suite holds both to the same behaviour, answer for answer.
 */
import { rebaseCart } from '../domain/cart.js';
import { activeDevice, deviceAuth, isLive, type DeviceAuth, type Seen } from '../domain/devices.js';
import { maxHlc, stampAbove, type Hlc } from '../domain/hlc.js';
import { applyOperation, partOf, type Operation } from '../domain/operations.js';
import { ownValue } from '../domain/own.js';
import type { Mutable } from '../domain/mutable.js';
import { DATA_PARTS, EMPTY_PARTS, mergePart, type ChangeRecord, type DataPart, type PartName, type PartStates } from '../domain/parts.js';
import { forgetAt, isSessionLive, mergeMeta, type SessionMeta } from '../domain/session.js';
import { EMPTY_VERSION, nextVersion, partVersion } from '../domain/versions.js';
import { isAccepted, matchToken, type TokenMatch } from '../tokens/token-match.js';
import type { ApplyOptions, ApplyResult, Caller, Credential, LoadedSession, MergeReport, SessionSnapshot, StoreSettings } from './session-store.js';

export type StoredSession = SessionSnapshot;

export const EMPTY_VERSIONS: Readonly<Record<DataPart, string>> = { cart: EMPTY_VERSION, prefs: EMPTY_VERSION, history: EMPTY_VERSION, devices: EMPTY_VERSION };

/** A session as first stored: its metadata and first device, every other part empty. */
export function newStoredSession(meta: SessionMeta, deviceId: string, device: PartStates['devices']['devices'][string]): StoredSession {
  const devices = { devices: { [deviceId]: device } };
  return { meta: { ...meta, t: maxHlc(meta.t, device.t) }, ...EMPTY_PARTS, devices, versions: { ...EMPTY_VERSIONS, devices: partVersion('devices', devices) } };
}

export function loadedView(stored: StoredSession, parts: readonly DataPart[]): LoadedSession {
  const view: Mutable<LoadedSession> = { meta: stored.meta, devices: stored.devices, versions: stored.versions };
  if (parts.includes('cart')) view.cart = stored.cart;
  if (parts.includes('prefs')) view.prefs = stored.prefs;
  if (parts.includes('history')) view.history = stored.history;
  return view;
}

/** The verdict on a presented token, and when its device was last recorded active. */
export function checkCredential(
  stored: StoredSession,
  credential: Credential,
  now: number,
  settings: StoreSettings,
): { credential: TokenMatch; credentialActiveAt?: number; credentialAuth?: DeviceAuth } {
  const device = ownValue(stored.devices.devices, credential.deviceId);
  const verdict = matchToken(device, credential, { now, idleTimeoutMs: settings.idleTimeoutMs });
  if (device === undefined) return { credential: verdict };
  return { credential: verdict, credentialActiveAt: device.lastActiveAt, credentialAuth: deviceAuth(device) };
}

function verdictOf(caller: Extract<Caller, { kind: 'device' }>, stored: StoredSession, now: number, settings: StoreSettings): TokenMatch {
  const credential: Credential = caller.gen === undefined ? { deviceId: caller.deviceId, hash: caller.tokenHash } : { deviceId: caller.deviceId, hash: caller.tokenHash, gen: caller.gen };
  return checkCredential(stored, credential, now, settings).credential;
}

export function isAuthorized(caller: Caller, stored: StoredSession, now: number, settings: StoreSettings): boolean {
  return caller.kind === 'admin' || isAccepted(verdictOf(caller, stored, now, settings));
}

/** Activity moves the idle deadline, never past the absolute one. */
export function slide(meta: SessionMeta, now: number, idleTimeoutMs: number): SessionMeta {
  return {
    ...meta,
    lastActiveAt: Math.max(meta.lastActiveAt, now),
    idleExpiresAt: Math.max(meta.idleExpiresAt, Math.min(now + idleTimeoutMs, meta.absoluteExpiresAt)),
  };
}

/** The versions after `next` replaced `stored`'s parts: recomputed only for parts whose state object changed. */
function versionsAfter(stored: StoredSession, next: PartStates): Record<DataPart, string> {
  const versions = { ...stored.versions };
  for (const part of DATA_PARTS) {
    if (next[part] !== stored[part]) versions[part] = nextVersion(part, stored.versions[part], stored[part] as never, next[part] as never);
  }
  return versions;
}

/** Joins records into a session's states; the session's stamp takes the largest of theirs. */
function joinInto(stored: StoredSession, records: readonly ChangeRecord[], settings: StoreSettings): StoredSession {
  let parts: PartStates = stored;
  let t = stored.meta.t;
  for (const record of records) {
    parts = { ...parts, [record.part]: mergePart(record.part, parts[record.part], record.state, settings.limits.historyItems) };
    t = maxHlc(t, record.hlc);
  }
  const meta = t === undefined ? parts.meta : { ...parts.meta, t };
  return settle(stored, { ...parts, meta });
}

/** Versions for the new parts; an ended session keeps its metadata alone, its parts empty for good. */
function settle(stored: StoredSession, next: PartStates): StoredSession {
  const parts = next.meta.endedAt === undefined ? next : { ...next, ...EMPTY_PARTS };
  return { ...parts, versions: next.meta.endedAt === undefined ? versionsAfter(stored, parts) : EMPTY_VERSIONS };
}

/**
 * A device's activity at `now`, when it is material: `slideAfterMs` has
 * passed since the device was last recorded active (or since the session was,
 * for a device just added). Returns the session with the deadline slid and
 * the device's `lastActiveAt` moved (and where it was seen, with `seen`), and
 * the activity records to emit.
 */
export function recordActivity(
  stored: StoredSession,
  deviceId: string,
  now: number,
  settings: StoreSettings,
  stamp: { readonly hlc: Hlc; readonly origin: string },
  seen?: Seen,
): { next: StoredSession; records: ChangeRecord[] } | null {
  const device = ownValue(stored.devices.devices, deviceId);
  if (device === undefined || !isLive(device)) return null;
  const deviceDue = now - device.lastActiveAt >= settings.slideAfterMs;
  if (!deviceDue && now - stored.meta.lastActiveAt < settings.slideAfterMs) return null;
  // The activity record carries the stamp, so the session's largest stamp moves with it.
  const meta = slide({ ...stored.meta, t: maxHlc(stored.meta.t, stamp.hlc)! }, now, settings.idleTimeoutMs);
  const base = { sessionId: stored.meta.id, hlc: stamp.hlc, origin: stamp.origin };
  const records: ChangeRecord[] = [{ ...base, part: 'meta', state: meta }];
  let devices = stored.devices;
  if (deviceDue) {
    const active = activeDevice(device, now, seen);
    devices = { devices: { ...stored.devices.devices, [deviceId]: active } };
    records.push({ ...base, part: 'devices', state: { devices: { [deviceId]: active } } });
  }
  // lastActiveAt is not part of a device's version: the devices version stays.
  return { next: { ...stored, meta, devices }, records };
}

/** What `touch` does: the activity of a live session's device, or nothing. */
export function touchTransition(
  stored: StoredSession | null,
  deviceId: string,
  now: number,
  hlc: Hlc,
  settings: StoreSettings,
  seen?: Seen,
): { next: StoredSession; records: ChangeRecord[] } | null {
  if (stored === null || !isSessionLive(stored.meta, now)) return null;
  const stamp = stampAbove(hlc, stored.meta.t);
  return recordActivity(stored, deviceId, now, settings, { hlc: stamp, origin: settings.origin }, seen);
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
  if (!isAuthorized(caller, stored, now, settings)) return { result: { status: 'unauthorized' } };
  if (op.kind === 'device.rotate' && caller.kind === 'device' && verdictOf(caller, stored, now, settings) === 'grace') {
    // Two rotations of one device at once: the first won; the one still holding the token it replaced does not rotate again.
    return { result: { status: 'rejected', code: 'conflict', detail: 'the token was rotated by a concurrent request; use the token it returned' } };
  }
  const part = partOf(op);
  const version = stored.versions[part];
  if (options.ifVersion !== undefined && options.ifVersion !== version) {
    return { result: { status: 'version-mismatch', version } };
  }
  const hlc = stampAbove(options.hlc, stored.meta.t);
  const stamp = { hlc, origin: settings.origin };
  const outcome = applyOperation(stored, op, { sessionId: stored.meta.id, now, hlc, origin: settings.origin, limits: settings.limits });
  if (!outcome.ok) return { result: { status: 'rejected', code: outcome.code, detail: outcome.detail } };
  let next = joinInto(stored, outcome.records, settings);
  const records = [...outcome.records];
  // The device that acted: the caller, or the device signing in.
  const actor = caller.kind === 'device' ? caller.deviceId : op.kind === 'device.add' ? op.deviceId : null;
  const activity = actor === null || next.meta.endedAt !== undefined ? null : recordActivity(next, actor, now, settings, stamp, options.seen);
  if (activity !== null) {
    next = activity.next;
    records.push(...activity.records);
  }
  return {
    result: { status: 'applied', session: appliedView(next, part, caller), records, hlc },
    next,
    part,
  };
}

/** What an applied operation answers with: its part, and the devices it touched or the caller's alone. */
function appliedView(next: StoredSession, part: DataPart, caller: Caller): LoadedSession {
  const view = loadedView(next, [part]);
  if (part === 'devices' || caller.kind === 'admin') return view;
  const own = ownValue(next.devices.devices, caller.deviceId);
  return { ...view, devices: { devices: own ? { [caller.deviceId]: own } : {} } };
}

export type MergeOutcome =
  /** Nothing stored and no metadata among the records: keep them aside. */
  | { readonly kind: 'park' }
  /** Nothing stored, and the metadata is past forgetting: drop the records. */
  | { readonly kind: 'drop' }
  /** The session was merged into another: join the records there, rebased (`redirectRecords`). */
  | { readonly kind: 'redirect'; readonly into: string }
  | { readonly kind: 'store'; readonly next: StoredSession; readonly report: MergeReport };

/**
 * The reference `merge` of one session's records (parked ones included once
 * the metadata is there). Order-free: metadata joins first, and an ended
 * session's parts are empty whatever arrived before or after the end.
 */
export function mergeTransition(
  stored: StoredSession | null,
  records: readonly ChangeRecord[],
  now: number,
  settings: StoreSettings,
): MergeOutcome {
  const sessionId = records[0]?.sessionId ?? stored?.meta.id ?? '';
  let base = stored;
  let created = false;
  if (base === null) {
    const metas = records.filter((r): r is Extract<ChangeRecord, { part: 'meta' }> => r.part === 'meta').map((r) => r.state);
    if (metas.length === 0) return { kind: 'park' };
    const meta = metas.reduce(mergeMeta);
    if (forgetAt(meta, settings.horizonMs) <= now) return { kind: 'drop' };
    base = { meta, ...EMPTY_PARTS, versions: EMPTY_VERSIONS };
    created = true;
  }
  // A session first stored already merged away (a repair, an import) is kept as the redirect it is,
  // its records joined into it as the Redis engines do; only later records go on to the winner.
  if (!created && base.meta.mergedInto !== undefined) return { kind: 'redirect', into: base.meta.mergedInto };
  const ordered = [...records.filter((r) => r.part === 'meta'), ...records.filter((r) => r.part !== 'meta')];
  const next = joinInto(base, ordered, settings);
  const changed = DATA_PARTS.filter((p) => next.versions[p] !== base.versions[p]);
  const ignored = !created && stored!.meta.endedAt !== undefined;
  const outcome: MergeReport['outcome'] = created ? 'created' : ignored ? 'ignored' : 'merged';
  return { kind: 'store', next, report: { sessionId, outcome, changed } };
}

/**
 * Records of a session merged into another (`mergedInto`), made records of
 * that one: the cart's writers scoped to the merged-away session, so that its
 * quantities add to the winner's rather than meet them in a maximum (as a
 * guest cart at sign-in); metadata left out — the winner keeps its own.
 */
export function redirectRecords(records: readonly ChangeRecord[], into: string): ChangeRecord[] {
  const redirected: ChangeRecord[] = [];
  for (const record of records) {
    if (record.part === 'meta') continue;
    const state = record.part === 'cart' ? rebaseCart(record.state, `merged-${record.sessionId}`) : record.state;
    redirected.push({ ...record, sessionId: into, state } as ChangeRecord);
  }
  return redirected;
}

/**
 * What stays of an erased session: a tombstone that names no user and holds no
 * secret, device or part — ended and erased (at `now`, unless it had been
 * before) — so that a late change cannot bring the session back nor name the
 * user again (`erasedAt` wins every join). The same on every engine; its
 * metadata travels to other regions like any change.
 */
export function erasedSession(stored: StoredSession, now: number): StoredSession {
  const meta: SessionMeta = { ...stored.meta, userId: null, csrfSecret: '', endedAt: stored.meta.endedAt ?? now, erasedAt: stored.meta.erasedAt ?? now };
  return { meta, ...EMPTY_PARTS, versions: EMPTY_VERSIONS };
}

/** The change that creates a session: its metadata and first device. */
export function creationRecords(stored: StoredSession, stamp: { readonly hlc: Hlc; readonly origin: string }): ChangeRecord[] {
  const base = { sessionId: stored.meta.id, hlc: stamp.hlc, origin: stamp.origin };
  return [
    { ...base, part: 'meta', state: stored.meta },
    { ...base, part: 'devices', state: stored.devices },
  ];
}

/** Every part of a stored session as records: what a session merged away hands to the winner, and what repair re-publishes. */
export function snapshotRecords(snapshot: StoredSession, stamp: { readonly hlc: Hlc; readonly origin: string }): ChangeRecord[] {
  const base = { sessionId: snapshot.meta.id, hlc: snapshot.meta.t ?? stamp.hlc, origin: stamp.origin };
  const parts: PartName[] = ['meta', ...DATA_PARTS];
  return parts.map((part) => ({ ...base, part, state: snapshot[part] }) as ChangeRecord);
}

/**
 * Of two live sessions of one user — signed in concurrently in two regions —
 * the one that stays: the earlier created, then the smaller id. Every region
 * decides alike, and merges the other into it.
 */
export function precedes(a: Pick<SessionMeta, 'createdAt' | 'id'>, b: Pick<SessionMeta, 'createdAt' | 'id'>): boolean {
  return a.createdAt !== b.createdAt ? a.createdAt < b.createdAt : a.id < b.id;
}
