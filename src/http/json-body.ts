/**
 * The JSON body parser: Fastify's own (prototype-poisoning safe) for
 * `application/json` and `application/merge-patch+json`, plus two rules of ours:
 * an empty body reads as "no body" (body-less POSTs may still carry the header),
 * and nesting deeper than `MAX_DEPTH` is refused before anything walks it.
 */
import type { FastifyInstance } from 'fastify';
import { TesseraError } from '../domain/errors.js';

export const MAX_DEPTH = 32;

export function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_DEPTH) return deepest;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return deepest;
}

export function registerJsonParser(app: FastifyInstance, bodyLimit: number): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    ['application/json', 'application/merge-patch+json'],
    { parseAs: 'string', bodyLimit },
    (request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text.trim() === '') {
        done(null, undefined);
        return;
      }
      parseJson(request, text, (error, parsed) => {
        if (error) {
          done(new TesseraError('validation-failed', 'the body is not valid JSON'), undefined);
        } else if (depthOf(parsed) > MAX_DEPTH) {
          done(new TesseraError('validation-failed', `the body nests deeper than ${MAX_DEPTH} levels`), undefined);
        } else {
          done(null, parsed);
        }
      });
    },
  );
}
