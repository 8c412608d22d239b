/**
 * RFC 9457 problem details: every error leaves Tessera as
 * `application/problem+json` with a stable `type` from the catalog.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { TesseraError, type ProblemCode } from '../domain/errors.js';
import { PROBLEMS } from './problems.js';
import { StoreUnavailableError } from '../store/session-store.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
}

export function problemType(code: ProblemCode): string {
  return `/problems/${code}`;
}

export function problemBody(code: ProblemCode, detail: string): ProblemBody {
  const { status, title } = PROBLEMS[code];
  return { type: problemType(code), title, status, detail };
}

export function sendProblem(reply: FastifyReply, code: ProblemCode, detail: string): FastifyReply {
  const body = problemBody(code, detail);
  // A limiter that knows better sets its own Retry-After before it throws.
  if ((code === 'unavailable' || code === 'rate-limited') && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

/** Fastify's own error codes that are the caller's fault, mapped to the catalog. */
const FASTIFY_CODES: Readonly<Record<string, ProblemCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload-too-large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation-failed',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'validation-failed',
  FST_ERR_CTP_INVALID_JSON_BODY: 'validation-failed',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported-media-type',
  FST_ERR_BAD_URL: 'validation-failed',
  FST_ERR_MAX_PARAM_LENGTH: 'validation-failed',
  FST_ERR_ASYNC_CONSTRAINT: 'validation-failed',
};

/** The catalogued problem for any error; unexpected ones become 503 and are logged. */
export function classify(error: unknown): { code: ProblemCode; detail: string; unexpected: boolean } {
  if (error instanceof TesseraError) return { code: error.code, detail: error.detail, unexpected: false };
  if (error instanceof StoreUnavailableError) {
    return { code: 'unavailable', detail: 'the session store is unavailable; retry shortly', unexpected: false };
  }
  const fastifyError = error as Partial<FastifyError> & { validation?: unknown[] };
  if (fastifyError.validation !== undefined) {
    return { code: 'validation-failed', detail: describeValidation(fastifyError), unexpected: false };
  }
  const mapped = fastifyError.code !== undefined ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped !== undefined) return { code: mapped, detail: String(fastifyError.message), unexpected: false };
  if (error instanceof SyntaxError) return { code: 'validation-failed', detail: 'the body is not valid JSON', unexpected: false };
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const code: ProblemCode = status === 413 ? 'payload-too-large' : status === 415 ? 'unsupported-media-type' : status === 404 ? 'not-found' : 'validation-failed';
    return { code, detail: String(fastifyError.message), unexpected: false };
  }
  return { code: 'unavailable', detail: 'an unexpected error occurred; it has been logged', unexpected: true };
}

function describeValidation(error: Partial<FastifyError> & { validation?: unknown[]; validationContext?: string }): string {
  const first = (error.validation?.[0] ?? {}) as { instancePath?: string; message?: string; params?: Record<string, unknown> };
  const where = error.validationContext ?? 'body';
  const path = first.instancePath ? `${where}${first.instancePath.replaceAll('/', '.')}` : where;
  const extra = first.params?.additionalProperty !== undefined ? ` ("${String(first.params.additionalProperty)}")` : '';
  return `${path} ${first.message ?? 'is invalid'}${extra}`;
}

export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { code, detail, unexpected } = classify(error);
  if (unexpected) request.log.error({ reqId: request.id, err: error }, 'unexpected error');
  else if (code === 'unavailable') request.log.warn({ reqId: request.id, err: error, detail }, 'unavailable: answered 503');
  return sendProblem(reply, code, detail);
}
