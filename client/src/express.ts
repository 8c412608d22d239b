/**
 * Express middleware: `app.use(tesseraSession({ client }))` puts a
 * `TesseraSession` on `req.tessera` (and `req.session`) for every request.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { replaceSetCookie } from './middleware/cookies.js';
import { resolveOptions, type SessionOptions } from './middleware/options.js';
import { TesseraSession, type Carrier } from './middleware/session.js';

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
      const session = new TesseraSession(resolved.client, resolved, expressCarrier(req, res));
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

function expressCarrier(req: Request, res: Response): Carrier {
  return {
    method: req.method,
    selfOrigin: `${req.protocol}://${req.host}`,
    ip: req.ip,
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
export { defaultDeviceLabel } from './middleware/options.js';
export type { SessionOptions, CsrfOptions } from './middleware/options.js';
