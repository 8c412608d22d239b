/**
 * The Fastify application of the API listener: routes, validation,
 * problem+json errors, API keys, and the route schemas the OpenAPI document is
 * generated from (served, with metrics, by the management listener: admin-app.ts).
 */
import type { Tracer } from '@opentelemetry/api';
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { DEFAULT_HTTP_TIMEOUTS, type HttpTimeouts } from '../config/config.js';
import type { Limits } from '../domain/limits.js';
import type { SessionService } from '../service/session-service.js';
import type { SessionStore } from '../store/session-store.js';
import type { ApiKeyRing } from '../tokens/api-keys.js';
import { registerJsonParser } from './json-body.js';
import type { Metrics } from '../metrics.js';
import { PROBLEM_CONTENT_TYPE, classify, errorHandler, problemBody, problemType, sendProblem } from './problem.js';
import { AuthFailureLimit, InFlightLimit, TokenBuckets } from './rate-limit.js';
import { apiKeyOf, invalidApiKey, missingHost, scopeHook } from './request-context.js';
import { adminRoutes } from './routes/admin.js';
import { cartRoutes } from './routes/cart.js';
import { historyRoutes } from './routes/history.js';
import { type ReplicationState, healthRoutes, problemRoutes } from './routes/operations.js';
import { prefsRoutes } from './routes/prefs.js';
import { sessionRoutes, signInRoutes } from './routes/sessions.js';
import { Problem } from './schemas.js';
import { traceRequests } from '../tracing/request-spans.js';

export interface HttpAppOptions {
  readonly service: SessionService;
  readonly store: SessionStore;
  readonly keys: ApiKeyRing;
  readonly limits: Limits;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly draining: () => boolean;
  /** The global mode's link to NATS, for `/readyz` (absent: single-region). */
  readonly replication?: () => ReplicationState | null;
  /**
   * Requests per second per API key (0: unlimited), requests in flight per node, and failed
   * API-key authentications per minute per client address (0: unlimited; default 0 here, 60 in config).
   */
  readonly admission: { readonly rateLimitPerKey: number; readonly maxInFlight: number; readonly authFailuresPerMinute?: number };
  /** Sent as `Tessera-Node` so operators can see where a load balancer sent a request. */
  readonly nodeId: string;
  /** The clock of the rate limiter. @default Date.now */
  readonly now?: () => number;
  /** How long the listener waits for callers. @default DEFAULT_HTTP_TIMEOUTS */
  readonly timeouts?: HttpTimeouts;
  /** A span per request when tracing is on (`tracing/request-spans.ts`). @default null */
  readonly tracer?: Tracer | null;
}

/**
 * How often Node looks for requests past their head or request timeout (its
 * default, 30 s, would let a 10 s head timeout run to 40 s): a tenth of the
 * shorter timeout, between 50 ms and 1 s. The check walks the open connections
 * in C++, so once a second costs nothing that shows.
 */
export const timeoutCheckInterval = ({ headersMs, requestMs }: HttpTimeouts): number =>
  Math.max(50, Math.min(1_000, Math.floor(Math.min(headersMs, requestMs) / 10)));

/**
 * Answers a connection whose request never became a Fastify request. Only the
 * error code is logged: Node attaches the raw bytes, which may hold tokens and keys.
 */
