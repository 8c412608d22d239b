/**
 * Devices: the auth part of a session. Each signed-in device holds one token
 * family; the store keeps only hashes of its tokens.
 *
 * Rotation issues generation g+1: the new hash becomes current, the previous
 * one stays acceptable until `graceUntil` (in-flight requests), and older ones
 * are kept in `retired` so that their reuse can be recognised as theft.
 * Revocation is a tombstone (`revokedAt`) that nothing undoes.
 *
 * Join, per device: revoked beats live (earliest revocation kept, with its
 * reason); otherwise the higher (generation, stamp) owns the token fields —
 * and with them the authentication time and level, which only a sign-in or a
 * re-authentication (a rotation) sets, and the device's own limits, set once
 * at sign-in; `lastActiveAt` is the maximum, and where the device was last
 * seen (`lastIp`, `lastCountry`) comes with the larger `lastActiveAt`. Within
 * a region the store orders auth changes totally; across regions the change
 * log gives them one order per session (global mode).
 */
import type { Hlc } from './hlc.js';

/** How many rotated-out token hashes a device remembers for theft detection. */
export const RETIRED_HASHES_KEPT = 4;

export interface DeviceLabel {
  readonly name?: string;
  readonly kind?: string;
  readonly userAgent?: string;
  /** The address it signed in from (truncated for privacy before it is stored). */
  readonly ip?: string;
  /** Country or region it signed in from, as the app passes it (ISO 3166: `DE`, `US-CA`). */
  readonly country?: string;
}

/**
 * Why a device was revoked: logged out by itself, revoked by another device
 * of the session, by an operator, its token reused after rotation (theft), the
 * oldest device ended at the device limit, the session ended or erased, or a
 * guest session merged into the user session named after the colon.
 */
export type RevokeReason = 'logout' | 'revoked' | 'admin' | 'reuse' | 'limit' | 'ended' | 'erased' | `merged:${string}`;

/** How a device authenticated, and for how long it may stay signed in. */
export interface DeviceAuthOptions {
  /** The app's name for how the user authenticated (`pwd`, `otp`, `webauthn`, …). */
  readonly authLevel?: string;
  /**
   * A transient sign-in ("remember me" unticked): the device's own idle
   * timeout and absolute deadline, shorter than the session's. Absent: persistent.
   */
  readonly transient?: { readonly idleTimeoutMs: number; readonly absoluteExpiresAt: number };
}

export interface DeviceState extends DeviceLabel {
  readonly createdAt: number;
  readonly lastActiveAt: number;
  /** Token generation: 0 at sign-in, +1 per rotation. */
  readonly gen: number;
  /** Hash of the current token. */
  readonly hash: string;
  /** Hash of the previous token, accepted until `graceUntil`. */
  readonly prevHash?: string;
  readonly graceUntil?: number;
  /** Hashes of older tokens, newest first. */
  readonly retired: readonly string[];
  readonly revokedAt?: number;
  readonly revokedFor?: RevokeReason;
  /** Stamp of the last token change. */
  readonly t: Hlc;
  /** When the user last proved who they are on this device (sign-in, re-authentication); absent before this was kept: `createdAt`. */
  readonly authenticatedAt?: number;
  readonly authLevel?: string;
  /** A transient device's own idle timeout (the session's applies when shorter). */
  readonly idleTimeoutMs?: number;
  /** A transient device's own absolute deadline. */
  readonly absoluteExpiresAt?: number;
  /** Where the device was last seen, recorded with its activity (`lastActiveAt`). */
  readonly lastIp?: string;
  readonly lastCountry?: string;
}

/** Where a request came from, as the app passes it; recorded with a device's activity. */
export interface Seen {
  readonly ip?: string;
  readonly country?: string;
}

/** What a token's device says about its authentication: for step-up checks and cookies. */
export interface DeviceAuth {
  readonly authenticatedAt: number;
  readonly authLevel?: string;
  /** False for a transient ("remember me" unticked) sign-in. */
  readonly persistent: boolean;
}

export interface DeviceView {
  readonly id: string;
  readonly name?: string;
  readonly kind?: string;
  readonly createdAt: string;
  readonly lastActiveAt: string;
  readonly current: boolean;
}

