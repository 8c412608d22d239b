/**
 * Fastify plugin: `app.register(tesseraFastify, { client })` puts a
 * `TesseraSession` on `request.tessera` (and `request.session`);
 * `requireFreshAuth` and `requireLevel` are `preHandler` hooks for routes that
 * need a recent or strong authentication.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { replaceSetCookie } from './middleware/cookies.js';
import { resolveOptions, type SessionOptions } from './middleware/options.js';
import { TesseraSession, type Carrier } from './middleware/session.js';
import { checkLevels, checkMaxAge, freshAuthRefusal, levelRefusal } from './middleware/step-up.js';

export type FastifySessionOptions = SessionOptions<FastifyRequest>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The visitor's Tessera session, set by the `tesseraFastify` plugin. */
    tessera: TesseraSession;
  }
}

/**
 * Validates the session cookie in one call per request (in `preHandler`, so
 * form bodies are parsed and `_csrf` can be read), enforces CSRF and
 * cross-site checks on unsafe methods and exposes the session with helpers.
 * Registered without encapsulation: it applies to every route of the instance.
 * A refused request throws `CsrfRefusedError` (statusCode 403) to your error handler.
 * @example
 * const app = Fastify();
 * await app.register(formbody);
 * await app.register(tesseraFastify, { client: tessera });
 * app.post('/cart', async (request, reply) => {
 *   await request.tessera.addToCart((request.body as { sku: string }).sku);
 *   return reply.redirect('/cart', 303);
 * });
 */
export const tesseraFastify: FastifyPluginAsync<FastifySessionOptions> = async (fastify, options) => {
  const resolved = resolveOptions(options);
  fastify.decorateRequest('tessera', null as unknown as TesseraSession);
  // Never take `request.session` from another plugin (@fastify/session during a migration).
  const alias = resolved.exposeAsSession && !fastify.hasRequestDecorator('session');
  if (alias) fastify.decorateRequest('session', null);
  fastify.addHook('preHandler', async (request, reply) => {
    const session = new TesseraSession(resolved.client, resolved, fastifyCarrier(request, reply, resolved.country(request)));
    request.tessera = session;
    if (alias) (request as unknown as { session: TesseraSession }).session = session;
    await session.open(resolved.parts(request));
  });
};

// Same effect as wrapping in fastify-plugin: hooks apply outside the plugin's own scope.
(tesseraFastify as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;
(tesseraFastify as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')] = 'tessera-session';

/**
 * A `preHandler` that lets the request through only when the signed-in user
 * authenticated on this device within `maxAgeSeconds`; otherwise throws a
 * `ReauthenticationRequiredError` (statusCode 401, `reason` `stale` or
 * `signed-out`) to your error handler, to send the user to a re-login page.
 * @example
 * app.post('/account/email', { preHandler: requireFreshAuth(5 * 60) }, changeEmail);
 */
export function requireFreshAuth(maxAgeSeconds: number): preHandlerAsyncHookHandler {
  checkMaxAge(maxAgeSeconds);
  return async function requireFreshAuthHook(request: FastifyRequest) {
    const refusal = freshAuthRefusal(request.tessera, maxAgeSeconds);
    if (refusal !== null) throw refusal;
  };
}

/**
 * A `preHandler` that lets the request through only when the user last
 * authenticated on this device at one of `levels`; otherwise throws a
 * `ReauthenticationRequiredError` (`reason` `level` or `signed-out`).
 * @example
 * app.post('/checkout/saved-card', { preHandler: requireLevel('otp', 'webauthn') }, pay);
 */
export function requireLevel(...levels: string[]): preHandlerAsyncHookHandler {
  checkLevels(levels);
  return async function requireLevelHook(request: FastifyRequest) {
    const refusal = levelRefusal(request.tessera, levels);
    if (refusal !== null) throw refusal;
  };
}

function fastifyCarrier(request: FastifyRequest, reply: FastifyReply, country: string | undefined): Carrier {
  return {
    method: request.method,
    selfOrigin: `${request.protocol}://${request.host}`,
    ip: request.ip,
    country,
    header: (name) => {
      const value = request.headers[name.toLowerCase()];
      return (Array.isArray(value) ? value[0] : value) || undefined;
    },
    bodyField: (name) => {
      const body = request.body;
      if (typeof body !== 'object' || body === null) return undefined;
      const value = (body as Record<string, unknown>)[name];
      return typeof value === 'string' ? value : undefined;
    },
    setCookie: (name, line) => {
      if (reply.sent) {
        throw new Error('Cannot set the Tessera session cookie after the reply was sent; call request.tessera helpers before reply.send()');
      }
      const lines = replaceSetCookie(reply.getHeader('set-cookie'), name, line);
      reply.removeHeader('set-cookie');
      reply.header('set-cookie', lines);
      reply.header('cache-control', 'private, no-store');
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
