/**
 * The Fastify application: routes, validation, problem+json errors, API keys,
 * metrics and the generated OpenAPI document.
 */
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import type { Limits } from '../domain/limits.js';
import type { SessionService } from '../service/session-service.js';
import type { SessionStore } from '../store/session-store.js';
import type { ApiKeyRing } from '../tokens/api-keys.js';
import { registerJsonParser } from './json-body.js';
import type { Metrics } from './metrics.js';
import { classify, errorHandler, problemType, sendProblem } from './problem.js';
import { requireApiKey } from './request-context.js';
import { adminRoutes } from './routes/admin.js';
import { cartRoutes } from './routes/cart.js';
import { historyRoutes } from './routes/history.js';
import { operationsRoutes } from './routes/operations.js';
import { prefsRoutes } from './routes/prefs.js';
import { sessionRoutes } from './routes/sessions.js';

export interface HttpAppOptions {
  readonly service: SessionService;
  readonly store: SessionStore;
  readonly keys: ApiKeyRing;
  readonly limits: Limits;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly draining: () => boolean;
}

export async function buildHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const { service, store, keys, limits, metrics, logger, draining } = options;
  const app = fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: limits.bodyBytes,
    // Unknown fields and wrongly typed values are errors, not something to coerce or drop silently.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
    routerOptions: { maxParamLength: 512 },
    return503OnClosing: true,
    // One log line per request comes from our onResponse hook, at debug level.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.decorateRequest('apiKey', null);
  registerJsonParser(app, limits.bodyBytes);
  // API v1 speaks JSON only: any other media type is a 415, not a string body.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((error, request, reply) => {
    metrics.problems.inc({ type: problemType(classify(error).code) });
    return errorHandler(error, request, reply);
  });
  app.setNotFoundHandler((request, reply) => {
    metrics.problems.inc({ type: problemType('not-found') });
    return sendProblem(reply, 'not-found', `no route ${request.method} ${request.url.split('?')[0]}`);
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requestDuration.observe({ method: request.method, route, status_code: reply.statusCode }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500) request.log.warn({ req: request, statusCode: reply.statusCode }, 'request failed');
    else request.log.debug({ req: request, statusCode: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tessera HTTP API',
        version: '1.0.0',
        description: 'Sessions, carts, preferences and browsing history for global e-commerce. Errors are RFC 9457 problem+json documents whose `type` is `/problems/<code>`.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'Caller API key from TESSERA_API_KEYS' },
          sessionToken: { type: 'apiKey', in: 'header', name: 'Tessera-Token', description: 'End-user token (tss1_…)' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const context = { service, limits, keys };
  await app.register(async (v1) => {
    v1.addHook('onRequest', async (request) => {
      request.apiKey = requireApiKey(request, keys, 'sessions');
    });
    sessionRoutes(v1, context);
    cartRoutes(v1, context);
    prefsRoutes(v1, context);
    historyRoutes(v1, context);
    await v1.register(async (admin) => adminRoutes(admin, context));
  });
  operationsRoutes(app, { store, metrics, draining });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
