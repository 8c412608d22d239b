/**
 * The process logger. Tokens, CSRF tokens, API keys and cookies are redacted
 * wherever they might appear in a log line; the redaction is covered by a test.
 */
import { context, trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config/config.js';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["tessera-token"]',
  'req.headers["tessera-csrf"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'token',
  'csrfToken',
  'guestToken',
  '*.token',
  '*.csrfToken',
  '*.guestToken',
  'apiKey',
  '*.apiKey',
];

const CENSOR = '[redacted]';

/**
 * A session token anywhere in a URL: the prefix, then every character a token
 * (or its percent-encoding) may hold. Case-insensitive, since a path may be
 * upper-cased by whatever built it.
 */
const TOKEN_IN_URL = /tss1_[A-Za-z0-9._~%-]*/gi;

/**
 * A request URL fit for a log line: tokens in the path are redacted, and every
 * query parameter keeps its name but not its value (a caller may put a token,
 * an email or a key there; the names are enough to debug with).
 */
export function redactUrl(url: string): string {
  const at = url.indexOf('?');
  const query = (text: string): string =>
    text
      .split('&')
      .map((pair) => {
        const equals = pair.indexOf('=');
        return equals === -1 ? pair : `${pair.slice(0, equals)}=${CENSOR}`;
      })
      .join('&');
  const valuesHidden = at === -1 ? url : `${url.slice(0, at)}?${query(url.slice(at + 1))}`;
  return valuesHidden.replace(TOKEN_IN_URL, `tss1_${CENSOR}`);
}

interface LoggedRequest {
  readonly method?: string;
  readonly url?: string;
  readonly host?: string;
  readonly ip?: string;
  readonly socket?: { readonly remoteAddress?: string; readonly remotePort?: number } | null;
}

/**
 * `req` in a log line (a Fastify request, as Fastify's own serializer shows it),
 * with the URL redacted. Headers are never logged.
 */
export function serializeRequest(req: LoggedRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: typeof req.url === 'string' ? redactUrl(req.url) : undefined,
    host: req.host,
    remoteAddress: req.ip ?? req.socket?.remoteAddress,
    remotePort: req.socket?.remotePort,
  };
}

/**
 * `trace_id`, `span_id` and `trace_flags` of the active span (the request's, or
 * a store call's within it), as OpenTelemetry's log data model names them;
 * nothing outside a span.
 */
export function traceFields(): Record<string, string> {
  const span = trace.getSpanContext(context.active());
  if (span === undefined) return {};
  return { trace_id: span.traceId, span_id: span.spanId, trace_flags: span.traceFlags.toString(16).padStart(2, '0') };
}

export interface LoggerOptions {
  /** Add the active span's ids to every line (when tracing is on; off, the lookup is not even made). @default false */
  readonly traceIds?: boolean;
}

export function createLogger(level: LogLevel, destination?: DestinationStream, { traceIds = false }: LoggerOptions = {}): Logger {
  const options = {
    level,
    base: { service: 'tessera' },
    serializers: { req: serializeRequest },
    redact: { paths: REDACTED_PATHS, censor: CENSOR },
    ...(traceIds ? { mixin: traceFields } : {}),
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/**
 * A fault no code path handles ends the process, as Node's default does, but
 * said as a log line of its own (level fatal, with the error and its stack)
 * where operators' log pipelines look, not only as text on standard error.
 * No drain: state after such a fault is not to be trusted.
 */
export function exitOnUnhandled(logger: Logger): void {
  const exit = (what: string) => (error: unknown): void => {
    logger.fatal({ err: error }, `${what}; exiting`);
    process.exit(1);
  };
  process.on('uncaughtException', exit('uncaught exception'));
  process.on('unhandledRejection', exit('unhandled rejection'));
}
