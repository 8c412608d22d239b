/**
 * Errors the SDK throws. Every answer Tessera refuses becomes a `TesseraError`
 * subclass chosen by the problem `type` (`/problems/<code>`), so callers can
 * `instanceof` or switch on `code`; transport failures get codes of their own.
 */

/** Problem codes of API v1 (the last segment of the problem `type`). */
export type ProblemCode =
  | 'validation-failed'
  | 'invalid-api-key'
  | 'invalid-token'
  | 'forbidden'
  | 'csrf-mismatch'
  | 'not-found'
  | 'conflict'
  | 'version-mismatch'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'rate-limited'
  | 'unavailable';

/**
 * Codes the SDK adds for failures that have no problem document: no endpoint
 * could be reached, an attempt ran out of time, or the server answered with
 * something that is not API v1 (a 5xx page from a proxy, a status outside the
 * catalog).
 */
export type TransportCode = 'connection-failed' | 'timeout' | 'unexpected-response';

export type ErrorCode = ProblemCode | TransportCode;

export interface TesseraErrorInit {
  readonly code: ErrorCode;
  /** HTTP status of the answer; 0 when no answer arrived. */
  readonly status: number;
  readonly title?: string;
  readonly detail: string;
  /** The problem `type` as sent (`/problems/<code>`), when there was one. */
  readonly type?: string;
  /** How many attempts were made, retries and failovers included. */
  readonly attempts?: number;
  /** The endpoint that gave the final answer (or failed last). */
  readonly endpoint?: string;
  readonly cause?: unknown;
}

/** Base class of every error the SDK throws. */
export class TesseraError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly type: string;
  readonly attempts: number;
  readonly endpoint: string | undefined;

  constructor(init: TesseraErrorInit) {
    super(`${init.detail} (${init.code}${init.status ? `, HTTP ${init.status}` : ''})`, {
      cause: init.cause,
    });
    this.name = new.target.name;
    this.code = init.code;
    this.status = init.status;
    this.title = init.title ?? init.code;
    this.detail = init.detail;
    this.type = init.type ?? `/problems/${init.code}`;
    this.attempts = init.attempts ?? 1;
    this.endpoint = init.endpoint;
  }
}

/** 400 `validation-failed`: a parameter or body field is wrong; nothing was written. */
export class ValidationError extends TesseraError {}
/** 401 `invalid-api-key`: the SDK's `apiKey` is missing or unknown to the server. */
export class InvalidApiKeyError extends TesseraError {}
/**
 * 401 `invalid-token`: the end-user token is missing, malformed, unknown,
 * expired, rotated out or revoked. Treat the user as signed out.
 */
export class InvalidTokenError extends TesseraError {}
/** 403 `forbidden`: the API key lacks the scope the route needs (`sign-in`, `token` or `users`). */
export class ForbiddenError extends TesseraError {}
/** 403 `csrf-mismatch`: the `csrfToken` passed does not belong to this session and device. */
export class CsrfMismatchError extends TesseraError {}
/** 404 `not-found`: unknown device, user or route. */
export class NotFoundError extends TesseraError {}
/**
 * 409 `conflict`: the token was rotated by a concurrent request (another tab);
 * nothing was written. Use the token that request returned, then retry.
 */
export class ConflictError extends TesseraError {}
/**
 * 412 `version-mismatch`: the `ifMatch` version is stale; nothing was written.
 * Read the part again and retry. When `attempts > 1` the first attempt may have
 * landed before its answer was lost (see the retry rules in the README).
 */
export class VersionMismatchError extends TesseraError {}
/** 413 `payload-too-large`: a body, cart, prefs or attributes limit would be exceeded. */
export class PayloadTooLargeError extends TesseraError {}
/** 415 `unsupported-media-type`. */
export class UnsupportedMediaTypeError extends TesseraError {}
/** 429 `rate-limited`; `retryAfterMs` is the server's `Retry-After`, when it sent one. */
export class RateLimitedError extends TesseraError {
  retryAfterMs: number | undefined;
  constructor(init: TesseraErrorInit & { retryAfterMs?: number }) {
    super(init);
    this.retryAfterMs = init.retryAfterMs;
  }
}
/** 503 `unavailable`: the region's store is unreachable or the node is shutting down. */
export class UnavailableError extends TesseraError {}
/** No endpoint accepted a connection (every region refused, was unreachable or timed out connecting). */
export class ConnectionError extends TesseraError {}
/** An attempt ran past `timeoutMs` after the request may have reached the server. */
export class TimeoutError extends TesseraError {}
/** The answer was not API v1 (unknown status or problem type, or a body that is not JSON). */
export class UnexpectedResponseError extends TesseraError {}

const BY_CODE: Record<ErrorCode, new (init: TesseraErrorInit) => TesseraError> = {
  'validation-failed': ValidationError,
  'invalid-api-key': InvalidApiKeyError,
  'invalid-token': InvalidTokenError,
  forbidden: ForbiddenError,
  'csrf-mismatch': CsrfMismatchError,
  'not-found': NotFoundError,
  conflict: ConflictError,
  'version-mismatch': VersionMismatchError,
  'payload-too-large': PayloadTooLargeError,
  'unsupported-media-type': UnsupportedMediaTypeError,
  'rate-limited': RateLimitedError,
  unavailable: UnavailableError,
  'connection-failed': ConnectionError,
  timeout: TimeoutError,
  'unexpected-response': UnexpectedResponseError,
};

const CODE_BY_STATUS: Readonly<Record<number, ProblemCode>> = {
  400: 'validation-failed',
  404: 'not-found',
  409: 'conflict',
  412: 'version-mismatch',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  429: 'rate-limited',
  503: 'unavailable',
};

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(BY_CODE, code);
}

/** The error for a refused answer, from its problem document when there is one. */
export function errorFromResponse(
  status: number,
  body: unknown,
  extra: { attempts: number; endpoint: string; retryAfterMs?: number },
): TesseraError {
  const problem = isProblem(body) ? body : undefined;
  const fromType = problem?.type?.split('/').pop();
  const code: ErrorCode =
    fromType !== undefined && isErrorCode(fromType)
      ? fromType
      : (CODE_BY_STATUS[status] ?? 'unexpected-response');
  const init = {
    code,
    status,
    detail: problem?.detail ?? problem?.title ?? `Tessera answered HTTP ${status}`,
    ...(problem?.title !== undefined ? { title: problem.title } : {}),
    ...(problem?.type !== undefined ? { type: problem.type } : {}),
    ...extra,
  };
  return code === 'rate-limited' ? new RateLimitedError(init) : new BY_CODE[code](init);
}

export function transportError(
  code: TransportCode,
  detail: string,
  extra: { attempts: number; endpoint?: string; cause?: unknown },
): TesseraError {
  return new BY_CODE[code]({ code, status: 0, detail, ...extra });
}

interface ProblemBody {
  type?: string;
  title?: string;
  detail?: string;
}

function isProblem(body: unknown): body is ProblemBody {
  return typeof body === 'object' && body !== null && ('type' in body || 'title' in body);
}
