/**
 * End-user session tokens.
 *
 * Format (version 1): `tss1_<sessionId>.<deviceId>.<generation>.<secret>`
 * (the session id starts with its home region in the global mode, `eu~…`),
 * base64url but for the generation (base 36). Tokens issued before the
 * generation was written, `tss1_<sessionId>.<deviceId>.<secret>`, stay valid.
 * The fixed prefix lets secret scanners recognise leaked tokens; the session id
 * lets a load balancer route by session without a lookup; the generation lets
 * the store recognise *any* rotated-out token of a device as reuse
 * (`token-match.ts`); the 256-bit secret comes from the CSPRNG. Only SHA-256 of the secret is ever stored: with 256
 * bits of entropy a server-side key (HMAC) would add nothing against guessing,
 * and plain SHA-256 lets every region verify without sharing a key. The hash
 * does not depend on the session id, so a device can be issued its secret
 * before sign-in decides which session (new, or the user's) it joins.
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_PREFIX = 'tss1_';
const SECRET_BYTES = 32;
const TOKEN_PATTERN = /^tss1_((?:[A-Za-z0-9_-]{1,32}~)?[A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{16})\.(?:([0-9a-z]{1,8})\.)?([A-Za-z0-9_-]{43})$/;
const HOME = /^([A-Za-z0-9_-]{1,32})~/;

export interface ParsedToken {
  readonly sessionId: string;
  readonly deviceId: string;
  /** SHA-256 of the secret, base64url: the only form that is stored. */
  readonly hash: string;
  /** The device's token generation this token was issued at; absent in tokens issued before it was written. */
  readonly gen?: number;
}

export interface TokenSecret {
  readonly secret: string;
  /** SHA-256 of the secret, base64url. */
  readonly hash: string;
}

/**
 * A new session id: 128 random bits, after the session's home region when
 * there is one (global mode: `eu~<22 characters>`). The home region orders
 * the session's auth changes; carrying it in the id puts it in every token.
 */
export function newSessionId(home?: string): string {
  const id = randomBytes(16).toString('base64url');
  return home === undefined ? id : `${home}~${id}`;
}

/** The home region a session id names, or null (ids made single-region, or before homes existed). */
export function homeOf(sessionId: string): string | null {
  return HOME.exec(sessionId)?.[1] ?? null;
}

export function newDeviceId(): string {
  return randomBytes(12).toString('base64url');
}

export function hashToken(secret: string): string {
  // One-shot hash: this runs on every request.
  return hash('sha256', secret, 'base64url');
}

export function newTokenSecret(): TokenSecret {
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  return { secret, hash: hashToken(secret) };
}

/** The token to hand out once; it is never stored or logged. */
export function formatToken(sessionId: string, deviceId: string, gen: number, { secret }: TokenSecret): string {
  return `${TOKEN_PREFIX}${sessionId}.${deviceId}.${gen.toString(36)}.${secret}`;
}

/** The token's parts, or null when it is not a well-formed v1 token. */
export function parseToken(token: string | undefined): ParsedToken | null {
  if (token === undefined || token.length > 160) return null;
  const match = TOKEN_PATTERN.exec(token);
  if (!match) return null;
  const [, sessionId, deviceId, gen, secret] = match;
  const hash = hashToken(secret!);
  return gen === undefined
    ? { sessionId: sessionId!, deviceId: deviceId!, hash }
    : { sessionId: sessionId!, deviceId: deviceId!, hash, gen: Number.parseInt(gen, 36) };
}

/** Constant-time equality of two base64url hashes. */
export function sameHash(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
