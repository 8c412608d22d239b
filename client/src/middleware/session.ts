/**
 * `TesseraSession`: what the middleware puts on each request — the session
 * and the parts read with it, the CSRF token for forms, and helpers that
 * mutate through the SDK and keep the cookie in step. Framework-neutral: the
 * Express and Fastify adapters supply a `Carrier` (request facts + cookie I/O).
 */
import { isIP } from 'node:net';
import type { TesseraClient } from '../client.js';
import type { ClientOrigin } from '../transport.js';
import { InvalidTokenError } from '../errors.js';
import type {
  Cart,
  Credentials,
  CsrfState,
  Device,
  DeviceLabel,
  History,
  JsonObject,
  JsonValue,
  SessionInfo,
  SessionPart,
  SessionView,
} from '../types.js';
import {
  decodeCredentials,
  encodeCredentials,
  readCookie,
  serializeCookie,
} from './cookies.js';
import { CsrfRefusedError, SAFE_METHODS, crossSiteReason } from './csrf.js';
import type { ResolvedOptions } from './options.js';
import { bindTraceContext, traceContextOf } from '../trace-context.js';

/** What an adapter tells the session about its request and how it sets cookies. */
export interface Carrier {
  readonly method: string;
  readonly selfOrigin: string;
  readonly ip: string | undefined;
  /** The visitor's country, from the `country` option. */
  readonly country: string | undefined;
  header(name: string): string | undefined;
  /** A field of the parsed body, if the framework parsed one. */
  bodyField(name: string): string | undefined;
  /** Adds or replaces the `Set-Cookie` line for `name`. */
  setCookie(name: string, line: string): void;
}

type Parts = { -readonly [K in SessionPart]?: SessionView<SessionPart>[K] };

/** How a sign-in is remembered and how the user authenticated. */
export interface SignInOptions {
  /** False for "remember me" unticked: a cookie that ends with the browser, and shorter limits at Tessera. @default true */
  readonly persistent?: boolean;
  /** How the user authenticated (`pwd`, `otp`, `webauthn`, …): what `requireLevel` checks. */
  readonly authLevel?: string;
  /** At the device limit: refuse (the service's default) or log out the least recently active device. */
  readonly atDeviceLimit?: 'refuse' | 'end-least-recent';
}

const COUNTRY = /^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$/;

export class TesseraSession {
  readonly #client: TesseraClient;
  readonly #options: ResolvedOptions<never>;
  readonly #carrier: Carrier;
  #token: string | undefined;
  #csrfToken: string | undefined;
  #info: SessionInfo | undefined;
  #parts: Parts = {};
  #versions: Partial<Record<SessionPart, string>> = {};
  #csrf: CsrfState = 'absent';
  #creating: Promise<SessionInfo> | undefined;
  #configuredParts: readonly SessionPart[] = [];

  /** @internal Built by the middleware; use `req.tessera`. */
  constructor(client: TesseraClient, options: ResolvedOptions<never>, carrier: Carrier) {
    // Every call for this request carries the trace context it arrived with.
    this.#client = options.forwardTraceContext ? bindTraceContext(client, traceContextOf(carrier.header('traceparent'), carrier.header('tracestate'))) : client;
    this.#options = options;
    this.#carrier = carrier;
  }

  /** True when the request has a live session (a guest's or a user's). */
  get exists(): boolean {
    return this.#info !== undefined;
  }

  /** True for a live session without a user. */
  get isGuest(): boolean {
    return this.#info !== undefined && !this.#info.userId;
  }

  get userId(): string | null {
    return this.#info?.userId ?? null;
  }

  get id(): string | undefined {
    return this.#info?.id;
  }

  get deviceId(): string | undefined {
    return this.#info?.deviceId;
  }

  /** The session as Tessera describes it, or undefined when there is none. */
  get info(): SessionInfo | undefined {
    return this.#info;
  }

  /** Put it in forms as `<input type="hidden" name="_csrf">` or send it as the `Tessera-CSRF` header. */
  get csrfToken(): string | undefined {
    return this.#csrfToken;
  }

  /** The service's verdict on the CSRF token this request carried. */
  get csrf(): CsrfState {
    return this.#csrf;
  }