export function writeClientError(this: FastifyInstance, error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const detail =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'the request headers are larger than the server accepts'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'the request did not arrive in time'
        : 'the request is not valid HTTP/1.1';
  this.log.debug({ code: error.code }, 'client error');
  if (socket.writable) {
    const body = JSON.stringify(problemBody('validation-failed', detail));
    socket.write(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

export async function buildHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const { service, store, keys, limits, metrics, logger, draining, nodeId, admission } = options;
  const buckets = admission.rateLimitPerKey > 0 ? new TokenBuckets(admission.rateLimitPerKey, options.now) : null;
  const inFlight = new InFlightLimit(admission.maxInFlight);
  const authFailures = (admission.authFailuresPerMinute ?? 0) > 0 ? new AuthFailureLimit(admission.authFailuresPerMinute!, options.now) : null;
  const timeouts = options.timeouts ?? DEFAULT_HTTP_TIMEOUTS;
  const app = fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: limits.bodyBytes,
    // Unknown fields and wrongly typed values are errors, not something to coerce or drop silently.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
    routerOptions: { maxParamLength: 512 },
    // Requests that still arrive on open connections while closing are served, not refused.
    return503OnClosing: false,
    // Requests the router refuses (bad percent-encoding, over-long parameters) answer like every other error.
    frameworkErrors: (error, request, reply) => {
      metrics.problems.inc({ type: problemType(classify(error).code) });
      return errorHandler(error, request, reply);
    },
    // Bytes that are not an HTTP request Fastify can route (headers over the limit, a malformed request line).
    clientErrorHandler: writeClientError,
    // A caller that sends slowly cannot keep a request or a connection open for as long as it likes
    // (Fastify's default request timeout, 0, also turns off Node's); a late request gets writeClientError's 400.
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.connectionMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    http: {
      // Node answers a Host-less HTTP/1.1 request with an empty 400; our onRequest hook answers with a problem (missingHost).
      requireHostHeader: false,
      headersTimeout: timeouts.headersMs,
      connectionsCheckingInterval: timeoutCheckInterval(timeouts),
    },
    // One log line per request comes from our onResponse hook, at debug level.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (1 µs each): the lines about a request name its reqId themselves.
    childLoggerFactory: (parent) => parent,
  });
  app.decorateRequest('apiKey', null);
  app.decorateRequest('admitted', false);
  // First of all hooks: every later one, and the handler, runs within the request's span.
  if (options.tracer) traceRequests(app, options.tracer);
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
  // Hooks on the hot path are callback-style: an async hook costs a promise and a microtask turn per request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('tessera-node', nodeId);
    // Answers carry tokens, CSRF tokens and a user's cart and devices: no cache may keep them,
    // and no browser may guess another media type than the one declared (docs/security.md).
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    const hostless = missingHost(request);
    // A node that is stopping still serves, but sends keep-alive clients to a new connection (elsewhere).
    if (draining() || hostless !== undefined) reply.header('connection', 'close');
    done(hostless);
  });
  // The in-flight slot a request holds (taken in v1's preHandler) is given back once, when it ends or is aborted.
  const release = (request: FastifyRequest): void => {
    if (!request.admitted) return;
    request.admitted = false;
    inFlight.release();
  };
  // One onResponse hook for the whole app: each hook is a step of Fastify's runner on every request.
  app.addHook('onResponse', (request, reply, done) => {
    release(request);
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500) request.log.warn({ reqId: request.id, req: request, statusCode: reply.statusCode }, 'request failed');
    else request.log.debug({ reqId: request.id, req: request, statusCode: reply.statusCode, ms: reply.elapsedTime }, 'request');
    done();
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
    // Shared schemas (app.addSchema) become components named by their $id.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    // Headers the handlers read are documented, not validated (see `documentedHeaders` in schemas.ts).
    transform: ({ schema, url }) => ({
      schema: schema?.documentedHeaders === undefined ? schema : { ...schema, headers: schema.documentedHeaders },
      url,
    }),
    // @fastify/swagger marks every request body required; a route's `x-optional-body` says otherwise.
    transformObject: (documentObject) => {
      const document = 'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject;
      for (const operations of Object.values(document.paths ?? {})) {
        for (const operation of Object.values(operations ?? {}) as Array<{ 'x-optional-body'?: boolean; requestBody?: { required?: boolean } } | undefined>) {
          if (operation?.['x-optional-body'] !== true) continue;
          delete operation['x-optional-body'];
          if (operation.requestBody !== undefined) operation.requestBody.required = false;
        }
      }
      return document;
    },
  });
  // Referenced by every route's error answers (one component in OpenAPI, not a copy per answer).
  app.addSchema(Problem);

  const context = { service, limits, keys };
  await app.register(async (v1) => {
    v1.addHook('onRequest', (request, reply, done) => {
      try {
        const wait = authFailures === null ? 0 : authFailures.retryAfter(request.ip);
        if (wait > 0) {
          reply.header('retry-after', String(wait));
          throw authFailures!.refusal();
        }
        request.apiKey = apiKeyOf(request, keys);
        if (request.apiKey === null) {
          authFailures?.fail(request.ip);
          throw invalidApiKey();
        }
        buckets?.take(request.apiKey.name);
      } catch (error) {
        done(error as Error);
        return;
      }
      done();
    });
    // The in-flight slot is for work: it is taken once the body has arrived and passed validation,
    // so requests still uploading (or trickling) hold none.
    v1.addHook('preHandler', (request, _reply, done) => {
      try {
        inFlight.admit();
      } catch (error) {
        done(error as Error);
        return;
      }
      // A flag on the request, not a WeakSet of requests: a weak entry per request is work for the garbage collector.
      request.admitted = true;
      done();
    });
    v1.addHook('onRequestAbort', (request, done) => {
      release(request);
      done();
    });
    // Scopes (docs/security.md): sign-in checks its own, by body; token routes and admin routes by plugin.
    signInRoutes(v1, context);
    await v1.register(async (token) => {
      token.addHook('onRequest', scopeHook('token'));
      sessionRoutes(token, context);
      cartRoutes(token, context);
      prefsRoutes(token, context);
      historyRoutes(token, context);
    });
    await v1.register(async (admin) => adminRoutes(admin, context));
  });
  healthRoutes(app, { store, draining, ...(options.replication ? { replication: options.replication } : {}) });
  problemRoutes(app);
  return app;
}
