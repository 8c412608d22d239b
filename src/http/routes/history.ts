/** Browsing history: `/v1/session/history`, newest first, deduplicated by product. */
import type { FastifyInstance } from 'fastify';
import { TesseraError } from '../../domain/errors.js';
import { sendPart, sendPartChanged } from '../render.js';
import { mutationOptions, prefersMinimal, readOptions, sessionToken } from '../request-context.js';
import { History, MUTATION_PROBLEMS, PartChangeHeaders, NoQuery, ReadHeaders, TOKEN_PROBLEMS, historyBody, changedPart, problemResponses, withETag, type HistoryBody } from '../schemas.js';
import { TOKEN_SECURITY, type RouteContext } from './context.js';

/** Clients' clocks drift; a view further ahead than this is refused rather than pinned to the top. */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export function historyRoutes(app: FastifyInstance, { service, limits }: RouteContext): void {
  app.get(
    '/v1/session/history',
    {
      schema: {
        tags: ['history'],
        summary: 'Read the recently viewed products',
        querystring: NoQuery,
        documentedHeaders: ReadHeaders,
        response: { 200: withETag(History, 'The history, newest first'), ...problemResponses(TOKEN_PROBLEMS) },
        security: TOKEN_SECURITY,
      },
    },
    async (request, reply) => sendPart(reply, 'history', await service.authenticate(sessionToken(request), ['history'], undefined, readOptions(request))),
  );

  app.post<{ Body: HistoryBody }>(
    '/v1/session/history',
    {
      schema: {
        tags: ['history'],
        summary: 'Record a product view',
        querystring: NoQuery,
        documentedHeaders: PartChangeHeaders,
        body: historyBody(limits),
        response: { ...changedPart(History, 'The history after the view'), ...problemResponses(MUTATION_PROBLEMS) },
        security: TOKEN_SECURITY,
      },
    },
    async (request, reply) => {
      const now = Date.now();
      const viewedAt = request.body.viewedAt === undefined ? now : Date.parse(request.body.viewedAt);
      if (!Number.isFinite(viewedAt) || viewedAt > now + MAX_CLOCK_SKEW_MS || viewedAt < Date.UTC(2000, 0, 1)) {
        throw new TesseraError('validation-failed', 'body.viewedAt must be a time between 2000 and now');
      }
      const op = { kind: 'history.add', productId: request.body.productId, viewedAt } as const;
      return sendPartChanged(reply, 'history', await service.mutate(sessionToken(request), op, mutationOptions(request)), prefersMinimal(request));
    },
  );
}
