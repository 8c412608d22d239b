/**
 * The JSON body parser: Fastify's own (prototype-poisoning safe) for
 * `application/json` and `application/merge-patch+json`, plus rules of ours,
 * checked once here so that no route can forget them:
 *
 * - the media type must be one the route `consumes` (its schema's `consumes`,
 *   also in OpenAPI; `application/json` by default), and the charset, if
 *   named, `utf-8`: anything else is 415 rather than bytes read the wrong way;
 * - the bytes must be UTF-8 and the strings well-formed Unicode (no lone
 *   surrogate from a `\ud800` escape): decoding would otherwise store U+FFFD
 *   or text no other system can encode;
 * - an empty body reads as "no body" (body-less POSTs may still carry the header);
 * - nesting deeper than `MAX_DEPTH` is refused before anything walks it;
 * - a route without a body schema takes no body: only an empty one or `{}`.
 */
import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TesseraError } from '../domain/errors.js';

export const MAX_DEPTH = 32;

export const JSON_MEDIA_TYPES = ['application/json', 'application/merge-patch+json'] as const;

/** What a route takes when its schema names no `consumes`. */
const DEFAULT_CONSUMES: readonly string[] = ['application/json'];

/** String.prototype.isWellFormed: on Node 20, but not in TypeScript's ES2023 lib. */
const isWellFormed = (text: string): boolean => (text as string & { isWellFormed(): boolean }).isWellFormed();

/** The first reason a parsed body is refused, or null. Lone surrogates are looked for only when `escapes` says the text has `\u` escapes. */
function refusal(value: unknown, escapes: boolean): string | null {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node === 'string') {
      if (escapes && !isWellFormed(node)) return 'the body holds a string that is not well-formed Unicode (a lone surrogate)';
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    if (depth > MAX_DEPTH) return `the body nests deeper than ${MAX_DEPTH} levels`;
    if (escapes && !Array.isArray(node)) {
      for (const key of Object.keys(node)) {
        if (!isWellFormed(key)) return 'the body holds a key that is not well-formed Unicode (a lone surrogate)';
      }
    }
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return null;
}

/** Media type and charset of a Content-Type header, lower-cased; charset unquoted, undefined when not named. */
function contentTypeOf(header: string): { mediaType: string; charset: string | undefined } {
  const [type = '', ...parameters] = header.split(';');
  let charset: string | undefined;
  for (const parameter of parameters) {
    const at = parameter.indexOf('=');
    if (at !== -1 && parameter.slice(0, at).trim().toLowerCase() === 'charset') {
      charset = parameter.slice(at + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    }
  }
  return { mediaType: type.trim().toLowerCase(), charset };
}

const isEmptyObject = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;

function parseBody(request: FastifyRequest, bytes: Buffer, parseJson: (text: string) => unknown): unknown {
  // An unmatched route answers 404 whatever the body holds.
  if (request.is404) return undefined;
  const { schema } = request.routeOptions;
  const { mediaType, charset } = contentTypeOf(request.headers['content-type'] ?? '');
  const consumes = schema?.consumes ?? DEFAULT_CONSUMES;
  if (!consumes.includes(mediaType)) {
    throw new TesseraError('unsupported-media-type', `this route takes ${consumes.join(' or ')}, not ${mediaType}`);
  }
  if (charset !== undefined && charset !== 'utf-8') {
    throw new TesseraError('unsupported-media-type', `JSON bodies are UTF-8; charset=${charset} is not accepted`);
  }
  if (!isUtf8(bytes)) throw new TesseraError('validation-failed', 'the body is not valid UTF-8');
  const text = bytes.toString('utf8');
  if (text.trim() === '') return undefined;
  const parsed = parseJson(text);
  // Valid UTF-8 cannot encode a lone surrogate: only a `\u` escape can make one.
  const reason = refusal(parsed, text.includes('\\u'));
  if (reason !== null) throw new TesseraError('validation-failed', reason);
  if (schema?.body === undefined && !isEmptyObject(parsed)) {
    throw new TesseraError('validation-failed', 'this route takes no body: send none, or {}');
  }
  return parsed;
}

export function registerJsonParser(app: FastifyInstance, bodyLimit: number): void {
  const defaultParser = app.getDefaultJsonParser('error', 'error');
  // Fastify's parser answers through a callback, synchronously.
  const parseJson = (request: FastifyRequest, text: string): unknown => {
    let outcome: { error: Error | null; value: unknown } = { error: null, value: undefined };
    defaultParser(request, text, (error, value) => {
      outcome = { error, value };
    });
    if (outcome.error !== null) throw new TesseraError('validation-failed', 'the body is not valid JSON');
    return outcome.value;
  };
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser([...JSON_MEDIA_TYPES], { parseAs: 'buffer', bodyLimit }, (request, body, done) => {
    let parsed: unknown;
    try {
      parsed = parseBody(request, body as Buffer, (text) => parseJson(request, text));
    } catch (error) {
      done(error as Error, undefined);
      return;
    }
    done(null, parsed);
  });
}
