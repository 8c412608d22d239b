/**
 * How each problem is answered over HTTP: its status, title and the
 * description `/problems/<code>` documents. Every code the domain names
 * (`domain/errors.ts`) has exactly one entry.
 */
import type { ProblemCode } from '../domain/errors.js';

export const PROBLEMS = {
  'validation-failed': {
    status: 400,
    title: 'The request is not valid',
    description: 'A parameter, header or body field is missing, of the wrong type, or outside its limits. Nothing was written. `detail` names the field.',
  },
  'invalid-api-key': {
    status: 401,
    title: 'Missing or unknown API key',
    description: 'Send `Authorization: Bearer <api-key>` with a key from `TESSERA_API_KEYS`.',
  },
  'invalid-token': {
    status: 401,
    title: 'Invalid session token',
    description: 'The `Tessera-Token` is missing, malformed, unknown, expired, rotated out or revoked. The answer is the same for each so that nothing leaks which; sign in again.',
  },
  forbidden: {
    status: 403,
    title: 'The API key lacks the scope this needs',
    description:
      'Each API key has scopes (`TESSERA_API_KEYS`, `name:secret:scopes`): `sign-in` to sign users in, `token` for the routes that act on a session by its token (and guest sessions), `users` for the administration endpoints. `detail` names the one missing.',
  },
  'csrf-mismatch': {
    status: 403,
    title: 'CSRF token does not match',
    description: 'The `Tessera-CSRF` header does not belong to this session and device. Use the `csrfToken` returned by sign-in or rotation.',
  },
  'not-found': {
    status: 404,
    title: 'Not found',
    description: 'The resource (route, device or user session) does not exist.',
  },
  conflict: {
    status: 409,
    title: 'The token was rotated by a concurrent request',
    description: 'Another request rotated this device\'s token a moment ago; the token presented is the one it replaced, still accepted for reads during the grace window. Nothing was written. Use the token that request returned (the browser\'s cookie, the SDK\'s store) and retry.',
  },
  'version-mismatch': {
    status: 412,
    title: 'The part has changed since that version',
    description: 'The `If-Match` version is not the current one. Nothing was written; read the part again and retry.',
  },
  'payload-too-large': {
    status: 413,
    title: 'Payload too large',
    description: 'The body, the cart, the preferences or an attribute object would exceed its size limit. Nothing was written.',
  },
  'unsupported-media-type': {
    status: 415,
    title: 'Unsupported media type',
    description: 'Send `application/json` (or `application/merge-patch+json` for preferences).',
  },
  'rate-limited': {
    status: 429,
    title: 'Too many requests',
    description: 'Slow down and retry after the `Retry-After` interval.',
  },
  unavailable: {
    status: 503,
    title: 'Service unavailable',
    description: 'The session store cannot be reached or is shutting down. Retrying later is safe for reads and idempotent writes.',
  },
} as const satisfies Record<ProblemCode, { status: number; title: string; description: string }>;
