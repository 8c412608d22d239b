/**
 * CSRF tokens: HMAC-SHA256 of the session and device under a per-session
 * secret. A token is bound to one device of one session and needs no storage of
 * its own; rotating the session token keeps it valid for that device.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { sameHash } from './session-token.js';

export function newCsrfSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function csrfToken(secret: string, sessionId: string, deviceId: string): string {
  return createHmac('sha256', secret).update(`${sessionId}.${deviceId}`).digest('base64url');
}

export type CsrfCheck = 'valid' | 'invalid' | 'absent';

export function checkCsrf(
  presented: string | undefined,
  secret: string,
  sessionId: string,
  deviceId: string,
): CsrfCheck {
  if (presented === undefined || presented === '') return 'absent';
  return sameHash(csrfToken(secret, sessionId, deviceId), presented) ? 'valid' : 'invalid';
}
