/**
 * The process logger. Tokens, CSRF tokens, API keys and cookies are redacted
 * wherever they might appear in a log line; the redaction is covered by a test.
 */
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

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'tessera' },
    serializers: { req: serializeRequest },
    redact: { paths: REDACTED_PATHS, censor: CENSOR },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
