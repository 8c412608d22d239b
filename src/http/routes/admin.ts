/** Administration (scope `users`, which the v1 alias `admin` includes): a user's devices, and logging a user out everywhere. */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { devicesView } from '../../service/views.js';
import { scopeHook } from '../request-context.js';
import { BODY_PROBLEMS, CALLER_PROBLEMS, Device, Id, NoQuery, problemResponses } from '../schemas.js';
import { ADMIN_SECURITY, type RouteContext } from './context.js';

export function adminRoutes(app: FastifyInstance, { service, limits }: RouteContext): void {
  app.addHook('onRequest', scopeHook('users'));
  const params = Type.Object({ userId: Id('The user.', limits) });

  app.get<{ Params: { userId: string } }>(
    '/v1/users/:userId/devices',
    {
      schema: {
        tags: ['admin'],
        summary: "List a user's devices",
        params,
        querystring: NoQuery,
        response: {
          200: Type.Object({ sessionId: Type.String(), devices: Type.Array(Device) }),
          ...problemResponses([...CALLER_PROBLEMS, 'forbidden', 'not-found']),
        },
        security: ADMIN_SECURITY,
      },
    },
    async (request) => {
      const session = await service.userDevices(request.params.userId);
      return { sessionId: session.meta.id, devices: devicesView(session, null).devices };
    },
  );

  app.delete<{ Params: { userId: string } }>(
    '/v1/users/:userId/sessions',
    {
      schema: {
        tags: ['admin'],
        summary: 'Log a user out of every device',
        params,
        querystring: NoQuery,
        response: { 204: Type.Null(), ...problemResponses([...CALLER_PROBLEMS, ...BODY_PROBLEMS, 'forbidden']) },
        security: ADMIN_SECURITY,
      },
    },
    async (request, reply) => {
      await service.logoutUser(request.params.userId);
      return reply.code(204).send();
    },
  );
}
