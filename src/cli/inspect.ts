/**
 * `tessera session inspect`: what a store holds of one session, for an
 * operator. Stored shape, not the API's: deadlines, tombstones, redirects and
 * versions are shown, but the CSRF secret and every token hash are redacted
 * (a hash cannot sign anyone in, yet it is a credential's fingerprint and has
 * no business on a terminal).
 */
import { cartItems } from '../domain/cart.js';
import type { DeviceState } from '../domain/devices.js';
import { historyItems } from '../domain/history.js';
import { isoTime } from '../domain/iso-time.js';
import { prefsObject } from '../domain/prefs.js';
import { forgetAt, isSessionLive } from '../domain/session.js';
import { sessionDigest } from '../domain/versions.js';
import type { SessionSnapshot } from '../store/session-store.js';
import { parseToken, TOKEN_PREFIX, type ParsedToken } from '../tokens/session-token.js';
import { matchToken, type TokenMatch } from '../tokens/token-match.js';
import { UsageError } from './usage.js';

export const REDACTED = '[redacted]';
/** A session id: 22 characters of base64url, after `region~` in the global mode. */
export const SESSION_ID = /^(?:[A-Za-z0-9_-]{1,32}~)?[A-Za-z0-9_-]{22}$/;

/** What was asked for: a session id, or a token (which names its session and device). */
export type InspectTarget = { readonly sessionId: string; readonly token?: ParsedToken };

export function parseInspectTarget(text: string): InspectTarget {
  const value = text.trim();
  if (value.startsWith(TOKEN_PREFIX)) {
    const token = parseToken(value);
    // Never echo what was given: it may be a real token with a typo.
    if (token === null) throw new UsageError('the argument starts like a session token (tss1_) but is not a well-formed one', 'session');
    return { sessionId: token.sessionId, token };
  }
  if (!SESSION_ID.test(value)) throw new UsageError('give a session token (tss1_…) or a session id (22 characters of base64url, after region~ in the global mode)', 'session');
  return { sessionId: value };
}

export type SessionStatus = 'live' | 'expired' | 'ended' | 'erased' | 'merged';

export function statusOf(snapshot: SessionSnapshot, now: number): SessionStatus {
  const { meta } = snapshot;
  if (meta.erasedAt !== undefined) return 'erased';
  if (meta.mergedInto !== undefined) return 'merged';
  if (meta.endedAt !== undefined) return 'ended';
  return isSessionLive(meta, now) ? 'live' : 'expired';
}

const time = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : isoTime(ms));

function deviceView(id: string, device: DeviceState): Record<string, unknown> {
  const { hash: _hash, prevHash, retired, createdAt, lastActiveAt, graceUntil, revokedAt, authenticatedAt, absoluteExpiresAt, ...rest } = device;
  return {
    id,
    ...rest,
    createdAt: time(createdAt),
    lastActiveAt: time(lastActiveAt),
    ...(revokedAt !== undefined ? { revokedAt: time(revokedAt) } : {}),
    ...(authenticatedAt !== undefined ? { authenticatedAt: time(authenticatedAt) } : {}),
    ...(absoluteExpiresAt !== undefined ? { absoluteExpiresAt: time(absoluteExpiresAt) } : {}),
    ...(graceUntil !== undefined ? { graceUntil: time(graceUntil) } : {}),
    hash: REDACTED,
    ...(prevHash !== undefined ? { prevHash: REDACTED } : {}),
    retiredTokens: retired.length,
  };
}

export interface InspectContext {
  readonly now: number;
  readonly horizonMs: number;
  readonly idleTimeoutMs: number;
}

/** The report printed as JSON. */
export function inspectReport(snapshot: SessionSnapshot, target: InspectTarget, { now, horizonMs, idleTimeoutMs }: InspectContext): Record<string, unknown> {
  const { meta, versions } = snapshot;
  let token: { deviceId: string; verdict: TokenMatch } | undefined;
  if (target.token !== undefined) {
    const device = Object.hasOwn(snapshot.devices.devices, target.token.deviceId) ? snapshot.devices.devices[target.token.deviceId] : undefined;
    token = { deviceId: target.token.deviceId, verdict: matchToken(device, target.token, { now, idleTimeoutMs }) };
  }
  return {
    id: meta.id,
    status: statusOf(snapshot, now),
    userId: meta.userId,
    createdAt: time(meta.createdAt),
    lastActiveAt: time(meta.lastActiveAt),
    idleExpiresAt: time(meta.idleExpiresAt),
    absoluteExpiresAt: time(meta.absoluteExpiresAt),
    ...(meta.endedAt !== undefined ? { endedAt: time(meta.endedAt) } : {}),
    ...(meta.erasedAt !== undefined ? { erasedAt: time(meta.erasedAt) } : {}),
    ...(meta.mergedInto !== undefined ? { mergedInto: meta.mergedInto } : {}),
    forgetAt: time(forgetAt(meta, horizonMs)),
    csrfSecret: meta.csrfSecret === '' ? '' : REDACTED,
    stamp: meta.t ?? null,
    digest: sessionDigest(meta, versions),
    versions,
    ...(token !== undefined ? { token } : {}),
    devices: Object.entries(snapshot.devices.devices).map(([id, device]) => deviceView(id, device)),
    cart: cartItems(snapshot.cart),
    prefs: prefsObject(snapshot.prefs),
    history: historyItems(snapshot.history),
  };
}
