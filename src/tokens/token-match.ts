/**
 * How a presented token relates to a device's token family.
 *
 * - `current`: the newest token;
 * - `grace`: the previous token, still inside its grace window after rotation;
 * - `reused`: an older token, or the previous one after its window: it left the
 *   family and came back, which is how a stolen token shows itself;
 * - `none`: not of this family (or the device is revoked).
 */
import type { DeviceState } from '../domain/devices.js';
import { sameHash } from './session-token.js';

export type TokenMatch = 'current' | 'grace' | 'reused' | 'none';

export function matchToken(device: DeviceState | undefined, hash: string, now: number): TokenMatch {
  if (device === undefined || device.revokedAt !== undefined) return 'none';
  if (sameHash(device.hash, hash)) return 'current';
  if (sameHash(device.prevHash, hash)) {
    return device.graceUntil !== undefined && now < device.graceUntil ? 'grace' : 'reused';
  }
  // Compare against every retired hash so the time taken does not depend on which matched.
  let reused = false;
  for (const retired of device.retired) reused = sameHash(retired, hash) || reused;
  return reused ? 'reused' : 'none';
}

/** The current token, or the previous one inside its grace window. No verdict is no acceptance. */
export function isAccepted(match: TokenMatch | undefined): boolean {
  return match === 'current' || match === 'grace';
}
