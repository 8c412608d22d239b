/**
 * Express middleware (Express 4 and 5): `app.use(tesseraSession({ client }))`
 * puts a `TesseraSession` on `req.tessera` (and `req.session`) for every
 * request; `requireFreshAuth` and `requireLevel` guard routes that need a
 * recent or strong authentication.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { replaceSetCookie } from './middleware/cookies.js';
import { resolveOptions, type SessionOptions } from './middleware/options.js';
import { TesseraSession, type Carrier } from './middleware/session.js';
import { checkLevels, checkMaxAge, freshAuthRefusal, levelRefusal } from './middleware/step-up.js';

export type ExpressSessionOptions = SessionOptions<Request>;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * The visitor's Tessera session, set by `tesseraSession()`. Also on
       * `req.session` at run time (untyped there, so that this package can be
       * compiled next to `@types/express-session`).
       */
      tessera: TesseraSession;
    }
  }
}

/**
 * Reads the session cookie, validates it and loads the configured parts in one
 * call, enforces CSRF and cross-site checks on unsafe methods, and exposes the
 * session with helpers. Mount a body parser first if forms post `_csrf`.
 * A refused request goes to your error handler as a `CsrfRefusedError` (status 403).
 * @example
 * const tessera = new TesseraClient({ endpoints: 'http://127.0.0.1:8080', apiKey });
 * app.use(express.urlencoded({ extended: false }));
 * app.use(tesseraSession({ client: tessera }));
 * app.post('/cart', async (req, res) => {
 *   await req.tessera.addToCart(req.body.sku);
 *   res.redirect(303, '/cart');
 * });
 */
export function tesseraSession(options: ExpressSessionOptions): RequestHandler {
  const resolved = resolveOptions(options);
  return async function tesseraSessionMiddleware(req: Request, res: Response, next: NextFunction) {
    try {
      const session = new TesseraSession(resolved.client, resolved, expressCarrier(req, res, resolved.country(req)));
      req.tessera = session;
      // Never take `req.session` from express-session (both may run during a migration).
      const holder = req as unknown as { session?: unknown };
      if (resolved.exposeAsSession && holder.session === undefined) holder.session = session;
      await session.open(resolved.parts(req));
      next();
    } catch (error) {
      next(error);
    }
  };
}

/**
 * Lets the request through only when the signed-in user authenticated on this
 * device within `maxAgeSeconds` (sign-in or `req.tessera.reauthenticate()`);
 * otherwise passes a `ReauthenticationRequiredError` (status 401, `reason`
 * `stale` or `signed-out`) to your error handler, to send the user to a
 * re-login page. Mount after `tesseraSession`.
 * @example
 * app.post('/account/email', requireFreshAuth(5 * 60), changeEmail);
 * app.use((err, req, res, next) => {
 *   if (err instanceof ReauthenticationRequiredError) return res.redirect(303, `/confirm?next=${encodeURIComponent(req.originalUrl)}`);
 *   next(err);
 * });
 */
export function requireFreshAuth(maxAgeSeconds: number): RequestHandler {
  checkMaxAge(maxAgeSeconds);
  return function requireFreshAuthMiddleware(req: Request, _res: Response, next: NextFunction) {
    next(freshAuthRefusal(req.tessera, maxAgeSeconds) ?? undefined);
  };
}

/**
 * Lets the request through only when the user last authenticated on this
 * device at one of `levels` (the `authLevel` given at sign-in or
 * re-authentication); otherwise passes a `ReauthenticationRequiredError`
 * (`reason` `level` or `signed-out`) to your error handler.
 * @example
 * app.post('/checkout/saved-card', requireLevel('otp', 'webauthn'), pay);
 */
export function requireLevel(...levels: string[]): RequestHandler {
  checkLevels(levels);
  return function requireLevelMiddleware(req: Request, _res: Response, next: NextFunction) {
    next(levelRefusal(req.tessera, levels) ?? undefined);
  };
}

/**
 * `protocol://host[:port]` as the browser addressed this app. Express 5's
 * `req.host` keeps the port; Express 4's strips it (and is deprecated), so the
 * host is read as Express 5 reads it: X-Forwarded-Host when the proxy is
 * trusted, else Host.
 */
function selfOrigin(req: Request): string {
  const trusted = (req.app.get('trust proxy fn') as ((address: string | undefined, hop: number) => boolean) | undefined)?.(req.socket.remoteAddress, 0);
  const forwarded = trusted ? req.get('x-forwarded-host')?.split(',')[0]?.trim() : undefined;
  return `${req.protocol}://${forwarded || req.get('host') || req.hostname}`;
}

function expressCarrier(req: Request, res: Response, country: string | undefined): Carrier {
  return {
    method: req.method,
    selfOrigin: selfOrigin(req),
    ip: req.ip,
    country,
    header: (name) => req.get(name) || undefined,
    bodyField: (name) => {
      const value = (req.body as Record<string, unknown> | undefined)?.[name];
      return typeof value === 'string' ? value : undefined;
    },
    setCookie: (name, line) => {
      if (res.headersSent) {
        throw new Error('Cannot set the Tessera session cookie after the response was sent; call req.tessera helpers before res.send()');
      }
      res.setHeader('Set-Cookie', replaceSetCookie(res.getHeader('Set-Cookie'), name, line));
      res.setHeader('Cache-Control', 'private, no-store');
    },
  };
}

export { TesseraSession } from './middleware/session.js';
export { CsrfRefusedError } from './middleware/csrf.js';
export { ReauthenticationRequiredError } from './middleware/step-up.js';
export type { ReauthenticationReason } from './middleware/step-up.js';
export type { SignInOptions } from './middleware/session.js';
export { defaultDeviceLabel } from './middleware/options.js';
export type { SessionOptions, CsrfOptions } from './middleware/options.js';
