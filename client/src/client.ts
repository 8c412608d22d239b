/**
 * `TesseraClient`: every operation of Tessera API v1 as a typed method.
 *
 * Methods that act for an end user take that user's token first. Mutations
 * accept `ifMatch` (a part's version, for compare-and-swap) and `csrfToken`
 * (so the service itself checks it). Retries follow the rule in `retry.ts`.
 */
import { ConnectionError, InvalidTokenError, NotFoundError, TimeoutError, UnexpectedResponseError } from './errors.js';
import { DEFAULT_RETRY, type RetryOptions } from './retry.js';
import { Transport, type Answer, type Call, type RequestOptions } from './transport.js';
import {
  SESSION_PARTS,
  type Cart,
  type Credentials,
  type DeviceList,
  type History,
  type JsonObject,
  type JsonValue,
  type Prefs,
  type SessionPart,
  type SessionView,
  type UserDevices,
  type UserExport,
} from './types.js';

import {
  DEFAULT_CLIENT_OPTIONS,
  type CartItemInput,
  type CreateSessionInput,
  type GetSessionInput,
  type TesseraClientOptions,
  type TokenOptions,
  type ViewInput,
  type MinimalWriteOptions,
  type WriteOptions,
  type Written,
} from './client-options.js';

const seg = encodeURIComponent;

export class TesseraClient {
  readonly #transport: Transport;