  /** The cart, when read with the session or changed since (empty without a session). */
  get cart(): Cart | undefined {
    if (!this.exists) return { items: [], version: '' };
    const cart = this.#parts.cart;
    return cart ? { items: cart.items, version: this.#versions.cart ?? '' } : undefined;
  }

  get prefs(): JsonObject | undefined {
    if (!this.exists) return {};
    return this.#parts.prefs;
  }

  /** Recently viewed products, newest first. */
  get history(): History | undefined {
    if (!this.exists) return { items: [], version: '' };
    const history = this.#parts.history;
    return history ? { items: history.items, version: this.#versions.history ?? '' } : undefined;
  }

  /** Versions of the parts read or written in this request, for `ifMatch`. */
  get versions(): Readonly<Partial<Record<SessionPart, string>>> {
    return this.#versions;
  }

  /** When the user last proved who they are on this device (sign-in or `reauthenticate`). */
  get authenticatedAt(): Date | undefined {
    const at = this.#info?.authenticatedAt;
    return at === undefined ? undefined : new Date(at);
  }

  /** How the user authenticated on this device, as the app said (`pwd`, `otp`, …). */
  get authLevel(): string | undefined {
    return this.#info?.authLevel;
  }

  /** False for a sign-in with "remember me" unticked (its cookie ends with the browser). */
  get persistent(): boolean {
    return this.#info?.persistent !== false;
  }

  /** @internal Reads the session named by the cookie and applies the CSRF rules. */
  async open(parts: readonly SessionPart[]): Promise<void> {
    this.#configuredParts = parts;
    const carrier = this.#carrier;
    const csrf = this.#options.csrf;
    const unsafe = !SAFE_METHODS.has(carrier.method.toUpperCase());
    if (csrf && unsafe) {
      const reason = crossSiteReason(
        {
          method: carrier.method,
          selfOrigin: carrier.selfOrigin,
          origin: carrier.header('origin'),
          secFetchSite: carrier.header('sec-fetch-site'),
        },
        csrf,
      );
      if (reason !== null) throw new CsrfRefusedError('cross-site', `Cross-site request refused: ${reason}`);
    }
    const stored = decodeCredentials(readCookie(carrier.header('cookie'), this.#options.cookieName));
    if (stored === undefined) return;
    // On a safe request check the stored CSRF token (it is what forms will carry);
    // on an unsafe one check the token the request carries.
    const presented = !csrf ? undefined : unsafe ? this.#presentedCsrf() : stored.csrfToken;
    const view = await this.#client.validateSession(stored.token, {
      parts,
      ...this.#origin(),
      ...(presented !== undefined ? { csrfToken: presented } : {}),
    });
    if (view === null) {
      this.#clearCookie(); // expired, revoked or rotated out: the visitor is signed out
      return;
    }
    this.#token = stored.token;
    this.#csrfToken = stored.csrfToken;
    this.#absorb(view);
    if (csrf && unsafe && view.csrf !== 'valid') {
      throw new CsrfRefusedError(
        'token',
        view.csrf === 'absent'
          ? `Missing CSRF token: send the "${csrf.headerName}" header or the "${csrf.formField}" form field`
          : 'The CSRF token does not belong to this session; reload the page and try again',
      );
    }
  }

  /**
   * Makes sure there is a session, creating a guest one (and its cookie) if not.
   * @example
   * await req.tessera.ensure(); // before rendering a form that needs csrfToken
   */
  async ensure(): Promise<SessionInfo> {
    if (this.#info) return this.#info;
    this.#creating ??= this.#client
      .createSession({ device: this.#deviceLabel() })
      .then((credentials) => {
        this.#adopt(credentials);
        this.#parts = { cart: { items: [] }, prefs: {}, history: { items: [] } };
        return credentials.session;
      })
      .finally(() => {
        this.#creating = undefined;
      });
    return this.#creating;
  }

  /**
   * Re-reads the session (default: the parts configured for the middleware).
   * @example
   * await req.tessera.reload(['devices']);
   */
  async reload(parts?: readonly SessionPart[]): Promise<void> {
    if (!this.#token) return;
    const view = await this.#client.validateSession(this.#token, { parts: parts ?? this.#configuredParts });
    if (view === null) this.#forget();
    else this.#absorb(view);
  }

  /**
   * Adds to a cart line, creating a guest session first when there is none.
   * @example
   * await req.tessera.addToCart('mug-blue', 2);
   */
  async addToCart(sku: string, quantity = 1, attributes?: JsonObject): Promise<Cart> {
    await this.ensure();
    const cart = await this.#guard(() =>
      this.#client.addToCart(this.#token!, { sku, quantity, ...(attributes ? { attributes } : {}) }),
    );
    return this.#keepCart(cart);
  }

  /**
   * Sets a cart line's quantity.
   * @example
   * await req.tessera.setQuantity('mug-blue', 3);
   */
  async setQuantity(sku: string, quantity: number, attributes?: JsonObject): Promise<Cart> {
    await this.ensure();
    const cart = await this.#guard(() =>
      this.#client.setCartItem(this.#token!, { sku, quantity, ...(attributes ? { attributes } : {}) }),
    );
    return this.#keepCart(cart);
  }

  /**
   * @example
   * await req.tessera.removeFromCart('mug-blue');
   */
  async removeFromCart(sku: string): Promise<Cart> {
    if (!this.#token) return { items: [], version: '' };
    return this.#keepCart(await this.#guard(() => this.#client.removeFromCart(this.#token!, sku)));
  }

  /**
   * @example
   * await req.tessera.clearCart();
   */
  async clearCart(): Promise<Cart> {
    if (!this.#token) return { items: [], version: '' };
    return this.#keepCart(await this.#guard(() => this.#client.clearCart(this.#token!)));
  }

  /**
   * Applies a JSON merge patch to the preferences (`null` deletes a key).
   * @example
   * await req.tessera.patchPrefs({ currency: 'EUR' });
   */
  async patchPrefs(patch: { [key: string]: JsonValue }): Promise<JsonObject> {
    await this.ensure();
    const result = await this.#guard(() => this.#client.patchPrefs(this.#token!, patch));
    this.#parts.prefs = result.prefs;
    this.#versions.prefs = result.version;
    return result.prefs;
  }

  /**
   * Records that the visitor viewed a product.
   * @example
   * await req.tessera.recordView(product.id);
   */
  async recordView(productId: string): Promise<History> {
    await this.ensure();
    const history = await this.#guard(() => this.#client.recordView(this.#token!, productId));
    this.#parts.history = { items: history.items };
    this.#versions.history = history.version;
    return history;
  }

  /**
   * Signs `userId` in on this device with a new token and CSRF token. A
   * guest's cart and history merge into the user's session and the guest
   * token stops working. A signed-in token on this device — another user's, or
   * this user's when they authenticate again — is logged out first, so it
   * stops working at once (ASVS 7.2.4; a rotation would leave it valid for the
   * grace window).
   * @example
   * await req.tessera.signIn(user.id);
   * res.redirect(303, '/');
   */
  async signIn(userId: string, device?: DeviceLabel, options: SignInOptions = {}): Promise<SessionInfo> {
    let guestToken: string | undefined;
    if (this.#token && this.isGuest) guestToken = this.#token;
    else if (this.#token) await this.#client.logout(this.#token);
    const credentials = await this.#client.createSession({
      userId,
      device: device ?? this.#deviceLabel(),
      ...(guestToken ? { guestToken } : {}),
      ...(options.persistent !== undefined ? { persistent: options.persistent } : {}),
      ...(options.authLevel !== undefined ? { authLevel: options.authLevel } : {}),
      ...(options.atDeviceLimit !== undefined ? { atDeviceLimit: options.atDeviceLimit } : {}),
    });
    const wanted = new Set([...this.#configuredParts, ...(Object.keys(this.#parts) as SessionPart[])]);
    this.#adopt(credentials);
    this.#parts = {};
    await this.reload([...wanted]);
    return credentials.session;
  }

  /**
   * Replaces this device's token (and cookie) with a fresh one.
   * @example
   * await req.tessera.rotate(); // e.g. after a password or e-mail change
   */
  async rotate(): Promise<SessionInfo> {
    if (!this.#token) return this.ensure();
    const credentials = await this.#guard(() => this.#client.rotate(this.#token!));
    this.#adopt(credentials);
    return credentials.session;
  }

  /**
   * Records that the user just proved who they are again on this device
   * (your route checked the password, code or key): `authenticatedAt` becomes
   * now and `authLevel` this one, and the device gets a new token (and
   * cookie). What `requireFreshAuth` and `requireLevel` look at.
   * @example
   * app.post('/confirm', async (req, res) => {
   *   if (!(await checkPassword(req.tessera.userId, req.body.password))) return res.status(403).send('Wrong password');
   *   await req.tessera.reauthenticate('pwd');
   *   res.redirect(303, String(req.query.next ?? '/account'));
   * });
   */
  async reauthenticate(authLevel?: string): Promise<SessionInfo> {
    if (!this.#token || !this.userId) throw new InvalidTokenError({ code: 'invalid-token', status: 401, detail: 'no signed-in user on this device to re-authenticate' });
    const credentials = await this.#guard(() =>
      this.#client.reauthenticate(this.#token!, { ...(authLevel !== undefined ? { authLevel } : {}), ...this.#origin() }),
    );
    this.#adopt(credentials);
    return credentials.session;
  }

  /**
   * Logs this device out and clears the cookie.
   * @example
   * await req.tessera.logout();
   */
  async logout(): Promise<void> {
    if (this.#token) await this.#client.logout(this.#token);
    this.#forget();
  }

  /**
   * Logs every device of this session out and clears the cookie.
   * @example
   * await req.tessera.logoutEverywhere();
   */
  async logoutEverywhere(): Promise<void> {
    if (this.#token) {
      try {
        await this.#client.logoutEverywhere(this.#token);
      } catch (error) {
        if (!(error instanceof InvalidTokenError)) throw error;
      }
    }
    this.#forget();
  }

  /**
   * Logs every other device of this session out and keeps this one signed in,
   * e.g. after the user changed their password (ASVS 7.4.3).
   * @example
   * await req.tessera.logoutOtherDevices();
   */
  async logoutOtherDevices(): Promise<void> {
    if (!this.#token) return;
    await this.#guard(() => this.#client.logoutOtherDevices(this.#token!));
    if (this.#parts.devices) this.#parts.devices = this.#parts.devices.filter((d) => d.current);
  }

  /**
   * The session's live devices, `current` marking this one.
   * @example
   * const devices = await req.tessera.devices();
   */
  async devices(): Promise<Device[]> {
    if (!this.#token) return [];
    const list = await this.#guard(() => this.#client.listDevices(this.#token!, this.#origin()));
    this.#parts.devices = list.devices;
    if (list.version !== undefined) this.#versions.devices = list.version;
    return list.devices;
  }

  /**
   * Revokes one device; revoking this one signs this visitor out.
   * @example
   * await req.tessera.revokeDevice(req.body.deviceId);
   */
  async revokeDevice(deviceId: string): Promise<void> {
    if (!this.#token) return;
    await this.#guard(() => this.#client.revokeDevice(this.#token!, deviceId));
    if (deviceId === this.#info?.deviceId) this.#forget();
    else if (this.#parts.devices) this.#parts.devices = this.#parts.devices.filter((d) => d.id !== deviceId);
  }

  #presentedCsrf(): string | undefined {
    if (!this.#options.csrf) return undefined;
    return this.#carrier.header(this.#options.csrf.headerName) || this.#carrier.bodyField(this.#options.csrf.formField) || undefined;
  }

  #deviceLabel(): DeviceLabel {
    const label = this.#options.deviceLabel({ userAgent: this.#carrier.header('user-agent'), ip: this.#carrier.ip });
    const country = this.#origin().client?.country;
    return label.country === undefined && country !== undefined ? { ...label, country } : label;
  }

  /** Where the visitor's request came from, as Tessera takes it: values it would refuse are left out. */
  #origin(): { client?: ClientOrigin } {
    const ip = this.#carrier.ip !== undefined && isIP(this.#carrier.ip) !== 0 ? this.#carrier.ip : undefined;
    const country = this.#carrier.country?.toUpperCase();
    const client: ClientOrigin = { ...(ip !== undefined ? { ip } : {}), ...(country !== undefined && COUNTRY.test(country) ? { country } : {}) };
    return client.ip === undefined && client.country === undefined ? {} : { client };
  }

  #absorb(view: SessionView<SessionPart>): void {
    this.#info = view.session;
    this.#csrf = view.csrf;
    this.#versions = { ...this.#versions, ...view.versions };
    for (const part of ['cart', 'prefs', 'history', 'devices'] as const) {
      if (view[part] !== undefined) (this.#parts as Record<string, unknown>)[part] = view[part];
    }
  }

  #adopt(credentials: Credentials): void {
    this.#token = credentials.token;
    this.#csrfToken = credentials.csrfToken;
    this.#info = credentials.session;
    this.#csrf = 'valid';
    this.#versions = {};
    this.#carrier.setCookie(
      this.#options.cookieName,
      serializeCookie(this.#options.cookieName, encodeCredentials(credentials), {
        secure: this.#options.secure,
        sameSite: this.#options.sameSite,
        // A transient sign-in ("remember me" unticked) gets a cookie without Max-Age: it ends with the browser.
        maxAgeSeconds: credentials.session.persistent === false ? undefined : this.#options.cookieMaxAgeSeconds,
      }),
    );
  }

  #keepCart(cart: Cart): Cart {
    this.#parts.cart = { items: cart.items };
    this.#versions.cart = cart.version;
    return cart;
  }

  /** Runs a call with this token; a token that died meanwhile signs the visitor out. */
  async #guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof InvalidTokenError) this.#forget();
      throw error;
    }
  }

  #forget(): void {
    const hadCookie = this.#token !== undefined;
    this.#token = undefined;
    this.#csrfToken = undefined;
    this.#info = undefined;
    this.#parts = {};
    this.#versions = {};
    this.#csrf = 'absent';
    if (hadCookie) this.#clearCookie();
  }

  #clearCookie(): void {
    this.#carrier.setCookie(
      this.#options.cookieName,
      serializeCookie(this.#options.cookieName, '', {
        secure: this.#options.secure,
        sameSite: this.#options.sameSite,
        maxAgeSeconds: 0,
      }),
    );
  }
}
