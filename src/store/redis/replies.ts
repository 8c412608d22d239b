/**
 * Reading the scripts' replies (nested arrays of strings and integers) into
 * the store contract's results.
 */
import type { DeviceAuth } from '../../domain/devices.js';
import type { ProblemCode } from '../../domain/errors.js';
import type { ChangeRecord, DataPart, PartName } from '../../domain/parts.js';
import type { TokenMatch } from '../../tokens/token-match.js';
import type { ApplyResult, LoadedSession } from '../session-store.js';
import type { SessionMeta } from '../../domain/session.js';
import {
  decodeCart,
  decodeDevices,
  decodeHistory,
  decodePrefs,
  decodeRecord,
  type FieldList,
} from './codec.js';
import type { Mutable } from '../../domain/mutable.js';
import { EMPTY_VERSION } from '../../domain/versions.js';

const PART_NAMES: ReadonlySet<string> = new Set(['meta', 'devices', 'cart', 'prefs', 'history']);

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new TypeError(`unexpected Redis reply for ${what}: ${JSON.stringify(value)}`);
  return value;
}

function fields(value: unknown, what: string): FieldList {
  const items = list(value, what);
  // Bulk strings arrive as strings; copy only if something else came back.
  return items.every((item) => typeof item === 'string') ? (items as string[]) : items.map(String);
}

function integer(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

/** A data part's state from its fields, into the session. */
function setPart(session: Mutable<LoadedSession>, part: Exclude<DataPart, 'devices'>, flat: FieldList): void {
  if (part === 'cart') session.cart = decodeCart(flat);
  else if (part === 'prefs') session.prefs = decodePrefs(flat);
  else session.history = decodeHistory(flat);
}

/** A version in a head line; '-' for a part without one (a session written before versions were digests). */
function versionOf(field: string): string {
  return field === '-' ? EMPTY_VERSION : field;
}

const VERDICTS: ReadonlySet<string | undefined> = new Set<TokenMatch>(['current', 'grace', 'reused', 'none']);

function timestamp(value: unknown, field: string): number {
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isFinite(n)) throw new TypeError(`stored session metadata lacks numeric field "${field}"`);
  return n;
}

/**
 * A head line (`LOAD_LUA`, `APPLY_LUA`): `count` space-separated fields, then
 * the user field — the user id after '=', '-' for a guest (`headMeta`). The user
 * field comes last, after the `count`th space, so that it may hold spaces
 * itself. Null when the line has fewer fields.
 */
function splitHead(head: string, count: number): string[] | null {
  let userStart = -1;
  for (let n = 0; n < count; n++) {
    userStart = head.indexOf(' ', userStart + 1);
    if (userStart === -1) return null;
  }
  const fields = head.slice(0, userStart).split(' ');
  fields.push(head.slice(userStart + 1));
  return fields;
}

/**
 * The metadata every head line carries: c, l, i, a, s and t ('-' for no
 * stamp) as the script wrote them, and the user field. Optional fields are
 * added, not spread in: this runs on every request.
 */
function headMeta(sessionId: string, [c, l, i, a, s, t]: readonly (string | undefined)[], user: string): Mutable<SessionMeta> {
  const meta: Mutable<SessionMeta> = {
    id: sessionId,
    userId: user.startsWith('=') ? user.slice(1) : null,
    createdAt: timestamp(c, 'c'),
    lastActiveAt: timestamp(l, 'l'),
    idleExpiresAt: timestamp(i, 'i'),
    absoluteExpiresAt: timestamp(a, 'a'),
    csrfSecret: s!,
  };
  if (t !== '-' && t !== undefined) meta.t = t;
  return meta;
}

/** Fields of the load reply's head line before the user id (see `LOAD_LUA`). */
const LOAD_HEAD_FIELDS = 15;

/** The load reply when the session was merged into another: where to, and its CSRF secret. */
export interface Moved {
  readonly moved: string;
  readonly csrfSecret: string;
}

/**
 * The load script's reply: one head line with the verdict and the metadata by
 * position, then flat lists (see `LOAD_LUA`). Read by position, not through a
 * field map: this runs on every request. 'migrate' when the session's versions
 * predate digests.
 */
export function readLoadReply(sessionId: string, reply: unknown): LoadedSession | Moved | 'migrate' | null {
  if (reply === null || reply === undefined) return null;
  const r = list(reply, 'load');
  const [head, devices, cart, prefs, history] = r;
  if (head === 'moved') return { moved: String(devices), csrfSecret: String(cart ?? '') };
  if (head === 'migrate') return 'migrate';
  if (r.length !== 5 || typeof head !== 'string') throw new TypeError(`unexpected Redis reply for load: ${JSON.stringify(head)}`);
  const [verdict, c, l, i, a, s, vc, vp, vh, vd, activeAt, t, authAt, authLevel, persistence, user] = splitHead(head, LOAD_HEAD_FIELDS) ?? [];
  if (user === undefined || (verdict !== '-' && !VERDICTS.has(verdict))) {
    throw new TypeError(`unexpected Redis reply for load: ${JSON.stringify(head.slice(0, 16))}`);
  }
  const view: Mutable<LoadedSession> = {
    meta: headMeta(sessionId, [c, l, i, a, s, t], user),
    devices: Array.isArray(devices) ? decodeDevices(fields(devices, 'devices')) : { devices: {} },
    versions: { cart: vc!, prefs: vp!, history: vh!, devices: vd! },
  };
  if (verdict !== '-') {
    view.credential = verdict as TokenMatch;
    if (activeAt !== '-') {
      view.credentialActiveAt = timestamp(activeAt, 'credential device l');
      const auth: Mutable<DeviceAuth> = {
        authenticatedAt: timestamp(authAt, 'credential device av'),
        persistent: persistence === 'p',
      };
      if (authLevel !== '-') auth.authLevel = authLevel;
      view.credentialAuth = auth;
    }
  }
  // A part the script did not send (null) is either not wanted or unchanged since a known version.
  if (Array.isArray(cart)) view.cart = decodeCart(fields(cart, 'cart'));
  if (Array.isArray(prefs)) view.prefs = decodePrefs(fields(prefs, 'prefs'));
  if (Array.isArray(history)) view.history = decodeHistory(fields(history, 'history'));
  return view;
}