export interface DevicesState {
  readonly devices: Readonly<Record<string, DeviceState>>;
}


export const EMPTY_DEVICES: DevicesState = Object.freeze({ devices: Object.freeze({}) });

function tokenOwner(x: DeviceState, y: DeviceState): DeviceState {
  if (x.gen !== y.gen) return x.gen > y.gen ? x : y;
  return x.t >= y.t ? x : y;
}

/** Where-seen fields compared as one text, to break a tie of `lastActiveAt` alike everywhere. */
function seenText(d: DeviceState): string {
  return `${d.lastIp ?? ''}\n${d.lastCountry ?? ''}`;
}

/** The one whose activity is later (on a tie, the larger where-seen text): it says where the device was last seen. */
function lastSeen(x: DeviceState, y: DeviceState): DeviceState {
  if (x.lastActiveAt !== y.lastActiveAt) return x.lastActiveAt > y.lastActiveAt ? x : y;
  return seenText(x) >= seenText(y) ? x : y;
}

/** The earlier revocation (on a tie, the larger reason, so a reason beats none); undefined when neither is revoked. */
function revoker(x: DeviceState, y: DeviceState): DeviceState | undefined {
  if (x.revokedAt === undefined) return y.revokedAt === undefined ? undefined : y;
  if (y.revokedAt === undefined || x.revokedAt !== y.revokedAt) return y.revokedAt === undefined || x.revokedAt < y.revokedAt ? x : y;
  return (x.revokedFor ?? '') >= (y.revokedFor ?? '') ? x : y;
}

export function mergeDevice(x: DeviceState, y: DeviceState): DeviceState {
  const { lastIp: _ip, lastCountry: _country, revokedAt: _at, revokedFor: _for, ...owned } = tokenOwner(x, y);
  const seen = lastSeen(x, y);
  const revoked = revoker(x, y);
  return {
    ...owned,
    lastActiveAt: Math.max(x.lastActiveAt, y.lastActiveAt),
    ...(seen.lastIp !== undefined ? { lastIp: seen.lastIp } : {}),
    ...(seen.lastCountry !== undefined ? { lastCountry: seen.lastCountry } : {}),
    ...(revoked?.revokedAt !== undefined ? { revokedAt: revoked.revokedAt } : {}),
    ...(revoked?.revokedFor !== undefined ? { revokedFor: revoked.revokedFor } : {}),
  };
}

export function mergeDevices(x: DevicesState, y: DevicesState): DevicesState {
  const devices = new Map<string, DeviceState>(Object.entries(x.devices));
  for (const [id, device] of Object.entries(y.devices)) {
    const mine = devices.get(id);
    devices.set(id, mine ? mergeDevice(mine, device) : device);
  }
  return { devices: Object.fromEntries(devices) };
}

export function newDevice(label: DeviceLabel, hash: string, now: number, hlc: Hlc, auth: DeviceAuthOptions = {}): DeviceState {
  const device: DeviceState = { ...label, createdAt: now, lastActiveAt: now, gen: 0, hash, retired: [], t: hlc, authenticatedAt: now };
  return {
    ...device,
    ...(auth.authLevel !== undefined ? { authLevel: auth.authLevel } : {}),
    ...(auth.transient !== undefined ? { idleTimeoutMs: auth.transient.idleTimeoutMs, absoluteExpiresAt: auth.transient.absoluteExpiresAt } : {}),
  };
}

/** The auth options a device was made with (to add it to another session as it is). */
export function authOptionsOf(device: DeviceState): DeviceAuthOptions {
  return {
    ...(device.authLevel !== undefined ? { authLevel: device.authLevel } : {}),
    ...(device.idleTimeoutMs !== undefined && device.absoluteExpiresAt !== undefined
      ? { transient: { idleTimeoutMs: device.idleTimeoutMs, absoluteExpiresAt: device.absoluteExpiresAt } }
      : {}),
  };
}

