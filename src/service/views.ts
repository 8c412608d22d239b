/**
 * Public shapes of API v1, derived from stored states. What callers see never
 * exposes stored layouts (counters, stamps, token hashes).
 */
import { deviceViews, type DeviceView } from '../domain/devices.js';
import { isoTime } from '../domain/iso-time.js';
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

export interface DevicesView {
  readonly devices: DeviceView[];
  readonly version: string;
}

export function sessionInfo(session: LoadedSession, deviceId: string): SessionInfo {
  const { meta } = session;
  return {
    id: meta.id,
    userId: meta.userId,
    deviceId,
    createdAt: isoTime(meta.createdAt),
    lastActiveAt: isoTime(meta.lastActiveAt),
    expiresAt: isoTime(expiresAt(meta)),
  };
}

export function devicesView(session: LoadedSession, currentDeviceId: string | null): DevicesView {
  return { devices: deviceViews(session.devices, currentDeviceId), version: session.versions.devices };
}

