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
  decodeMeta,
  decodePrefs,
  decodeRecord,
  type FieldList,
} from './codec.js';
import type { Mutable } from '../../domain/mutable.js';

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

/** A loaded session from the parts the caller asked for. */
function sessionView(
  sessionId: string,
  meta: FieldList,
  devices: FieldList,
  parts: Partial<Record<Exclude<DataPart, 'devices'>, FieldList>>,
): LoadedSession {
  const view: Mutable<LoadedSession> = {
    ...decodeMeta(sessionId, meta),
    devices: decodeDevices(devices),
  };
  if (parts.cart) view.cart = decodeCart(parts.cart);
  if (parts.prefs) view.prefs = decodePrefs(parts.prefs);
  if (parts.history) view.history = decodeHistory(parts.history);
  return view;
}

const VERDICTS: ReadonlySet<string | undefined> = new Set<TokenMatch>(['current', 'grace', 'reused', 'none']);

function timestamp(value: unknown, field: string): number {
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isFinite(n)) throw new TypeError(`stored session metadata lacks numeric field "${field}"`);
  return n;
}

/** Fields of the load reply's head line before the user id (see `LOAD_LUA`). */
const HEAD_FIELDS = 15;

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
  // The user id comes last, after the fifteenth space, and may itself hold spaces.
  let userStart = -1;
  for (let n = 0; n < HEAD_FIELDS; n++) {
    userStart = head.indexOf(' ', userStart + 1);
    if (userStart === -1) break;
  }
  const [verdict, c, l, i, a, s, vc, vp, vh, vd, activeAt, t, authAt, authLevel, persistence] = head.slice(0, userStart).split(' ');
  const user = head.slice(userStart + 1);
  if (userStart === -1 || persistence === undefined || (verdict !== '-' && !VERDICTS.has(verdict))) {
    throw new TypeError(`unexpected Redis reply for load: ${JSON.stringify(head.slice(0, 16))}`);
  }
  // Optional fields are added, not spread in: this runs on every request.
  const meta: Mutable<SessionMeta> = {
    id: sessionId,
    userId: user.startsWith('=') ? user.slice(1) : null,
    createdAt: timestamp(c, 'c'),
    lastActiveAt: timestamp(l, 'l'),
    idleExpiresAt: timestamp(i, 'i'),
    absoluteExpiresAt: timestamp(a, 'a'),
    csrfSecret: s!,
  };
  if (t !== '-') meta.t = t;
  const view: Mutable<LoadedSession> = {
    meta,
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
      const [meta, devices, partFields, records, keyDeadline, moved, stamp] = rest;
      const hlc = String(stamp);
      // No part fields: the caller knew the version the change started from and joins the records itself.
      const sent = part !== 'devices' && partFields !== null && partFields !== undefined;
      const session = sessionView(sessionId, fields(meta, 'meta'), fields(devices, 'devices'), sent ? { [part]: fields(partFields, part) } : {});
      return {
        result: { status: 'applied', session, records: readRecords(sessionId, records, { hlc, origin }), hlc },
        keyDeadline: integer(keyDeadline),
        deadlineMoved: integer(moved) === 1,
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
