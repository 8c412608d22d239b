/**
 * Reading what callers send: API key, end-user token, CSRF, If-Match and Host headers.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { isIP } from 'node:net';
import type { Seen } from '../domain/devices.js';
import { TesseraError } from '../domain/errors.js';
import { COUNTRY } from '../service/addresses.js';
import type { MutationOptions, ReadOptions } from '../service/session-service.js';
import type { ApiKey, ApiKeyRing, Scope } from '../tokens/api-keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKey | null;
    /** The request holds an in-flight slot (admission), released when it ends. */
    admitted: boolean;
  }
}

const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

export function sessionToken(request: FastifyRequest): string | undefined {
  return header(request, 'tessera-token');
}

/** The `Tessera-CSRF` header; an empty one counts as absent, on reads and mutations alike. */
export function csrfHeader(request: FastifyRequest): string | undefined {
  const value = header(request, 'tessera-csrf');
  return value === '' ? undefined : value;
}

/**
 * The version in `If-Match`, unquoted. `*` (any current version) counts as no
 * condition. A weak tag (`W/"v3"`) is compared like a strong one.
 */
export function ifMatch(request: FastifyRequest): string | undefined {
  const value = header(request, 'if-match')?.trim();
  if (value === undefined || value === '' || value === '*') return undefined;
  const unquoted = value.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  if (unquoted.includes(',')) throw new TesseraError('validation-failed', 'If-Match must name exactly one version');
  return unquoted;
}

/**
 * Whether the caller asked for `Prefer: return=minimal` (RFC 7240): among the
 * preferences of every Prefer header, `return` (any case) with the value
 * `minimal` (quoted or not). Parameters after `;` and other preferences are ignored.
 */
export function prefersMinimal(request: FastifyRequest): boolean {
  const value = request.headers.prefer;
  if (value === undefined) return false;
  for (const line of Array.isArray(value) ? value : [value]) {
    for (const preference of line.split(',')) {
      const [name, ...rest] = preference.split(';')[0]!.split('=');
      if (name!.trim().toLowerCase() === 'return' && rest.join('=').trim().replace(/^"(.*)"$/, '$1').toLowerCase() === 'minimal') return true;
    }
  }
  return false;
}

export function etag(version: string): string {
  return `"${version}"`;
}

/** The caller's API key, or null when the request carries none that is configured. */
export function apiKeyOf(request: FastifyRequest, keys: ApiKeyRing): ApiKey | null {
  const authorization = header(request, 'authorization');
  const match = authorization === undefined ? null : /^Bearer\s+(\S{1,512})$/i.exec(authorization);
  return match ? keys.authenticate(match[1]!) : null;
}

export const invalidApiKey = (): TesseraError =>
  new TesseraError('invalid-api-key', 'send Authorization: Bearer <api-key> with a configured key');

/** Throws `forbidden` unless the request's (authenticated) key has `scope`; `invalid-api-key` without a key. */
export function requireScope(request: FastifyRequest, scope: Scope): void {
  const key = request.apiKey;
  if (key === null) throw invalidApiKey();
  if (!key.scopes.includes(scope)) throw new TesseraError('forbidden', `this API key lacks the "${scope}" scope`);
}

/** An `onRequest` hook (callback-style: no promise per request) that requires `scope` of every route it guards. */
export function scopeHook(scope: Scope): (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void {
  return (request, _reply, done) => {
    try {
      requireScope(request, scope);
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  };
}

/**
 * RFC 9112 §3.2: an HTTP/1.1 request without a Host header is a 400. Node's
 * own check answers with an empty body, so the server turns it off
 * (`requireHostHeader: false`) and the app's first hook answers with this
 * error as a problem instead. Undefined when the request is fine.
 */
export function missingHost(request: FastifyRequest): TesseraError | undefined {
  if (request.headers.host !== undefined || request.raw.httpVersion !== '1.1') return undefined;
  return new TesseraError('validation-failed', 'an HTTP/1.1 request must carry a Host header');
}

/**
 * Where the end user's request came from, as the app says: `Tessera-Client-IP`
 * (an IP address) and `Tessera-Client-Country` (ISO 3166). A malformed value is
 * 400 `validation-failed`; neither header: undefined.
 */
export function seenFrom(request: FastifyRequest): Seen | undefined {
  const ip = header(request, 'tessera-client-ip')?.trim();
  const country = header(request, 'tessera-client-country')?.trim();
  if (ip === undefined && country === undefined) return undefined;
  if (ip !== undefined && isIP(ip) === 0) throw new TesseraError('validation-failed', 'Tessera-Client-IP must be an IPv4 or IPv6 address');
  if (country !== undefined && !COUNTRY.test(country)) {
    throw new TesseraError('validation-failed', 'Tessera-Client-Country must be an ISO 3166 code such as DE or US-CA');
  }
  return { ...(ip !== undefined ? { ip } : {}), ...(country !== undefined ? { country } : {}) };
}

/** CSRF, If-Match and where-from of a mutation request, as the service takes them. */
export function mutationOptions(request: FastifyRequest): MutationOptions {
  const csrf = csrfHeader(request);
  const ifVersion = ifMatch(request);
  const seen = seenFrom(request);
  return { ...(csrf !== undefined ? { csrf } : {}), ...(ifVersion !== undefined ? { ifVersion } : {}), ...(seen !== undefined ? { seen } : {}) };
}

/** A read's `Tessera-Consistency` header: the token of a write made in another region (global mode). */
/** What a read carries besides the token: the consistency to wait for, where the request came from. */
export function readOptions(request: FastifyRequest): ReadOptions {
  const consistency = consistencyOf(request);
  const seen = seenFrom(request);
  return { ...(consistency !== undefined ? { consistency } : {}), ...(seen !== undefined ? { seen } : {}) };
}

function consistencyOf(request: FastifyRequest): string | undefined {
  const value = request.headers['tessera-consistency'];
  return typeof value === 'string' && value.length > 0 && value.length <= 512 ? value : undefined;
}

/**
 * Tells the caller where its write went (`Tessera-Consistency`: send it with
 * the next reads, in any region), or that a read may not yet show a write it
 * asked for (`Tessera-Stale: true`).
 */
export function announce(reply: FastifyReply, answer: { readonly consistency?: string | undefined; readonly stale?: boolean | undefined }): void {
  if (answer.consistency !== undefined) reply.header('tessera-consistency', answer.consistency);
  if (answer.stale === true) reply.header('tessera-stale', 'true');
}
