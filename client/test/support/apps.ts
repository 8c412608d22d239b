/**
 * The same small shop API on Express 5, Express 4 and Fastify, so one
 * behaviour suite runs against every adapter. Each route is a thin call of a
 * session helper.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express5 from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import formbody from '@fastify/formbody';
import type { TesseraClient } from '../../src/index.js';
import {
  tesseraSession,
  CsrfRefusedError,
  ReauthenticationRequiredError,
  requireFreshAuth,
  requireLevel,
  type SessionOptions,
  type TesseraSession,
} from '../../src/express.js';
import { tesseraFastify, requireFreshAuth as fastifyFreshAuth, requireLevel as fastifyLevel } from '../../src/fastify.js';

/** Express 5 (the types this package compiles against) or Express 4, which the middleware also supports. */
type ExpressFactory = typeof express5;

export interface RunningApp {
  readonly url: string;
  close(): Promise<void>;
}

type Options = Omit<SessionOptions<unknown>, 'client' | 'parts'>;

function state(session: TesseraSession) {
  return {
    exists: session.exists,
    isGuest: session.isGuest,
    userId: session.userId,
    deviceId: session.deviceId ?? null,
    csrfToken: session.csrfToken ?? null,
    csrf: session.csrf,
    cart: session.cart?.items.map((i) => [i.sku, i.quantity]) ?? null,
    history: session.history?.items.map((i) => i.productId) ?? null,
    prefs: session.prefs ?? null,
    authLevel: session.authLevel ?? null,
    authenticatedAt: session.authenticatedAt?.toISOString() ?? null,
    persistent: session.persistent,
  };
}

type Body = Record<string, string | undefined>;

/** Route handlers shared by both frameworks: (session, body) → JSON. */
const routes: Record<string, (session: TesseraSession, body: Body) => Promise<unknown>> = {
  '/cart/add': async (s, b) => (await s.addToCart(b.sku!, Number(b.quantity ?? 1))).items.length,
  '/cart/set': async (s, b) => (await s.setQuantity(b.sku!, Number(b.quantity))).items.length,
  '/cart/remove': async (s, b) => (await s.removeFromCart(b.sku!)).items.length,
  '/prefs': async (s, b) => s.patchPrefs({ [b.key!]: b.value ?? null }),
  '/view': async (s, b) => (await s.recordView(b.productId!)).items.length,
  '/signin': async (s, b) =>
    s.signIn(b.userId!, undefined, {
      ...(b.remember !== undefined ? { persistent: b.remember === 'yes' } : {}),
      ...(b.authLevel !== undefined ? { authLevel: b.authLevel } : {}),
    }),
  '/reauthenticate': async (s, b) => s.reauthenticate(b.authLevel),
  '/rotate': async (s) => s.rotate(),
  '/logout': async (s) => s.logout(),
  '/logout-everywhere': async (s) => s.logoutEverywhere(),
  '/logout-others': async (s) => s.logoutOtherDevices(),
  '/devices/revoke': async (s, b) => s.revokeDevice(b.deviceId!),
};

/** Guarded routes: a step-up check in front of a handler that answers what it saw. */
const FRESH_SECONDS = 1;

/** Express 4 does not catch a rejected handler: route errors go to `next` by hand (harmless on 5). */
const caught =
  (handler: (req: express5.Request, res: express5.Response) => Promise<void>) =>
  (req: express5.Request, res: express5.Response, next: express5.NextFunction): void => {
    handler(req, res).catch(next);
  };

export async function startExpressApp(client: TesseraClient, options: Options = {}, express: ExpressFactory = express5): Promise<RunningApp> {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(express.json());
  app.use(tesseraSession({ client, ...options }));
  app.get('/state', (req, res) => {
    res.json(state(req.tessera));
  });
  app.get('/alias', (req, res) => {
    res.json({ same: (req as unknown as { session: unknown }).session === req.tessera });
  });
  app.get(
    '/devices',
    caught(async (req, res) => {
      res.json(await req.tessera.devices());
    }),
  );
  app.get('/fresh', requireFreshAuth(FRESH_SECONDS), (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/strong', requireLevel('otp', 'webauthn'), (_req, res) => {
    res.json({ ok: true });
  });
  for (const [path, handler] of Object.entries(routes)) {
    app.post(
      path,
      caught(async (req, res) => {
        const result = await handler(req.tessera, (req.body ?? {}) as Body);
        res.json({ result: result ?? null, state: state(req.tessera) });
      }),
    );
  }
  app.use((error: unknown, _req: express5.Request, res: express5.Response, _next: express5.NextFunction) => {
    if (error instanceof CsrfRefusedError) {
      res.status(403).json({ code: error.code, reason: error.reason, detail: error.message });
    } else if (error instanceof ReauthenticationRequiredError) {
      res.status(401).json({ code: error.code, reason: error.reason });
    } else {
      res.status(500).json({ error: String(error) });
    }
  });
  const server: Server = await new Promise((resolve) => {
    const s: Server = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function startFastifyApp(client: TesseraClient, options: Options = {}): Promise<RunningApp> {
  const app = Fastify();
  await app.register(formbody);
  await app.register(tesseraFastify, { client, ...options });
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof CsrfRefusedError) {
      return reply.code(403).send({ code: error.code, reason: error.reason, detail: error.message });
    }
    if (error instanceof ReauthenticationRequiredError) return reply.code(401).send({ code: error.code, reason: error.reason });
    return reply.code(500).send({ error: String(error) });
  });
  app.get('/state', async (request) => state(request.tessera));
  app.get('/fresh', { preHandler: fastifyFreshAuth(FRESH_SECONDS) }, async () => ({ ok: true }));
  app.get('/strong', { preHandler: fastifyLevel('otp', 'webauthn') }, async () => ({ ok: true }));
  app.get('/alias', async (request) => ({ same: (request as unknown as { session: unknown }).session === request.tessera }));
  app.get('/devices', async (request) => request.tessera.devices());
  for (const [path, handler] of Object.entries(routes)) {
    app.post(path, async (request) => {
      const result = await handler(request.tessera, (request.body ?? {}) as Body);
      return { result: result ?? null, state: state(request.tessera) };
    });
  }
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}

/** The Express app on Express 4.21 (express-session's users are mostly on 4). */
export function startExpress4App(client: TesseraClient, options: Options = {}): Promise<RunningApp> {
  return startExpressApp(client, options, express4 as unknown as ExpressFactory);
}