  /**
   * @example
   * const tessera = new TesseraClient({
   *   endpoints: ['https://tessera.eu.example.com', 'https://tessera.us.example.com'],
   *   apiKey: process.env.TESSERA_API_KEY,
   * });
   */
  constructor(options: TesseraClientOptions) {
    const endpoints = typeof options.endpoints === 'string' ? [options.endpoints] : [...options.endpoints];
    if (endpoints.length === 0) throw new TypeError('TesseraClient needs at least one URL in `endpoints`');
    const retry: RetryOptions =
      options.retry === false ? { ...DEFAULT_RETRY, retries: 0 } : { ...DEFAULT_RETRY, ...options.retry };
    this.#transport = new Transport({
      endpoints,
      apiKey: options.apiKey,
      timeoutMs: options.timeoutMs ?? DEFAULT_CLIENT_OPTIONS.timeoutMs,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CLIENT_OPTIONS.connectTimeoutMs,
      connections: options.connections ?? DEFAULT_CLIENT_OPTIONS.connections,
      endpointCooldownMs: options.endpointCooldownMs ?? DEFAULT_CLIENT_OPTIONS.endpointCooldownMs,
      retry,
      userAgent: options.userAgent ?? DEFAULT_CLIENT_OPTIONS.userAgent,
      dispatcher: options.dispatcher,
    });
  }

  /** Endpoints in the order the next call tries them (those cooling down after a refusal or a timeout last). */
  get endpoints(): string[] {
    return this.#transport.endpointOrder;
  }

  // ── Operations ──────────────────────────────────────────────────────────

  /**
   * Whether the process at the first reachable endpoint is alive (`GET /healthz`);
   * false when no endpoint answers.
   * @example
   * if (!(await tessera.health())) console.warn('Tessera is down');
   */
  async health(options?: RequestOptions): Promise<boolean> {
    try {
      const answer = await this.#send({ method: 'GET', path: '/healthz', idempotent: true, authenticated: false, accept: [503] }, options);
      return answer.status === 200;
    } catch (error) {
      if (error instanceof ConnectionError || error instanceof TimeoutError) return false;
      throw error;
    }
  }

  /**
   * Whether the first reachable endpoint can reach its store (`GET /readyz`).
   * @example
   * await waitUntil(() => tessera.ready());
   */
  async ready(options?: RequestOptions): Promise<boolean> {
    const answer = await this.#send({ method: 'GET', path: '/readyz', idempotent: true, authenticated: false, accept: [503] }, options);
    return answer.status === 200;
  }

  // ── Sessions and devices ────────────────────────────────────────────────

  /**
   * Creates a guest session, or signs a user in (`POST /v1/sessions`). Signing in
   * with a `guestToken` merges the guest's cart and history into the user's
   * session and retires the guest token. Never retried once it may have
   * reached the server (a retry would mint a second device).
   * @example
   * const guest = await tessera.createSession({ device: { name: 'Firefox on Mac', kind: 'browser' } });
   * const user = await tessera.createSession({ userId: 'u-42', guestToken: guest.token });
   */
  async createSession(input: CreateSessionInput = {}, options?: RequestOptions): Promise<Credentials> {
    const answer = await this.#send({ method: 'POST', path: '/v1/sessions', body: input, idempotent: false }, options);
    return answer.body as Credentials;
  }

  /**
   * Signs `userId` in on a new device: `createSession({ userId, ... })`.
   * @example
   * const { token, csrfToken } = await tessera.signIn('u-42', { guestToken: cookieToken });
   */
  signIn(
    userId: string,
    input: Omit<CreateSessionInput, 'userId'> = {},
    options?: RequestOptions,
  ): Promise<Credentials> {
    return this.createSession({ ...input, userId }, options);
  }

  /**
   * Reads the session of `token` with the parts asked for (`GET /v1/session`).
   * Throws `InvalidTokenError` when the token is not live; see `validateSession`.
   * @example
   * const view = await tessera.getSession(token, { parts: ['cart', 'prefs'] });
   * view.cart.items; view.versions.cart; view.session.userId;
   */
  async getSession<P extends SessionPart = never>(
    token: string,
    input: GetSessionInput<P> = {},
    options?: RequestOptions,
  ): Promise<SessionView<P>> {
    const parts = [...new Set(input.parts ?? [])];
    for (const part of parts) {
      if (!SESSION_PARTS.includes(part)) throw new TypeError(`Unknown session part "${part}"; use ${SESSION_PARTS.join(', ')}`);
    }
    const query = parts.length > 0 ? `?parts=${parts.join(',')}` : '';
    const answer = await this.#send(
      { method: 'GET', path: `/v1/session${query}`, token, csrfToken: input.csrfToken, client: input.client, idempotent: true },
      options,
    );
    return answer.body as SessionView<P>;
  }

  /**
   * Like `getSession`, but an invalid token is an expected outcome: it returns
   * `null` instead of throwing.
   * @example
   * const view = await tessera.validateSession(cookie, { parts: ['cart'], csrfToken: req.get('tessera-csrf') });
   * if (view === null) clearCookie();
   * else if (view.csrf !== 'valid') refuse();
   */
  async validateSession<P extends SessionPart = never>(
    token: string | undefined,
    input: GetSessionInput<P> = {},
    options?: RequestOptions,
  ): Promise<SessionView<P> | null> {
    if (token === undefined || token === '') return null;
    try {
      return await this.getSession(token, input, options);
    } catch (error) {
      if (error instanceof InvalidTokenError) return null;
      throw error;
    }
  }

  /**
   * Issues a new token (and CSRF token) for this device; the old token stays
   * valid for a short grace window (`POST /v1/session/rotate`). Not retried once
   * it may have reached the server.
   * @example
   * const fresh = await tessera.rotate(token);
   * setCookie(fresh.token);
   */
  async rotate(token: string, options?: TokenOptions): Promise<Credentials> {
    const answer = await this.#send(
      { method: 'POST', path: '/v1/session/rotate', token, csrfToken: options?.csrfToken, client: options?.client, idempotent: false },
      options,
    );
    return answer.body as Credentials;
  }

  /**
   * Records a step-up: the user has just proved who they are again on this
   * device (your app checked the password, code or key). The device's
   * `authenticatedAt` becomes now and its `authLevel` the one given, and — as
   * at any authentication — it gets new credentials (the old token works for
   * the grace window). Needs an API key with the `sign-in` scope. Not retried
   * once it may have reached the server.
   * @example
   * if (await checkOtp(user, req.body.code)) {
   *   const fresh = await tessera.reauthenticate(token, { authLevel: 'otp' });
   *   setCookie(fresh.token);
   * }
   */
  async reauthenticate(token: string, options?: TokenOptions & { readonly authLevel?: string }): Promise<Credentials> {
    const body = options?.authLevel === undefined ? {} : { authLevel: options.authLevel };
    const answer = await this.#send(
      { method: 'POST', path: '/v1/session/reauthenticate', token, body, csrfToken: options?.csrfToken, client: options?.client, idempotent: false },
      options,
    );
    return answer.body as Credentials;
  }

  /**
   * Logs this device out (`DELETE /v1/session`). A token that is already
   * invalid counts as logged out, so this never throws `InvalidTokenError`.
   * @example
   * await tessera.logout(token);
   */
  async logout(token: string, options?: TokenOptions): Promise<void> {
    try {
      await this.#send({ method: 'DELETE', path: '/v1/session', token, csrfToken: options?.csrfToken, idempotent: true }, options);
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
    }
  }

  /**
   * Lists the live devices of the session, `current` marking this one, with
   * what a "my devices" page shows: browser and OS, the (truncated) address
   * and country each signed in from and was last seen from, when it last
   * authenticated and whether it is remembered.
   * @example
   * const { devices } = await tessera.listDevices(token);
   */
  async listDevices(token: string, options?: TokenOptions): Promise<DeviceList> {
    const answer = await this.#send({ method: 'GET', path: '/v1/session/devices', token, client: options?.client, idempotent: true }, options);
    const body = answer.body as { devices: DeviceList['devices'] };
    return { devices: body.devices, version: unquote(answer.etag) };
  }

  /**
   * Revokes another device's token (or this one's). Throws `NotFoundError`
   * for an unknown device id (except on a retry, where it means an earlier
   * attempt already revoked it).
   * @example
   * await tessera.revokeDevice(token, lostPhone.id);
   */
  async revokeDevice(token: string, deviceId: string, options?: WriteOptions): Promise<void> {
    await doneIfRetried(
      this.#send(
        { method: 'DELETE', path: `/v1/session/devices/${seg(deviceId)}`, token, ...writeHeaders(options), idempotent: true },
        options,
      ),
      NotFoundError,
    );
  }

  /**
   * Logs every device out: the session ends (`DELETE /v1/session/devices`).
   * @example
   * await tessera.logoutEverywhere(token);
   */
  async logoutEverywhere(token: string, options?: WriteOptions): Promise<void> {
    await doneIfRetried(
      this.#send({ method: 'DELETE', path: '/v1/session/devices', token, ...writeHeaders(options), idempotent: true }, options),
      InvalidTokenError,
    );
  }

  /**
   * Logs out every device of the session but this one
   * (`DELETE /v1/session/devices?except=current`), e.g. after a password change
   * (ASVS 7.4.3). This token, the session and its data stay. Idempotent, so
   * retried when safe. A Tessera older than this call refuses it with
   * `ValidationError` (it does not know `except`) and logs nobody out.
   * @example
   * await tessera.logoutOtherDevices(token, { csrfToken });
   */
  async logoutOtherDevices(token: string, options?: WriteOptions): Promise<void> {
    await this.#send(
      { method: 'DELETE', path: '/v1/session/devices?except=current', token, ...writeHeaders(options), idempotent: true },
      options,
    );
  }

  // ── Cart ────────────────────────────────────────────────────────────────

  /**
   * @example
   * const cart = await tessera.getCart(token);
   * cart.items.map((line) => `${line.quantity} × ${line.sku}`);
   */
  async getCart(token: string, options?: RequestOptions): Promise<Cart> {
    return withVersion<Cart>(await this.#send({ method: 'GET', path: '/v1/session/cart', token, idempotent: true }, options));
  }

  /**
   * Adds `quantity` (default 1) to a line. Concurrent adds all count, so this
   * is NOT idempotent: the SDK never retries it once it may have reached the
   * server. On a timeout, read the cart before adding again.
   * @example
   * const cart = await tessera.addToCart(token, { sku: 'mug-blue', quantity: 2 });
   */
  addToCart(token: string, item: CartItemInput, options: MinimalWriteOptions): Promise<Written>;
  addToCart(token: string, item: CartItemInput, options?: WriteOptions): Promise<Cart>;
  async addToCart(token: string, item: CartItemInput, options?: WriteOptions): Promise<Cart | Written> {
    return changed<Cart>(
      await this.#send(
        { method: 'POST', path: '/v1/session/cart/items', token, body: item, ...writeHeaders(options), idempotent: false },
        options,
      ),
      options,
    );
  }

  /**
   * Sets a line's quantity (`PUT`, idempotent, so retried when safe).
   * @example
   * await tessera.setCartItem(token, { sku: 'mug-blue', quantity: 3 }, { ifMatch: cart.version });
   */
  setCartItem(token: string, item: CartLineInput, options: MinimalWriteOptions): Promise<Written>;
  setCartItem(token: string, item: CartLineInput, options?: WriteOptions): Promise<Cart>;
  async setCartItem(token: string, item: CartLineInput, options?: WriteOptions): Promise<Cart | Written> {
    const { sku, ...body } = item;
    return changed<Cart>(
      await this.#send(
        { method: 'PUT', path: `/v1/session/cart/items/${seg(sku)}`, token, body, ...writeHeaders(options), idempotent: true },
        options,
      ),
      options,
    );
  }

  /**
   * @example
   * await tessera.removeFromCart(token, 'mug-blue');
   */
  removeFromCart(token: string, sku: string, options: MinimalWriteOptions): Promise<Written>;
  removeFromCart(token: string, sku: string, options?: WriteOptions): Promise<Cart>;
  async removeFromCart(token: string, sku: string, options?: WriteOptions): Promise<Cart | Written> {
    return changed<Cart>(
      await this.#send(
        { method: 'DELETE', path: `/v1/session/cart/items/${seg(sku)}`, token, ...writeHeaders(options), idempotent: true },
        options,
      ),
      options,
    );
  }

  /**
   * @example
   * await tessera.clearCart(token);
   */
  clearCart(token: string, options: MinimalWriteOptions): Promise<Written>;
  clearCart(token: string, options?: WriteOptions): Promise<Cart>;
  async clearCart(token: string, options?: WriteOptions): Promise<Cart | Written> {
    return changed<Cart>(
      await this.#send(
        { method: 'DELETE', path: '/v1/session/cart', token, ...writeHeaders(options), idempotent: true },
        options,
      ),
      options,
    );
  }

  // ── Preferences ─────────────────────────────────────────────────────────

  /**
   * @example
   * const { prefs, version } = await tessera.getPrefs(token);
   */
  async getPrefs(token: string, options?: RequestOptions): Promise<Prefs> {
    return withVersion<Prefs>(await this.#send({ method: 'GET', path: '/v1/session/prefs', token, idempotent: true }, options));
  }

  /**
   * Applies a JSON merge patch (RFC 7396): `null` deletes a key. Merge patches
   * are idempotent, so this is retried when safe.
   * @example
   * await tessera.patchPrefs(token, { currency: 'EUR', theme: null });
   */
  patchPrefs(token: string, patch: { [key: string]: JsonValue }, options: MinimalWriteOptions): Promise<Written>;
  patchPrefs(token: string, patch: { [key: string]: JsonValue }, options?: WriteOptions): Promise<Prefs>;
  async patchPrefs(token: string, patch: { [key: string]: JsonValue }, options?: WriteOptions): Promise<Prefs | Written> {
    return changed<Prefs>(
      await this.#send(
        {
          method: 'PATCH',
          path: '/v1/session/prefs',
          token,
          body: patch,
          contentType: 'application/merge-patch+json',
          ...writeHeaders(options),
          idempotent: true,
        },
        options,
      ),
      options,
    );
  }

  // ── Browsing history ────────────────────────────────────────────────────

  /**
   * @example
   * const { items } = await tessera.getHistory(token); // newest first
   */
  async getHistory(token: string, options?: RequestOptions): Promise<History> {
    return withVersion<History>(await this.#send({ method: 'GET', path: '/v1/session/history', token, idempotent: true }, options));
  }

  /**
   * Records a product view. The SDK pins `viewedAt` before the first attempt,
   * which makes the append idempotent (history keeps one entry per product, the
   * latest time), so it is retried when safe.
   * @example
   * await tessera.recordView(token, 'mug-blue');
   */
  recordView(token: string, view: string | ViewInput, options: MinimalWriteOptions): Promise<Written>;
  recordView(token: string, view: string | ViewInput, options?: WriteOptions): Promise<History>;
  async recordView(token: string, view: string | ViewInput, options?: WriteOptions): Promise<History | Written> {
    const input = typeof view === 'string' ? { productId: view } : view;
    const viewedAt = input.viewedAt === undefined ? new Date() : new Date(input.viewedAt);
    return changed<History>(
      await this.#send(
        {
          method: 'POST',
          path: '/v1/session/history',
          token,
          body: { productId: input.productId, viewedAt: viewedAt.toISOString() },
          ...writeHeaders(options),
          idempotent: true,
        },
        options,
      ),
      options,
    );
  }

  // ── Administration (API key with the `users` scope) ─────────────────────

  /**
   * Lists a user's devices; throws `NotFoundError` when the user has no live session.
   * @example
   * const { sessionId, devices } = await admin.getUserDevices('u-42');
   */
  async getUserDevices(userId: string, options?: RequestOptions): Promise<UserDevices> {
    const answer = await this.#send({ method: 'GET', path: `/v1/users/${seg(userId)}/devices`, idempotent: true }, options);
    return answer.body as UserDevices;
  }

  /**
   * Logs every device of a user out (support desk, account takeover response).
   * Throws `NotFoundError` when the user has no live session.
   * @example
   * await admin.logoutUser('u-42');
   */
  async logoutUser(userId: string, options?: RequestOptions): Promise<void> {
    await doneIfRetried(
      this.#send({ method: 'DELETE', path: `/v1/users/${seg(userId)}/sessions`, idempotent: true }, options),
      NotFoundError,
    );
  }

  /**
   * Everything Tessera holds about a user, for a privacy (access) request:
   * every session of theirs — live, expired or ended — with its devices,
   * cart, preferences and history. Token hashes and secrets are never included.
   * @example
   * const data = await admin.exportUser('u-42');
   * await mail(user.email, JSON.stringify(data, null, 2));
   */
  async exportUser(userId: string, options?: RequestOptions): Promise<UserExport> {
    const answer = await this.#send({ method: 'GET', path: `/v1/users/${seg(userId)}/export`, idempotent: true }, options);
    return answer.body as UserExport;
  }

  /**
   * Erases what Tessera holds about a user, for a privacy (erasure) request:
   * every device is logged out and every session of theirs reduced to a
   * tombstone that names no one. Idempotent; resolves to how many sessions
   * were erased (0 when there was nothing).
   * @example
   * await admin.eraseUser('u-42');
   */
  async eraseUser(userId: string, options?: RequestOptions): Promise<number> {
    const answer = await this.#send({ method: 'DELETE', path: `/v1/users/${seg(userId)}`, idempotent: true }, options);
    return (answer.body as { sessions: number }).sessions;
  }

  /**
   * Closes the keep-alive connections. Calls made afterwards throw.
   * @example
   * process.on('SIGTERM', () => tessera.close());
   */
  close(): Promise<void> {
    return this.#transport.close();
  }

  #send(call: Call, options?: RequestOptions): Promise<Answer> {
    return this.#transport.send(call, options);
  }
}

