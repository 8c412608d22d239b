/**
 * W3C trace context for the SDK's calls, without an OpenTelemetry dependency:
 * a call made within `withTraceContext` sends that `traceparent` (and
 * `tracestate`), so a trace that reached your app continues through Tessera.
 * The Express and Fastify middleware do this for every call of a request,
 * with the trace context the request arrived with.
 *
 * An app traced by OpenTelemetry's own undici instrumentation gets a
 * `traceparent` on every call already (that of its client span): turn
 * `forwardTraceContext` off in the middleware there, so that each call
 * carries one.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface TraceContext {
  /** `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`. */
  readonly traceparent: string;
  readonly tracestate?: string;
}

// Version 00 as the W3C Trace Context spec lays it out; all-zero ids are invalid.
const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;
/** The spec's limit is 32 list members of at most 256 characters each. */
const TRACESTATE_MAX = 8192;

const current = new AsyncLocalStorage<TraceContext>();

/**
 * The trace context of incoming headers, or undefined when `traceparent` is
 * missing or malformed (a malformed one is dropped, never forwarded).
 */
export function traceContextOf(traceparent: string | undefined, tracestate?: string): TraceContext | undefined {
  const parent = traceparent?.trim().toLowerCase();
  if (parent === undefined || !TRACEPARENT.test(parent)) return undefined;
  const state = tracestate?.trim();
  return state !== undefined && state !== '' && state.length <= TRACESTATE_MAX ? { traceparent: parent, tracestate: state } : { traceparent: parent };
}

/**
 * Runs `fn`; every Tessera call it makes, however deep and however late,
 * sends `trace` (nothing when it is undefined).
 * @example
 * app.get('/cart', (req, res) =>
 *   withTraceContext(traceContextOf(req.get('traceparent'), req.get('tracestate')), async () => {
 *     res.json(await tessera.getCart(token));
 *   }),
 * );
 */
export function withTraceContext<T>(trace: TraceContext | undefined, fn: () => T): T {
  return trace === undefined ? fn() : current.run(trace, fn);
}

/** The trace context of the current call, if any (read by the transport). */
export function activeTraceContext(): TraceContext | undefined {
  return current.getStore();
}

/**
 * `target` with every method running within `trace`: how the middleware's
 * session makes its calls carry the request's trace context.
 */
export function bindTraceContext<T extends object>(target: T, trace: TraceContext | undefined): T {
  if (trace === undefined) return target;
  return new Proxy(target, {
    get(object, property) {
      // The object itself as receiver: its getters read private fields, which a proxy lacks.
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => current.run(trace, () => (value as (...a: unknown[]) => unknown).apply(object, args));
    },
  });
}
