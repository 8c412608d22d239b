/** Preferences: `/v1/session/prefs`, changed by JSON merge patch (RFC 7396). */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { JsonObject } from '../../domain/prefs.js';
import { sendPart, sendPartChanged } from '../render.js';
import { mutationOptions, prefersMinimal, readOptions, sessionToken } from '../request-context.js';
import { JSON_MEDIA_TYPES } from '../json-body.js';
import { MUTATION_PROBLEMS, PartChangeHeaders, NoQuery, Prefs, ReadHeaders, TOKEN_PROBLEMS, changedPart, problemResponses, withETag } from '../schemas.js';
import { TOKEN_SECURITY, type RouteContext } from './context.js';

export function prefsRoutes(app: FastifyInstance, { service, limits }: RouteContext): void {
  app.get(
    '/v1/session/prefs',
    {
      schema: {
        tags: ['prefs'],
        summary: 'Read the preferences',
        querystring: NoQuery,
        documentedHeaders: ReadHeaders,
        response: { 200: withETag(Prefs, 'The preferences'), ...problemResponses(TOKEN_PROBLEMS) },
        security: TOKEN_SECURITY,
      },
    },
    async (request, reply) => sendPart(reply, 'prefs', await service.authenticate(sessionToken(request), ['prefs'], undefined, readOptions(request))),
  );

  app.patch<{ Body: JsonObject }>(
    '/v1/session/prefs',
    {
      schema: {
        tags: ['prefs'],
        summary: 'Change preferences by JSON merge patch; null deletes a key',
        description: 'Last writer wins per top-level key, ordered by hybrid logical clock across regions.',
        // The only route that takes a merge patch by its own media type (the body parser holds routes to `consumes`).
        consumes: [...JSON_MEDIA_TYPES],
        querystring: NoQuery,
        documentedHeaders: PartChangeHeaders,
        body: Type.Object({}, {
          additionalProperties: true,
          maxProperties: 256,
          propertyNames: { minLength: 1, maxLength: limits.idLength },
        }),
        response: { ...changedPart(Prefs, 'The preferences after the patch'), ...problemResponses(MUTATION_PROBLEMS) },
        security: TOKEN_SECURITY,
      },
    },
    async (request, reply) =>
      sendPartChanged(reply, 'prefs', await service.mutate(sessionToken(request), { kind: 'prefs.patch', patch: request.body }, mutationOptions(request)), prefersMinimal(request)),
  );
}
