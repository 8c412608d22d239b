/**
 * A server span per request, made by three Fastify hooks with the
 * OpenTelemetry API (docs/decisions.md D75: no monkey-patching
 * instrumentation). An incoming W3C `traceparent` (and `tracestate`) is the
 * span's parent; the span is named by method and route template, and records
 * the status code. Nothing from headers, the URL or the body is recorded:
 * tokens, API keys and cookies travel there.
 *
 * The span's context is made active for everything the request runs — later
 * hooks, validation, the handler, the error handler and the closing log line —
 * so that store spans become its children and every log line of the request
 * carries its ids (`logging.ts`). Fastify carries the async context across the
 * body's arrival and the answer's end by itself (its content-type parser and
 * response hooks run bound to the request), so entering it once, first thing
 * in onRequest, is enough; test/tracing guards that with a body sent late.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Span, type Tracer } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ATTR } from './attributes.js';

interface RequestTrace {
  /** Null once ended. */
  span: Span | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's span, while tracing is on. */
    tracing: RequestTrace | null;
  }
}

/** Probes, every few seconds from every balancer and orchestrator: a trace each would drown the requests'. */
const UNTRACED_ROUTES = new Set(['/healthz', '/readyz']);

/** Methods semantic conventions name as they are; others are `_OTHER`. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE']);

function end(request: FastifyRequest, statusCode: number | null): void {
  const span = request.tracing?.span;
  if (span === undefined || span === null) return;
  request.tracing!.span = null;
  if (statusCode === null) {
    // The caller went away before the answer.
    span.setAttribute(ATTR.errorType, 'aborted');
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'request aborted' });
  } else {
    span.setAttribute(ATTR.httpResponseStatusCode, statusCode);
    // Server spans are errors for 5xx only: a 4xx is the caller's, and answered as designed.
    if (statusCode >= 500) {
      span.setAttribute(ATTR.errorType, String(statusCode));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  span.end();
}

/** Registers the hooks; call before any other hook so that every later one runs inside the span's context. */
export function traceRequests(app: FastifyInstance, tracer: Tracer): void {
  app.decorateRequest('tracing', null);
  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    if (route !== undefined && UNTRACED_ROUTES.has(route)) return done();
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const method = KNOWN_METHODS.has(request.method) ? request.method : '_OTHER';
    const span = tracer.startSpan(
      route === undefined ? method : `${method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [ATTR.httpRequestMethod]: method,
          ...(route === undefined ? {} : { [ATTR.httpRoute]: route }),
          [ATTR.urlScheme]: request.protocol,
          [ATTR.requestId]: request.id,
        },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    request.tracing = { span };
    context.with(active, done);
  });
  app.addHook('onResponse', (request, reply, done) => {
    end(request, reply.statusCode);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    end(request, null);
    done();
  });
}
