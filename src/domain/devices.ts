/**
 * Devices: the auth part of a session. Each signed-in device holds one token
 * family; the store keeps only hashes of its tokens.
 *
 * Rotation issues generation g+1: the new hash becomes current, the previous
 * one stays acceptable until `graceUntil` (in-flight requests), and older ones
 * are kept in `retired` so that their reuse can be recognised as theft.
 * Revocation is a tombstone (`revokedAt`) that nothing undoes.
 *
 * Join, per device: revoked beats live (earliest revocation kept); otherwise
 * the higher (generation, stamp) owns the token fields; `lastActiveAt` is the
 * maximum. Within a region the store orders auth changes totally; across
 * regions the change log gives them one order per session (global mode).
 */
import type { Hlc } from './hlc.js';

/** How many rotated-out token hashes a device remembers for theft detection. */
export const RETIRED_HASHES_KEPT = 4;

export interface DeviceLabel {
  readonly name?: string;
  readonly kind?: string;
  readonly userAgent?: string;
  readonly ip?: string;
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
  /** Stamp of the last token change. */
  readonly t: Hlc;
}

export interface DevicesState {
  readonly devices: Readonly<Record<string, DeviceState>>;
}

export interface DeviceView {
  readonly id: string;
  readonly name?: string;
  readonly kind?: string;
  readonly createdAt: string;
  readonly lastActiveAt: string;
  readonly current: boolean;
}

export const EMPTY_DEVICES: DevicesState = Object.freeze({ devices: Object.freeze({}) });

function tokenOwner(x: DeviceState, y: DeviceState): DeviceState {
  if (x.gen !== y.gen) return x.gen > y.gen ? x : y;
  return x.t >= y.t ? x : y;
}

export function mergeDevice(x: DeviceState, y: DeviceState): DeviceState {
  const owner = tokenOwner(x, y);
  const lastActiveAt = Math.max(x.lastActiveAt, y.lastActiveAt);
  const revoked = [x.revokedAt, y.revokedAt].filter((at): at is number => at !== undefined);
  const merged: DeviceState = { ...owner, lastActiveAt };
  return revoked.length > 0 ? { ...merged, revokedAt: Math.min(...revoked) } : merged;
}

export function mergeDevices(x: DevicesState, y: DevicesState): DevicesState {
  const devices = new Map<string, DeviceState>(Object.entries(x.devices));
  for (const [id, device] of Object.entries(y.devices)) {
    const mine = devices.get(id);
    devices.set(id, mine ? mergeDevice(mine, device) : device);
  }
  return { devices: Object.fromEntries(devices) };
}

export function newDevice(label: DeviceLabel, hash: string, now: number, hlc: Hlc): DeviceState {
  return { ...label, createdAt: now, lastActiveAt: now, gen: 0, hash, retired: [], t: hlc };
}

export function rotateDevice(
  device: DeviceState,
  hash: string,
  now: number,
  graceMs: number,
  hlc: Hlc,
): DeviceState {
  const retired = [device.prevHash, ...device.retired]
    .filter((h): h is string => h !== undefined)
    .slice(0, RETIRED_HASHES_KEPT);
  return {
    ...device,
    gen: device.gen + 1,
    hash,
    prevHash: device.hash,
    graceUntil: now + graceMs,
    retired,
    lastActiveAt: Math.max(device.lastActiveAt, now),
    t: hlc,
  };
}

export function revokeDevice(device: DeviceState, now: number): DeviceState {
  return device.revokedAt === undefined ? { ...device, revokedAt: now } : device;
}

export function isLive(device: DeviceState | undefined): device is DeviceState {
  return device !== undefined && device.revokedAt === undefined;
}

export function deviceViews(state: DevicesState, currentId: string | null): DeviceView[] {
  return Object.entries(state.devices)
    .filter(([, device]) => isLive(device))
    .sort(([p, dp], [q, dq]) => dp.createdAt - dq.createdAt || (p < q ? -1 : 1))
    .map(([id, device]) => {
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