/** The label a device was made with. */
export function labelOf(device: DeviceState): DeviceLabel {
  const { name, kind, userAgent, ip, country } = device;
  return Object.fromEntries(Object.entries({ name, kind, userAgent, ip, country }).filter(([, v]) => v !== undefined)) as DeviceLabel;
}

export function deviceAuth(device: DeviceState): DeviceAuth {
  return {
    authenticatedAt: device.authenticatedAt ?? device.createdAt,
    ...(device.authLevel !== undefined ? { authLevel: device.authLevel } : {}),
    persistent: device.idleTimeoutMs === undefined && device.absoluteExpiresAt === undefined,
  };
}

/**
 * Generation g+1. A re-authentication (step-up) is a rotation that also
 * records the new authentication time and level (none given: the level is dropped).
 */
export function rotateDevice(
  device: DeviceState,
  hash: string,
  now: number,
  graceMs: number,
  hlc: Hlc,
  reauth?: { readonly authLevel?: string },
): DeviceState {
  const retired = [device.prevHash, ...device.retired]
    .filter((h): h is string => h !== undefined)
    .slice(0, RETIRED_HASHES_KEPT);
  const { authLevel: _level, ...kept } = device;
  const base: DeviceState =
    reauth === undefined ? device : { ...kept, authenticatedAt: now, ...(reauth.authLevel !== undefined ? { authLevel: reauth.authLevel } : {}) };
  return {
    ...base,
    gen: device.gen + 1,
    hash,
    prevHash: device.hash,
    graceUntil: now + graceMs,
    retired,
    lastActiveAt: Math.max(device.lastActiveAt, now),
    t: hlc,
  };
}

export function revokeDevice(device: DeviceState, now: number, reason?: RevokeReason): DeviceState {
  if (device.revokedAt !== undefined) return device;
  return reason === undefined ? { ...device, revokedAt: now } : { ...device, revokedAt: now, revokedFor: reason };
}

/** The device after activity at `now`, seen (when the app said so) from `seen`. */
export function activeDevice(device: DeviceState, now: number, seen?: Seen): DeviceState {
  if (seen === undefined || (seen.ip === undefined && seen.country === undefined)) return { ...device, lastActiveAt: now };
  const { lastIp: _ip, lastCountry: _country, ...rest } = device;
  return {
    ...rest,
    lastActiveAt: now,
    ...(seen.ip !== undefined ? { lastIp: seen.ip } : {}),
    ...(seen.country !== undefined ? { lastCountry: seen.country } : {}),
  };
}

/**
 * The live devices to end when a sign-in meets the device limit and the caller
 * chose to end the least recently active ones: the `count` with the smallest
 * `lastActiveAt`, then the smallest id (byte order), so every engine picks the same.
 */
export function leastRecentlyActive(state: DevicesState, count: number): string[] {
  return Object.entries(state.devices)
    .filter(([, device]) => device.revokedAt === undefined)
    .sort(([p, dp], [q, dq]) => dp.lastActiveAt - dq.lastActiveAt || (p < q ? -1 : p > q ? 1 : 0))
    .slice(0, Math.max(0, count))
    .map(([id]) => id);
}

export function isLive(device: DeviceState | undefined): device is DeviceState {
  return device !== undefined && device.revokedAt === undefined;
}

/** The live devices, oldest sign-in first (then by id). */
export function liveDevices(state: DevicesState): Array<[string, DeviceState]> {
  return Object.entries(state.devices)
    .filter(([, device]) => isLive(device))
    .sort(([p, dp], [q, dq]) => dp.createdAt - dq.createdAt || (p < q ? -1 : 1));
}

/** The live devices as the v1 `Device` shape's core (the service adds the details: `service/views.ts`). */
export function deviceViews(state: DevicesState, currentId: string | null): DeviceView[] {
  return liveDevices(state).map(([id, device]) => {
    const view: DeviceView = {
      id,
      createdAt: new Date(device.createdAt).toISOString(),
      lastActiveAt: new Date(device.lastActiveAt).toISOString(),
      current: id === currentId,
    };
    return {
      ...view,
      ...(device.name !== undefined ? { name: device.name } : {}),
      ...(device.kind !== undefined ? { kind: device.kind } : {}),
    };
  });
}
