/**
 * Administration (scope `users`, which the v1 alias `admin` includes): a
 * user's devices, logging a user out everywhere, and a user's data for
 * privacy requests (export, erasure).
 */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { devicesView } from '../../service/views.js';
import { scopeHook } from '../request-context.js';
import { AnyObject, BODY_PROBLEMS, CALLER_PROBLEMS, CartItems, Device, ExportedDevice, HistoryItem, Id, NoQuery, Timestamp, problemResponses } from '../schemas.js';
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
      return { sessionId: session.meta.id, devices: devicesView(session, null, service.views).devices };
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

  app.get<{ Params: { userId: string } }>(
    '/v1/users/:userId/export',
    {
      schema: {
        tags: ['admin'],
        summary: 'Export everything stored about a user (privacy request)',
        description:
          'Every session of the user — live, expired or ended — with its devices (labels, user agents, truncated addresses, times, authentication; never token hashes or secrets), cart, preferences and history. A user with nothing stored gets an empty list.',
        params,
        querystring: NoQuery,
        response: { 200: UserExport, ...problemResponses([...CALLER_PROBLEMS, 'forbidden']) },
        security: ADMIN_SECURITY,
      },
    },
    async (request) => service.exportUser(request.params.userId),
  );

  app.delete<{ Params: { userId: string } }>(
    '/v1/users/:userId',
    {
      schema: {
        tags: ['admin'],
        summary: 'Erase everything stored about a user (privacy request)',
        description:
          'Logs every device of the user out and erases their sessions: devices, cart, preferences, history and index entries go; what stays of each session is a tombstone that names no one. Idempotent. Changes already in the change feed (webhooks, replication) are delivered, then trimmed; the erasure itself goes out as the sessions’ end (`session.ended`, reason `erased`).',
        params,
        querystring: NoQuery,
        response: {
          200: Type.Object({ sessions: Type.Integer({ description: 'How many sessions were erased.' }) }),
          ...problemResponses([...CALLER_PROBLEMS, ...BODY_PROBLEMS, 'forbidden']),
        },
        security: ADMIN_SECURITY,
      },
    },
    async (request) => ({ sessions: await service.eraseUser(request.params.userId) }),
  );
}

const ExportedSession = Type.Object({
  id: Type.String(),
  state: Type.Union([Type.Literal('live'), Type.Literal('ended'), Type.Literal('expired'), Type.Literal('merged')]),
  createdAt: Timestamp,
  lastActiveAt: Timestamp,
  expiresAt: Timestamp,
  endedAt: Type.Optional(Timestamp),
  mergedInto: Type.Optional(Type.String()),
  devices: Type.Array(ExportedDevice),
  cart: CartItems,
  prefs: AnyObject,
  history: Type.Object({ items: Type.Array(HistoryItem) }),
});

const UserExport = Type.Object({ userId: Type.String(), exportedAt: Timestamp, sessions: Type.Array(ExportedSession) });