/**
 * A retried delete whose earlier attempt landed (its answer lost) finds the
 * thing gone: that refusal, on a retry only, means the delete is done.
 */
async function doneIfRetried(
  call: Promise<unknown>,
  gone: typeof NotFoundError | typeof InvalidTokenError,
): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof gone && error.attempts > 1)) throw error;
  }
}

function writeHeaders(options: WriteOptions | undefined): Pick<Call, 'csrfToken' | 'ifMatch' | 'prefer' | 'client'> {
  return {
    ...(options?.csrfToken !== undefined ? { csrfToken: options.csrfToken } : {}),
    ...(options?.ifMatch !== undefined ? { ifMatch: options.ifMatch } : {}),
    ...(isMinimal(options) ? { prefer: 'return=minimal' } : {}),
    ...(options?.client !== undefined ? { client: options.client } : {}),
  };
}

function isMinimal(options: WriteOptions | undefined): options is MinimalWriteOptions {
  return (options as Partial<MinimalWriteOptions> | undefined)?.return === 'minimal';
}

/**
 * A change's answer: the part, or — asked for `{ return: 'minimal' }` — its
 * version alone, from the ETag of the 204 (or from the body, should a server
 * answer in full).
 */
function changed<T extends { version: string }>(answer: Answer, options: WriteOptions | undefined): T | Written {
  if (!isMinimal(options)) return withVersion<T>(answer);
  if (answer.status === 204) return { version: unquote(answer.etag) ?? '' };
  return { version: withVersion<T>(answer).version };
}

/** A cart line to set: its SKU, quantity and attributes. */
type CartLineInput = { sku: string; quantity: number; attributes?: JsonObject };

/** The body, with `version` taken from the ETag when the body lacks one. */
function withVersion<T extends { version: string }>(answer: Answer): T {
  const body = answer.body;
  if (typeof body !== 'object' || body === null) {
    throw new UnexpectedResponseError({
      code: 'unexpected-response',
      status: answer.status,
      detail: `Expected a JSON body from ${answer.endpoint}`,
      endpoint: answer.endpoint,
    });
  }
  const version = (body as { version?: unknown }).version;
  return (typeof version === 'string' ? body : { ...body, version: unquote(answer.etag) ?? '' }) as T;
}

/** An ETag as a plain version string (`W/"v3"` → `v3`); `If-Match` accepts either form. */
function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}
