/**
 * Reading the scripts' replies (nested arrays of strings and integers) into
 * the store contract's results.
 */
import type { ProblemCode } from '../../domain/errors.js';
import type { ChangeRecord, DataPart, PartName } from '../../domain/parts.js';
import type { TokenMatch } from '../../tokens/token-match.js';
import type { ApplyResult, LoadedSession } from '../session-store.js';
import {
  decodeCart,
  decodeDevices,
  decodeHistory,
  decodeMeta,
  decodePrefs,
  decodeRecord,
  type FieldList,
} from './codec.js';

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
  const view: { -readonly [K in keyof LoadedSession]: LoadedSession[K] } = {
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
const HEAD_FIELDS = 10;

/**
 * The load script's reply: one head line with the verdict and the metadata by
 * position, then flat lists (see `LOAD_LUA`). Read by position, not through a
 * field map: this runs on every request.
 */
export function readLoadReply(sessionId: string, reply: unknown): LoadedSession | null {
  if (reply === null || reply === undefined) return null;
  const r = list(reply, 'load');
  const [head, devices, cart, prefs, history] = r;
  if (r.length !== 5 || typeof head !== 'string') throw new TypeError(`unexpected Redis reply for load: ${JSON.stringify(head)}`);
  // The user id comes last, after the tenth space, and may itself hold spaces.
  let userStart = -1;
  for (let n = 0; n < HEAD_FIELDS; n++) {
    userStart = head.indexOf(' ', userStart + 1);
    if (userStart === -1) break;
  }
  const [verdict, c, l, i, a, s, vc, vp, vh, vd] = head.slice(0, userStart).split(' ');
  const user = head.slice(userStart + 1);
  if (userStart === -1 || vd === undefined || (verdict !== '-' && !VERDICTS.has(verdict))) {
    throw new TypeError(`unexpected Redis reply for load: ${JSON.stringify(head.slice(0, 16))}`);
  }
  const view: { -readonly [K in keyof LoadedSession]: LoadedSession[K] } = {
    meta: {
      id: sessionId,
      userId: user.startsWith('=') ? user.slice(1) : null,
      createdAt: timestamp(c, 'c'),
      lastActiveAt: timestamp(l, 'l'),
      idleExpiresAt: timestamp(i, 'i'),
      absoluteExpiresAt: timestamp(a, 'a'),
      csrfSecret: s!,
    },
    devices: Array.isArray(devices) ? decodeDevices(fields(devices, 'devices')) : { devices: {} },
    versions: { cart: `v${vc}`, prefs: `v${vp}`, history: `v${vh}`, devices: `v${vd}` },
  };
  if (verdict !== '-') view.credential = verdict as TokenMatch;
  // A part the script did not send (null) is either not wanted or unchanged since a known version.
  if (Array.isArray(cart)) view.cart = decodeCart(fields(cart, 'cart'));
  if (Array.isArray(prefs)) view.prefs = decodePrefs(fields(prefs, 'prefs'));
  if (Array.isArray(history)) view.history = decodeHistory(fields(history, 'history'));
  return view;
}

export interface Applied {
  readonly result: ApplyResult;
  /** Set when the session's keys got a later deadline, which the user index must follow. */
  readonly keyDeadline?: number;
  readonly deadlineMoved: boolean;
}

export function readApplyReply(
  sessionId: string,
  part: DataPart,
  reply: unknown,
  stamp: { readonly hlc: string; readonly origin: string },
): Applied {
  const [status, ...rest] = list(reply, 'apply');
  switch (status) {
    case 'not-found':
    case 'unauthorized':
      return { result: { status }, deadlineMoved: false };
    case 'version-mismatch':
      return { result: { status, version: String(rest[0]) }, deadlineMoved: false };
    case 'rejected':
      return { result: { status, code: String(rest[0]) as ProblemCode, detail: String(rest[1]) }, deadlineMoved: false };
    case 'applied': {
      const [meta, devices, partFields, records, keyDeadline, moved] = rest;
      // No part fields: the caller knew the version the change started from and joins the records itself.
      const sent = part !== 'devices' && partFields !== null && partFields !== undefined;
      const session = sessionView(sessionId, fields(meta, 'meta'), fields(devices, 'devices'), sent ? { [part]: fields(partFields, part) } : {});
      return {
        result: { status: 'applied', session, records: readRecords(sessionId, records, stamp) },
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

export function readTouchReply(reply: unknown): Settled {
  const [live, keyDeadline, moved, userId] = list(reply, 'touch');
  return {
    done: integer(live) === 1,
    created: false,
    ended: false,
    keyDeadline: integer(keyDeadline ?? 0),
    deadlineMoved: integer(moved ?? 0) === 1,
    userId: typeof userId === 'string' ? userId : null,
  };
}

export function readMergeReply(reply: unknown): Settled {
  const [status, keyDeadline, moved, ended, userId] = list(reply, 'merge');
  return {
    done: status !== 'ignored',
    created: status === 'created',
    ended: integer(ended ?? 0) === 1,
    keyDeadline: integer(keyDeadline ?? 0),
    deadlineMoved: integer(moved ?? 0) === 1,
    userId: typeof userId === 'string' ? userId : null,
  };
}
