/**
 * Public shapes of API v1, derived from stored states. What callers see never
 * exposes stored layouts (counters, stamps, token hashes).
 */
import { deviceAuth, liveDevices, type DeviceAuth, type DeviceState } from '../domain/devices.js';
import { isoTime } from '../domain/iso-time.js';
import { cartItems } from '../domain/cart.js';
import { historyItems } from '../domain/history.js';
import { prefsObject } from '../domain/prefs.js';
import { expiresAt, isSessionLive } from '../domain/session.js';
import type { LoadedSession, SessionSnapshot } from '../store/session-store.js';
import { truncateAddress, type AddressPrefixes } from './addresses.js';
import { parseUserAgent, type Software } from './user-agent.js';

export interface SessionInfo {
  readonly id: string;
  readonly userId: string | null;
  readonly deviceId: string;
  readonly createdAt: string;
  readonly lastActiveAt: string;
  readonly expiresAt: string;
  /** When the user last proved who they are on this device (sign-in or re-authentication). */
  readonly authenticatedAt: string;
  /** How, as the app said at sign-in or re-authentication (`pwd`, `otp`, `webauthn`, …). */
  readonly authLevel?: string;
  /** False for a transient sign-in ("remember me" unticked): its cookie should end with the browser. */
  readonly persistent: boolean;
}

/** A device as "my devices" pages show it. */
export interface DeviceDetails {
  readonly id: string;
  readonly name?: string;
  readonly kind?: string;
  readonly browser?: Software;
  readonly os?: Software;
  /** `desktop`, `mobile`, `tablet`, `tv` or `bot`, as the user agent tells. */
  readonly platform?: string;
  /** The address it signed in from, truncated (by default to a /24 or /48). */
  readonly ip?: string;
  /** The address it was last seen from (recorded with its activity), truncated alike. */
  readonly lastIp?: string;
  readonly country?: string;
  readonly lastCountry?: string;
  readonly createdAt: string;
  readonly lastActiveAt: string;
  readonly authenticatedAt: string;
  readonly authLevel?: string;
  readonly persistent: boolean;
  /** True for the device whose token made the request. */
  readonly current: boolean;
}

export interface DevicesView {
  readonly devices: DeviceDetails[];
  readonly version: string;
}

/** How the service shows addresses: the prefixes it truncates them to. */
export interface ViewSettings {
  readonly addressPrefixes: AddressPrefixes;
}

/** The token's device's authentication: from the load's credential check, or from the device itself. */
function authOf(session: LoadedSession, deviceId: string): DeviceAuth {
  if (session.credentialAuth !== undefined) return session.credentialAuth;
  const device = Object.hasOwn(session.devices.devices, deviceId) ? session.devices.devices[deviceId] : undefined;
  return device === undefined ? { authenticatedAt: session.meta.createdAt, persistent: true } : deviceAuth(device);
}

export function sessionInfo(session: LoadedSession, deviceId: string): SessionInfo {
  const { meta } = session;
  const auth = authOf(session, deviceId);
  return {
    id: meta.id,
    userId: meta.userId,
    deviceId,
    createdAt: isoTime(meta.createdAt),
    lastActiveAt: isoTime(meta.lastActiveAt),
    expiresAt: isoTime(expiresAt(meta)),
    authenticatedAt: isoTime(auth.authenticatedAt),
    ...(auth.authLevel !== undefined ? { authLevel: auth.authLevel } : {}),
    persistent: auth.persistent,
  };
}

function address(ip: string | undefined, settings: ViewSettings): string | undefined {
  return ip === undefined ? undefined : truncateAddress(ip, settings.addressPrefixes);
}

/** One device's details (addresses truncated again: devices stored by earlier releases kept them whole). */
export function deviceDetails(id: string, device: DeviceState, current: boolean, settings: ViewSettings): DeviceDetails {
  const auth = deviceAuth(device);
  const ua = device.userAgent === undefined ? {} : parseUserAgent(device.userAgent);
  const ip = address(device.ip, settings);
  const lastIp = address(device.lastIp, settings);
  return {
    id,
    ...(device.name !== undefined ? { name: device.name } : {}),
    ...(device.kind !== undefined ? { kind: device.kind } : {}),
    ...ua,
    ...(ip !== undefined ? { ip } : {}),
    ...(lastIp !== undefined ? { lastIp } : {}),
    ...(device.country !== undefined ? { country: device.country } : {}),
    ...(device.lastCountry !== undefined ? { lastCountry: device.lastCountry } : {}),
    createdAt: isoTime(device.createdAt),
    lastActiveAt: isoTime(device.lastActiveAt),
    authenticatedAt: isoTime(auth.authenticatedAt),
    ...(auth.authLevel !== undefined ? { authLevel: auth.authLevel } : {}),
    persistent: auth.persistent,
    current,
  };
}

export function devicesView(session: LoadedSession, currentDeviceId: string | null, settings: ViewSettings): DevicesView {
  return {
    devices: liveDevices(session.devices).map(([id, device]) => deviceDetails(id, device, id === currentDeviceId, settings)),
    version: session.versions.devices,
  };
}

/** A device as a privacy export shows it: everything stored but the token hashes. */
export interface ExportedDevice extends Omit<DeviceDetails, 'current'> {
  readonly userAgent?: string;
  readonly revokedAt?: string;
  readonly revokedFor?: string;
}

export interface ExportedSession {
  readonly id: string;
  /** `live`; `ended` (logged out everywhere, or erased); `expired`; `merged` into the session named by `mergedInto`. */
  readonly state: 'live' | 'ended' | 'expired' | 'merged';
  readonly createdAt: string;
  readonly lastActiveAt: string;
  readonly expiresAt: string;
  readonly endedAt?: string;
  readonly mergedInto?: string;
  readonly devices: ExportedDevice[];
  readonly cart: { readonly items: ReturnType<typeof cartItems> };
  readonly prefs: ReturnType<typeof prefsObject>;
  readonly history: { readonly items: ReturnType<typeof historyItems> };
}

export function exportedSession(snapshot: SessionSnapshot, now: number, settings: ViewSettings): ExportedSession {
  const { meta } = snapshot;
  const state = meta.mergedInto !== undefined ? 'merged' : meta.endedAt !== undefined ? 'ended' : isSessionLive(meta, now) ? 'live' : 'expired';
  const devices = Object.entries(snapshot.devices.devices)
    .sort(([p, dp], [q, dq]) => dp.createdAt - dq.createdAt || (p < q ? -1 : 1))
    .map(([id, device]): ExportedDevice => {
      const { current: _current, ...details } = deviceDetails(id, device, false, settings);
      return {
        ...details,
        ...(device.userAgent !== undefined ? { userAgent: device.userAgent } : {}),
        ...(device.revokedAt !== undefined ? { revokedAt: isoTime(device.revokedAt) } : {}),
        ...(device.revokedFor !== undefined ? { revokedFor: device.revokedFor } : {}),
      };
    });
  return {
    id: meta.id,
    state,
    createdAt: isoTime(meta.createdAt),
    lastActiveAt: isoTime(meta.lastActiveAt),
    expiresAt: isoTime(expiresAt(meta)),
    ...(meta.endedAt !== undefined ? { endedAt: isoTime(meta.endedAt) } : {}),
    ...(meta.mergedInto !== undefined ? { mergedInto: meta.mergedInto } : {}),
    devices,
    cart: { items: cartItems(snapshot.cart) },
    prefs: prefsObject(snapshot.prefs),
    history: { items: historyItems(snapshot.history) },
  };
}
