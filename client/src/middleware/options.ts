/** Options of the Express middleware and the Fastify plugin, and their defaults. */
import type { TesseraClient } from '../client.js';
import type { DeviceLabel, SessionPart } from '../types.js';
import type { OriginPolicy } from './csrf.js';

export interface CsrfOptions extends Partial<OriginPolicy> {
  /** Request header carrying the CSRF token (for `fetch` calls). @default 'tessera-csrf' */
  readonly headerName?: string;
  /** Body field carrying it (for HTML forms; needs a body parser before the middleware). @default '_csrf' */
  readonly formField?: string;
}

export interface SessionOptions<Req> {
  /** The SDK client the middleware calls. */
  readonly client: TesseraClient;
  /** @default '__Host-tessera' (or 'tessera' when `secure` is false) */
  readonly cookieName?: string;
  /**
   * Mark the cookie `Secure`. Browsers accept Secure cookies from
   * `http://localhost` too; set false only to serve over plain HTTP under
   * another host name in development (the `__Host-` prefix then cannot be used).
   * @default true
   */
  readonly secure?: boolean;
  /** @default 'lax' */
  readonly sameSite?: 'lax' | 'strict';
  /** Cookie lifetime; the service's own idle and absolute expiry still apply. @default 34560000 (400 days, the browser maximum) */
  readonly cookieMaxAgeSeconds?: number;
  /** Parts read with the session on every request (one call), or a function choosing them per request. @default ['cart', 'prefs', 'history'] */
  readonly parts?: readonly SessionPart[] | ((request: Req) => readonly SessionPart[]);
  /** CSRF and cross-site checks on unsafe methods; `false` turns them off (APIs not used by browsers only). */
  readonly csrf?: CsrfOptions | false;
  /** How a new device is labelled in "my devices". @default browser and OS from the User-Agent */
  readonly deviceLabel?: (request: { userAgent: string | undefined; ip: string | undefined }) => DeviceLabel;
  /** Also expose the session as `req.session` (drop-in for express-session code), unless another middleware already set it. @default true */
  readonly exposeAsSession?: boolean;
  /**
   * Send the request's W3C trace context (`traceparent`, `tracestate`) with every Tessera call made
   * for it, so the trace continues through Tessera. Turn off when OpenTelemetry's undici
   * instrumentation already adds one. @default true
   */
  readonly forwardTraceContext?: boolean;
  /**
   * The visitor's country or region (ISO 3166: `DE`, `US-CA`), e.g. from your CDN's geo
   * header: `(req) => req.get('cf-ipcountry')`. Recorded at sign-in and, with the address,
   * as where a device was last seen. @default none
   */
  readonly country?: (request: Req) => string | undefined;
}

export const DEFAULT_PARTS: readonly SessionPart[] = Object.freeze(['cart', 'prefs', 'history'] as SessionPart[]);
export const DEFAULT_COOKIE_NAME = '__Host-tessera';
export const DEFAULT_COOKIE_MAX_AGE_SECONDS = 400 * 24 * 3600;

export interface ResolvedOptions<Req> {
  readonly client: TesseraClient;
  readonly cookieName: string;
  readonly secure: boolean;
  readonly sameSite: 'lax' | 'strict';
  readonly cookieMaxAgeSeconds: number;
  readonly parts: (request: Req) => readonly SessionPart[];
  readonly csrf: false | (OriginPolicy & { headerName: string; formField: string });
  readonly deviceLabel: (request: { userAgent: string | undefined; ip: string | undefined }) => DeviceLabel;
  readonly exposeAsSession: boolean;
  readonly forwardTraceContext: boolean;
  readonly country: (request: Req) => string | undefined;
}

/** Checks the options once, at start-up, naming the bad setting. */
export function resolveOptions<Req>(options: SessionOptions<Req>): ResolvedOptions<Req> {
  if (!options || typeof options.client !== 'object') {
    throw new TypeError('tesseraSession needs `client`: a TesseraClient');
  }
  const secure = options.secure ?? true;
  const cookieName = options.cookieName ?? (secure ? DEFAULT_COOKIE_NAME : 'tessera');
  if (cookieName.startsWith('__Host-') && !secure) {
    throw new TypeError(
      `cookieName "${cookieName}" uses the __Host- prefix, which browsers accept only with Secure; set secure: true or choose another cookieName`,
    );
  }
  if (cookieName.startsWith('__Secure-') && !secure) {
    throw new TypeError(`cookieName "${cookieName}" uses the __Secure- prefix, which needs secure: true`);
  }
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookieName)) {
    throw new TypeError(`cookieName "${cookieName}" is not a valid cookie name`);
  }
  const parts = options.parts ?? DEFAULT_PARTS;
  const csrf = options.csrf === false ? false : {
    headerName: (options.csrf?.headerName ?? 'tessera-csrf').toLowerCase(),
    formField: options.csrf?.formField ?? '_csrf',
    trustedOrigins: (options.csrf?.trustedOrigins ?? []).map((o) => new URL(o).origin),
    allowSameSite: options.csrf?.allowSameSite ?? false,
  };
  return {
    client: options.client,
    cookieName,
    secure,
    sameSite: options.sameSite ?? 'lax',
    cookieMaxAgeSeconds: options.cookieMaxAgeSeconds ?? DEFAULT_COOKIE_MAX_AGE_SECONDS,
    parts: typeof parts === 'function' ? parts : () => parts,
    csrf,
    deviceLabel: options.deviceLabel ?? defaultDeviceLabel,
    exposeAsSession: options.exposeAsSession ?? true,
    forwardTraceContext: options.forwardTraceContext ?? true,
    country: options.country ?? (() => undefined),
  };
}

/** "Chrome on macOS", kind `mobile` or `desktop`, from a User-Agent string. */
export function defaultDeviceLabel(request: { userAgent: string | undefined; ip: string | undefined }): DeviceLabel {
  const ua = request.userAgent ?? '';
  const browser =
    /Edg\//.test(ua) ? 'Edge'
    : /OPR\/|Opera/.test(ua) ? 'Opera'
    : /Firefox\//.test(ua) ? 'Firefox'
    : /Chrome\/|Chromium\/|CriOS\//.test(ua) ? 'Chrome'
    : /Safari\//.test(ua) ? 'Safari'
    : undefined;
  const os =
    /iPhone|iPad|iPod/.test(ua) ? 'iOS'
    : /Android/.test(ua) ? 'Android'
    : /Windows/.test(ua) ? 'Windows'
    : /Mac OS X|Macintosh/.test(ua) ? 'macOS'
    : /CrOS/.test(ua) ? 'ChromeOS'
    : /Linux/.test(ua) ? 'Linux'
    : undefined;
  const name = browser && os ? `${browser} on ${os}` : (browser ?? os ?? 'Unknown device');
  const label: DeviceLabel = {
    name,
    kind: /Mobi|iPhone|Android/.test(ua) ? 'mobile' : 'desktop',
    ...(ua ? { userAgent: ua.slice(0, 256) } : {}),
    ...(request.ip ? { ip: request.ip } : {}),
  };
  return label;
}
