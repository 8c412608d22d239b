/** The cart: `/v1/session/cart`. Every change touches only the cart. */
import type { FastifyInstance } from 'fastify';
import type { Operation } from '../../domain/operations.js';
import { sendPart, sendPartChanged } from '../render.js';
import { mutationOptions, prefersMinimal, readOptions, sessionToken } from '../request-context.js';
import {
  Cart,
  MUTATION_PROBLEMS,
  PartChangeHeaders,
  changedPart,
  NoQuery,
  ReadHeaders,
  TOKEN_PROBLEMS,
  addItemBody,
  problemResponses,
  setItemBody,
  skuParams,
  withETag,
  type AddItemBody,
  type SetItemBody,
} from '../schemas.js';
import { TOKEN_SECURITY, type RouteContext } from './context.js';

export function cartRoutes(app: FastifyInstance, { service, limits }: RouteContext): void {
  const read = (summary: string) => ({
    tags: ['cart'],
    summary,
    querystring: NoQuery,
    documentedHeaders: ReadHeaders,
    response: { 200: withETag(Cart, 'The cart'), ...problemResponses(TOKEN_PROBLEMS) },
    security: TOKEN_SECURITY,
  });
  const change = (summary: string, extra: object = {}) => ({
    ...read(summary),
    documentedHeaders: PartChangeHeaders,
    response: { ...changedPart(Cart, 'The cart after the change'), ...problemResponses(MUTATION_PROBLEMS) },
    ...extra,
  });
  app.get('/v1/session/cart', { schema: read('Read the cart') }, async (request, reply) =>
    sendPart(reply, 'cart', await service.authenticate(sessionToken(request), ['cart'], undefined, readOptions(request))),
  );

  app.post<{ Body: AddItemBody }>(
    '/v1/session/cart/items',
    { schema: change('Add to a line (concurrent adds all count)', { body: addItemBody(limits) }) },
    async (request, reply) => {
      const { sku, quantity = 1, attributes } = request.body;
      const op: Operation = { kind: 'cart.add', sku, quantity, ...(attributes !== undefined ? { attributes } : {}) };
      return sendPartChanged(reply, 'cart', await service.mutate(sessionToken(request), op, mutationOptions(request)), prefersMinimal(request));
    },
  );

  app.put<{ Params: { sku: string }; Body: SetItemBody }>(
    '/v1/session/cart/items/:sku',
    { schema: change('Set the quantity of a line', { params: skuParams(limits), body: setItemBody(limits) }) },
    async (request, reply) => {
      const { quantity, attributes } = request.body;
      const op: Operation = { kind: 'cart.set', sku: request.params.sku, quantity, ...(attributes !== undefined ? { attributes } : {}) };
      return sendPartChanged(reply, 'cart', await service.mutate(sessionToken(request), op, mutationOptions(request)), prefersMinimal(request));
    },
  );

  app.delete<{ Params: { sku: string } }>(
    '/v1/session/cart/items/:sku',
    { schema: change('Remove a line', { params: skuParams(limits) }) },
    async (request, reply) =>
      sendPartChanged(reply, 'cart', await service.mutate(sessionToken(request), { kind: 'cart.remove', sku: request.params.sku }, mutationOptions(request)), prefersMinimal(request)),
  );

  app.delete('/v1/session/cart', { schema: change('Empty the cart') }, async (request, reply) =>
    sendPartChanged(reply, 'cart', await service.mutate(sessionToken(request), { kind: 'cart.clear' }, mutationOptions(request)), prefersMinimal(request)),
  );
}
