/**
 * The management listener (`TESSERA_ADMIN_HOST`:`TESSERA_ADMIN_PORT`, loopback
 * by default): `/metrics`, the OpenAPI document and its Swagger UI, and
 * `/healthz` and `/readyz` again. Operators and scrapers read these; callers of
 * the API need not, and what they tell (routes, load, heap, problem counts) is
 * no business of whoever reaches the API port.
 */
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import { DEFAULT_HTTP_TIMEOUTS, type HttpTimeouts } from '../config/config.js';
import type { SessionStore } from '../store/session-store.js';
import { timeoutCheckInterval, writeClientError } from './app.js';
import type { Metrics } from '../metrics.js';
import { errorHandler, sendProblem } from './problem.js';
import { type ReplicationState, healthRoutes, metricsRoutes } from './routes/operations.js';

export interface AdminAppOptions {
  readonly store: SessionStore;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly draining: () => boolean;
  /** The global mode's link to NATS, for `/readyz` (absent: single-region). */
  readonly replication?: () => ReplicationState | null;
  readonly nodeId: string;
  /** The API listener's OpenAPI document (its `swagger()` once ready), generated from its route schemas. */
  readonly openapi: Readonly<Record<string, unknown>>;
  /** @default DEFAULT_HTTP_TIMEOUTS */
  readonly timeouts?: HttpTimeouts;
}

export async function buildAdminApp(options: AdminAppOptions): Promise<FastifyInstance> {
  const { store, metrics, logger, draining, nodeId, openapi } = options;
  const timeouts = options.timeouts ?? DEFAULT_HTTP_TIMEOUTS;
  const app = fastify({
    loggerInstance: logger as FastifyBaseLogger,
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.connectionMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    http: { headersTimeout: timeouts.headersMs, connectionsCheckingInterval: timeoutCheckInterval(timeouts) },
    return503OnClosing: false,
    frameworkErrors: (error, request, reply) => errorHandler(error, request, reply),
    clientErrorHandler: writeClientError,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (parent) => parent,
  });
  app.setErrorHandler((error, request, reply) => errorHandler(error, request, reply));
  app.setNotFoundHandler((request, reply) => sendProblem(reply, 'not-found', `no route ${request.method} ${request.url.split('?')[0]}`));
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('tessera-node', nodeId);
    reply.header('x-content-type-options', 'nosniff');
    if (draining()) reply.header('connection', 'close');
    done();
  });
  // The API listener's routes are all known by now: Swagger UI and /openapi.json serve its document as it is.
  // (Its types expect an OpenAPI 2 or 3.0 document; ours is 3.1, which it serves all the same.)
  await app.register(swagger, { mode: 'static', specification: { document: openapi as never } });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  metricsRoutes(app, { metrics });
  healthRoutes(app, { store, draining, ...(options.replication ? { replication: options.replication } : {}) });
  return app;
}
