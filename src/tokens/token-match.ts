/**
 * How a presented token relates to a device's token family.
 *
 * - `current`: the newest token;
 * - `grace`: the previous token, still inside its grace window after rotation;
 * - `reused`: a token the family issued and has since rotated out — the
 *   previous one after its window, a remembered older hash, or any token that
 *   names an earlier generation than the device's: it left the family and came
 *   back, which is how a stolen token shows itself. Tokens carry their
 *   generation (`session-token.ts`), so reuse of *any* earlier token is caught
 *   with memory that does not grow with the number of rotations;
 * - `none`: not of this family, or the device is revoked, or idle past the
 *   idle timeout (a device expires on its own activity, not the session's), or
 *   a transient device past its own idle timeout or absolute deadline.
 */
import type { DeviceState } from '../domain/devices.js';
import { sameHash } from './session-token.js';

export type TokenMatch = 'current' | 'grace' | 'reused' | 'none';

export interface PresentedToken {
  /** SHA-256 of the token's secret. */
  readonly hash: string;
  /** The generation the token names; tokens issued before generations were written carry none. */
  readonly gen?: number;
}

export interface MatchContext {
  readonly now: number;
  /** The idle timeout: a device unused this long is no longer accepted. */
  readonly idleTimeoutMs: number;
}

export function matchToken(device: DeviceState | undefined, token: PresentedToken, { now, idleTimeoutMs }: MatchContext): TokenMatch {
  if (device === undefined || device.revokedAt !== undefined) return 'none';
  // A transient device has its own, shorter limits ("remember me" unticked).
  const idle = device.idleTimeoutMs === undefined ? idleTimeoutMs : Math.min(device.idleTimeoutMs, idleTimeoutMs);
  if (now >= device.lastActiveAt + idle) return 'none';
  if (device.absoluteExpiresAt !== undefined && now >= device.absoluteExpiresAt) return 'none';
  const { hash, gen } = token;
  if (sameHash(device.hash, hash)) return gen === undefined || gen === device.gen ? 'current' : 'none';
  if (sameHash(device.prevHash, hash)) {
    return device.graceUntil !== undefined && now < device.graceUntil ? 'grace' : 'reused';
  }
  // Compare against every retired hash so the time taken does not depend on which matched.
  let reused = false;
  for (const retired of device.retired) reused = sameHash(retired, hash) || reused;
  if (reused) return 'reused';
  return gen !== undefined && gen < device.gen ? 'reused' : 'none';
}

/** The current token, or the previous one inside its grace window. No verdict is no acceptance. */
export function isAccepted(match: TokenMatch | undefined): boolean {
  return match === 'current' || match === 'grace';
}