/** Fields of the apply reply's head line before the user id (see `APPLY_LUA`). */
const APPLY_HEAD_FIELDS = 16;

export type Applied =
  | { readonly moved: Moved }
  | {
      readonly result: ApplyResult;
      /** Set when the session's keys got a later deadline, which the user index must follow. */
      readonly keyDeadline?: number;
      readonly deadlineMoved: boolean;
    };

export function readApplyReply(sessionId: string, part: DataPart, reply: unknown, origin: string): Applied {
  const [status, ...rest] = list(reply, 'apply');
  switch (status) {
    case 'moved':
      return { moved: { moved: String(rest[0]), csrfSecret: String(rest[1] ?? '') } };
    case 'not-found':
    case 'unauthorized':
      return { result: { status }, deadlineMoved: false };
    case 'version-mismatch':
      return { result: { status, version: String(rest[0]) }, deadlineMoved: false };
    case 'rejected':
      return { result: { status, code: String(rest[0]) as ProblemCode, detail: String(rest[1]) }, deadlineMoved: false };
    case 'applied': {
      const [head, devices, partFields, records] = rest;
      const [keyDeadline, moved, hlc, c, l, i, a, s, vc, vp, vh, vd, e, x, t, r, user] = (typeof head === 'string' && splitHead(head, APPLY_HEAD_FIELDS)) || [];
      if (user === undefined) throw new TypeError(`unexpected Redis reply for apply: ${JSON.stringify(head)}`);
      const meta = headMeta(sessionId, [c, l, i, a, s, t], user);
      if (e !== '-') meta.endedAt = timestamp(e, 'e');
      if (x !== '-') meta.erasedAt = timestamp(x, 'x');
      if (r !== '-') meta.mergedInto = r;
      const session: Mutable<LoadedSession> = {
        meta,
        devices: decodeDevices(fields(devices, 'devices')),
        versions: { cart: versionOf(vc!), prefs: versionOf(vp!), history: versionOf(vh!), devices: versionOf(vd!) },
      };
      // No part fields: the caller knew the version the change started from and joins the records itself.
      if (part !== 'devices' && partFields !== null && partFields !== undefined) setPart(session, part, fields(partFields, part));
      return {
        result: { status: 'applied', session, records: readRecords(sessionId, records, { hlc: hlc!, origin }), hlc: hlc! },
        keyDeadline: timestamp(keyDeadline, 'key deadline'),
        deadlineMoved: moved === '1',
      };
    }
    default:
      throw new TypeError(`unexpected apply status ${JSON.stringify(status)}`);
  }
}

function readRecords(sessionId: string, reply: unknown, stamp: { readonly hlc: string; readonly origin: string }): ChangeRecord[] {
  return list(reply, 'records').map((entry) => {
    const [part, flat] = list(entry, 'record');
    if (typeof part !== 'string' || !PART_NAMES.has(part)) throw new TypeError(`unexpected record part ${JSON.stringify(part)}`);
    return decodeRecord(sessionId, part as PartName, fields(flat, part), stamp);
  });
}

/** touch and merge: where the keys' deadline went, and whose index follows it. */
export interface Settled {
  readonly done: boolean;
  readonly created: boolean;
  readonly ended: boolean;
  readonly keyDeadline: number;
  readonly deadlineMoved: boolean;
  readonly userId: string | null;
}

export function readTouchReply(reply: unknown): Settled | Moved {
  const [live, keyDeadline, moved, userId] = list(reply, 'touch');
  if (live === 'moved') return { moved: String(keyDeadline), csrfSecret: '' };
  return {
    done: integer(live) === 1,
    created: false,
    ended: false,
    keyDeadline: integer(keyDeadline ?? 0),
    deadlineMoved: integer(moved ?? 0) === 1,
    userId: typeof userId === 'string' ? userId : null,
  };
}

/** What the merge script did with one session's records. */
export type MergeReply =
  | { readonly kind: 'parked' | 'ignored' }
  | { readonly kind: 'redirect'; readonly into: string }
  | {
      readonly kind: 'stored';
      readonly outcome: 'merged' | 'created' | 'ignored';
      readonly settled: Settled;
      readonly createdAt: number;
      readonly live: boolean;
      readonly changed: DataPart[];
    };

export function readMergeReply(reply: unknown): MergeReply {
  const [status, ...rest] = list(reply, 'merge');
  if (status === 'parked' || (status === 'ignored' && rest.length === 0)) return { kind: status };
  if (status === 'redirect') return { kind: 'redirect', into: String(rest[0]) };
  if (status !== 'merged' && status !== 'created' && status !== 'ignored') throw new TypeError(`unexpected merge status ${JSON.stringify(status)}`);
  const [keyDeadline, moved, ended, userId, createdAt, live, ...changed] = rest;
  return {
    kind: 'stored',
    outcome: status,
    settled: {
      done: true,
      created: status === 'created',
      ended: integer(ended) === 1,
      keyDeadline: integer(keyDeadline),
      deadlineMoved: integer(moved) === 1,
      userId: typeof userId === 'string' ? userId : null,
    },
    createdAt: integer(createdAt),
    live: integer(live) === 1,
    changed: changed.map(String) as DataPart[],
  };
}
