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

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'tessera' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination === undefined ? pino(options) : pino(options, destination);
}
