/**
 * Step-up checks for routes that need a fresh or strong authentication
 * (ASVS 7.5.1: re-authenticate before changing sensitive account attributes).
 * `requireFreshAuth` and `requireLevel` (Express: `@tessera/client/express`,
 * Fastify: `@tessera/client/fastify`) refuse with `ReauthenticationRequiredError`,
 * which the app turns into a re-login prompt; after it, `req.tessera.reauthenticate()`.
 */
import type { TesseraSession } from './session.js';

/** Why a route refused: no signed-in user, an authentication too old, or not of a level asked for. */
export type ReauthenticationReason = 'signed-out' | 'stale' | 'level';

/** The route needs the user to authenticate (again): send them to a re-login page, then back. */
export class ReauthenticationRequiredError extends Error {
  readonly status = 401;
  readonly statusCode = 401;
  readonly code = 'reauthentication-required';
  /** Express's default handler shows the message only for errors marked exposable. */
  readonly expose = true;

  constructor(
    readonly reason: ReauthenticationReason,
    detail: string,
    /** The most the authentication may be old, in seconds (`requireFreshAuth`). */
    readonly maxAgeSeconds?: number,
    /** Levels any of which would do (`requireLevel`). */
    readonly levels?: readonly string[],
  ) {
    super(detail);
    this.name = 'ReauthenticationRequiredError';
  }
}

/** Null when the session's user authenticated within `maxAgeSeconds`; else why not. */
export function freshAuthRefusal(session: TesseraSession, maxAgeSeconds: number, now = Date.now()): ReauthenticationRequiredError | null {
  if (!session.userId) return new ReauthenticationRequiredError('signed-out', 'Sign in to continue', maxAgeSeconds);
  const at = session.authenticatedAt;
  if (at !== undefined && now - at.getTime() <= maxAgeSeconds * 1000) return null;
  return new ReauthenticationRequiredError('stale', `Confirm it is you: the last sign-in on this device was more than ${maxAgeSeconds} s ago`, maxAgeSeconds);
}

/** Null when the session's user authenticated at one of `levels`; else why not. */
export function levelRefusal(session: TesseraSession, levels: readonly string[]): ReauthenticationRequiredError | null {
  if (!session.userId) return new ReauthenticationRequiredError('signed-out', 'Sign in to continue', undefined, levels);
  const level = session.authLevel;
  if (level !== undefined && levels.includes(level)) return null;
  return new ReauthenticationRequiredError('level', `Confirm it is you with ${levels.join(' or ')}`, undefined, levels);
}

export function checkLevels(levels: readonly string[]): void {
  if (levels.length === 0 || levels.some((l) => typeof l !== 'string' || l === '')) {
    throw new TypeError('requireLevel needs at least one level name, e.g. requireLevel("otp", "webauthn")');
  }
}

export function checkMaxAge(maxAgeSeconds: number): void {
  if (!Number.isFinite(maxAgeSeconds) || maxAgeSeconds <= 0) {
    throw new TypeError(`requireFreshAuth needs a positive number of seconds, got ${String(maxAgeSeconds)}`);
  }
}
