/** Options of `TesseraClient` and of its calls, with their defaults. */
import type { Dispatcher } from 'undici';
import type { RetryOptions } from './retry.js';
import type { ClientOrigin, RequestOptions } from './transport.js';
import type { DeviceLabel, JsonObject, SessionPart } from './types.js';

export type { ClientOrigin, RequestOptions } from './transport.js';

export interface TesseraClientOptions {
  /**
   * Base URL(s) of Tessera, nearest region first. A call goes to the first one
   * not cooling down; one that refuses a connection or lets an attempt time out
   * is tried last for `endpointCooldownMs`, then first again.
   */
  readonly endpoints: string | readonly string[];
  /** API key sent as `Authorization: Bearer …` (a `sessions` or `admin` key from `TESSERA_API_KEYS`). */
  readonly apiKey?: string;
  /** Time limit of one attempt, connection to last byte. @default 5000 */
  readonly timeoutMs?: number;
  /** Time limit of opening a connection; past it the next endpoint is tried. @default 1000 */
  readonly connectTimeoutMs?: number;
  /** Keep-alive connections per endpoint. @default 32 */
  readonly connections?: number;
  /** How long an endpoint that refused a connection or timed out is tried last. @default 5000 */
  readonly endpointCooldownMs?: number;
  /** Retry settings, or `false` for none (failover to another endpoint still happens). */
  readonly retry?: Partial<RetryOptions> | false;
  /** @default '@tessera/client' */
  readonly userAgent?: string;
  /** An undici dispatcher to use instead of the built-in pools (proxies, custom TLS, tests). */
  readonly dispatcher?: Dispatcher;
}

export const DEFAULT_CLIENT_OPTIONS = Object.freeze({
  timeoutMs: 5000,
  connectTimeoutMs: 1000,
  connections: 32,
  endpointCooldownMs: 5000,
  userAgent: '@tessera/client',
});

/** Options of calls made with an end-user token. */
export interface TokenOptions extends RequestOptions {
  /** The device's CSRF token: on a mutation the service refuses a wrong one with `CsrfMismatchError`. */
  readonly csrfToken?: string;
  /** Where the end user's request came from: recorded as where the device was last seen (with its activity). */
  readonly client?: ClientOrigin;
}

/** Options of mutations. */
export interface WriteOptions extends TokenOptions {
  /** The part's version you last read: if it has moved on, nothing is written and `VersionMismatchError` is thrown. */
  readonly ifMatch?: string;
}

/**
 * A change whose answer you do not need: `{ return: 'minimal' }` asks for the
 * part's new version alone (`Prefer: return=minimal`) — the server renders
 * nothing and sends no body, and the call resolves to `{ version }`.
 */
export interface MinimalWriteOptions extends WriteOptions {
  readonly return: 'minimal';
}

/** What a change answered minimally resolves to: the part's new version (use it as `ifMatch`). */
export interface Written {
  readonly version: string;
}

export interface CreateSessionInput {
  /** Sign this user in; without it a guest session is created. */
  readonly userId?: string;
  /** How this device appears in "my devices" (its address is kept truncated). */
  readonly device?: DeviceLabel;
  /** A guest token whose cart and history merge into the user's session; it stops working. */
  readonly guestToken?: string;
  /**
   * False for "remember me" unticked: the device gets its own, shorter idle timeout and
   * lifetime, and the middleware sets a cookie that ends with the browser. @default true
   */
  readonly persistent?: boolean;
  /** How the user authenticated (`pwd`, `otp`, `webauthn`, …): `requireLevel` checks it. Needs `userId`. */
  readonly authLevel?: string;
  /** When the user already has the most devices allowed: refuse (`PayloadTooLargeError`), or log out the least recently active one. @default the service's TESSERA_DEVICE_LIMIT_ACTION */
  readonly atDeviceLimit?: 'refuse' | 'end-least-recent';
}

export interface GetSessionInput<P extends SessionPart> {
  /** Parts to return besides `session`; token validation alone reads only auth. @default [] */
  readonly parts?: readonly P[];
  /** A CSRF token to check: the answer's `csrf` says `valid`, `invalid` or `absent`. */
  readonly csrfToken?: string;
  /** Where the end user's request came from: recorded as where the device was last seen (with its activity). */
  readonly client?: ClientOrigin;
}

export interface CartItemInput {
  readonly sku: string;
  /** @default 1 */
  readonly quantity?: number;
  readonly attributes?: JsonObject;
}

export interface ViewInput {
  readonly productId: string;
  /** When it was viewed. @default now (pinned before the first attempt, so retries are idempotent) */
  readonly viewedAt?: Date | string;
}
