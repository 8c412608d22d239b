/**
 * Public shapes of API v1, derived from stored states. What callers see never
 * exposes stored layouts (counters, stamps, token hashes).
 */
import { deviceViews, type DeviceView } from '../domain/devices.js';
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

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * A view of a part state, computed once per state object. The L1 cache hands
 * out the same state object until the part changes, so on a cache hit the view
 * is reused too. States are never mutated, so the memo cannot go stale.
 */
export function memoized<S extends object, V>(compute: (state: S) => V): (state: S) => V {
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

export function devicesView(session: LoadedSession, currentDeviceId: string | null): DevicesView {
  return { devices: deviceViews(session.devices, currentDeviceId), version: session.versions.devices };
}

