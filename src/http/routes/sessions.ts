/** Sign-in, validation, rotation, logout and devices: `/v1/sessions`, `/v1/session`, `/v1/session/devices`. */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { DataPart } from '../../domain/parts.js';
import { devicesView } from '../../service/views.js';
import { sendRendered, sessionJson } from '../render.js';
import { TesseraError } from '../../domain/errors.js';
import { announce, csrfHeader, etag, mutationOptions, readOptions, requireScope, seenFrom, sessionToken } from '../request-context.js';
import {
  BODY_PROBLEMS,
  CALLER_PROBLEMS,
  CsrfHeaders,
  Device,
  DeviceParams,
  LogoutDevicesQuery,
  MUTATION_PROBLEMS,
  MutationHeaders,
  NoQuery,
  PartsQuery,
  ReadHeaders,
  ReauthenticateBody,
  SessionRead,
  SignedIn,
  TOKEN_PROBLEMS,
  problemResponses,
  signInBody,
  withETag,
  type LogoutDevicesQueryT,
  type PartsQueryT,
  type ReauthenticateBodyT,
  type SignInBody,
} from '../schemas.js';
import { SIGN_IN_SECURITY, TOKEN_SECURITY, type RouteContext } from './context.js';

const NoContent = Type.Null({ description: 'No content' });
/** Rotation and logout check CSRF but take no If-Match: the service applies them unconditionally. */
const DEVICE_PROBLEMS = [...TOKEN_PROBLEMS, ...BODY_PROBLEMS, 'csrf-mismatch'] as const;

/** `POST /v1/sessions`: its scope depends on the body (`sign-in` with a userId, `token` for a guest). */
export function signInRoutes(app: FastifyInstance, { service, limits }: RouteContext): void {
  app.post<{ Body: SignInBody }>(
    '/v1/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Sign in (with userId) or start a guest session',
        description:
          'With a userId that already has a live session, adds a device to that session (at most TESSERA_MAX_DEVICES; `atDeviceLimit` says what happens beyond). With guestToken, the guest cart and history are merged into the user session and the guest token stops working. `persistent: false` makes a transient sign-in ("remember me" unticked) with its own, shorter limits; `authLevel` records how the user authenticated, for step-up checks (needs a userId). A userId needs an API key with the `sign-in` scope; a guest session, the `token` scope.',
        querystring: NoQuery,
        body: signInBody(limits),
        'x-optional-body': true,
        response: { 201: SignedIn, ...problemResponses([...CALLER_PROBLEMS, ...BODY_PROBLEMS]) },
        security: SIGN_IN_SECURITY,
      },
      // Every field is optional, so no body at all (no content-type, or an empty one) starts a guest session.
      preValidation: (request, _reply, done) => {
        // `null` is a body, and not an object: it stays for validation to refuse.
        if (request.body === undefined) request.body = {};
        done();
      },
    },
    async (request, reply) => {
      const { userId, device, guestToken, persistent, authLevel, atDeviceLimit } = request.body;
      // Signing a user in makes the caller that user: a scope of its own (docs/security.md).
      requireScope(request, userId !== undefined ? 'sign-in' : 'token');
      if (authLevel !== undefined && userId === undefined) {
        throw new TesseraError('validation-failed', 'authLevel says how a user authenticated: it needs a userId');
      }
      const { consistency, ...signedIn } = await service.signIn({
        ...(userId !== undefined ? { userId } : {}),
        ...(device !== undefined ? { device } : {}),
        ...(guestToken !== undefined ? { guestToken } : {}),
        ...(persistent !== undefined ? { persistent } : {}),
        ...(authLevel !== undefined ? { authLevel } : {}),
        ...(atDeviceLimit !== undefined ? { atDeviceLimit } : {}),
      });
      announce(reply, { consistency });
      return reply.code(201).send(signedIn);
    },
  );
}

/** Every route that acts on a session presented by its token (scope `token`, checked by the caller's hook). */
export function sessionRoutes(app: FastifyInstance, { service }: RouteContext): void {
  app.get<{ Querystring: PartsQueryT }>(
    '/v1/session',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Validate the token and read the named parts',
        querystring: PartsQuery,
        documentedHeaders: CsrfHeaders,
        response: { 200: SessionRead, ...problemResponses(TOKEN_PROBLEMS) },
        security: TOKEN_SECURITY,
      },
    },
    async (request, reply) => {
      const parts = (request.query.parts?.split(',') ?? []) as DataPart[];
      const answer = await service.authenticate(sessionToken(request), parts, csrfHeader(request), readOptions(request));
      announce(reply, answer);
      return sendRendered(reply, sessionJson(answer.session, parts, answer.deviceId, answer.csrf, service.views));
    },
  );

  app.post(
    '/v1/session/rotate',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Rotate the token of this device',
        description: 'The previous token keeps working for the grace window (TESSERA_ROTATION_GRACE, default 30 s); reused after that, it is treated as stolen and the device is revoked.',
        querystring: NoQuery,
        documentedHeaders: CsrfHeaders,
        response: { 200: SignedIn, ...problemResponses([...DEVICE_PROBLEMS, 'conflict']) },
        security: TOKEN_SECURITY,
      },
    },
    async (request, reply) => {
      const { consistency, ...rotated } = await service.rotate(sessionToken(request), csrfHeader(request), seenFrom(request));
      announce(reply, { consistency });
      return rotated;
    },
  );

  app.post<{ Body: ReauthenticateBodyT }>(
    '/v1/session/reauthenticate',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Record a re-authentication (step-up) on this device',
        description:
          'Call it once the user has proved who they are again (password, one-time code, security key). The device’s `authenticatedAt` becomes now and its `authLevel` the one given (none: none), and it gets a new token, as at any authentication; the previous token keeps working for the grace window. Needs the `sign-in` scope besides `token`: it vouches for the user.',
        querystring: NoQuery,
        body: ReauthenticateBody,
        'x-optional-body': true,
        documentedHeaders: CsrfHeaders,
        response: { 200: SignedIn, ...problemResponses([...DEVICE_PROBLEMS, 'forbidden']) },
        security: [{ apiKey: ['token', 'sign-in'], sessionToken: [] }],
      },
      preValidation: (request, _reply, done) => {
        if (request.body === undefined) request.body = {};
        done();
      },
    },
    async (request, reply) => {
      requireScope(request, 'sign-in');
      const { consistency, ...reauthenticated } = await service.reauthenticate(sessionToken(request), request.body.authLevel, mutationOptions(request));
      announce(reply, { consistency });
      return reauthenticated;
    },
  );

  app.delete(
    '/v1/session',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Log out this device',
        querystring: NoQuery,
        documentedHeaders: CsrfHeaders,
        response: { 204: NoContent, ...problemResponses(DEVICE_PROBLEMS) },
        security: TOKEN_SECURITY,
      },
    },
    async (request, reply) => {
      announce(reply, await service.logout(sessionToken(request), csrfHeader(request)));
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/session/devices',
    {
      schema: {
        tags: ['devices'],
        summary: 'List the signed-in devices of this session',
        description: 'Each with what a "my devices" page shows: browser, OS and platform parsed from its user agent, the (truncated) address and country it signed in from and was last seen from, when it signed in and was last active, when and how the user last authenticated on it, whether it is persistent, and whether it is this one.',
        querystring: NoQuery,
        documentedHeaders: ReadHeaders,
        response: { 200: withETag(Type.Object({ devices: Type.Array(Device) }), 'The devices'), ...problemResponses(TOKEN_PROBLEMS) },
        security: TOKEN_SECURITY,
      },
    },
    async (request, reply) => {
      const answer = await service.authenticate(sessionToken(request), ['devices'], undefined, readOptions(request));
      announce(reply, answer);
      const view = devicesView(answer.session, answer.deviceId, service.views);
      return reply.header('etag', etag(view.version)).send({ devices: view.devices });
    },
  );

  app.delete<{ Params: { deviceId: string } }>(
    '/v1/session/devices/:deviceId',
    {
      schema: {
        tags: ['devices'],
        summary: 'Revoke one device of this session',
        params: DeviceParams,
        querystring: NoQuery,
        documentedHeaders: MutationHeaders,
        response: { 204: NoContent, ...problemResponses([...MUTATION_PROBLEMS, 'not-found']) },
        security: TOKEN_SECURITY,
      },
    },
    async (request, reply) => {
      announce(reply, await service.revokeDevice(sessionToken(request), request.params.deviceId, mutationOptions(request)));
      return reply.code(204).send();
    },
  );

  app.delete<{ Querystring: LogoutDevicesQueryT }>(
    '/v1/session/devices',
    {
      schema: {
        tags: ['devices'],
        summary: 'Log out every device (the session ends), or every device but this one',
        description:
          'Without `except`, every device is logged out and the session ends. With `except=current` (ASVS 7.4.3, e.g. after a password change), every other device is logged out at once — rotated-out tokens in their grace window included — and this device, the session and its data stay. Idempotent.',
        querystring: LogoutDevicesQuery,
        documentedHeaders: MutationHeaders,
        response: { 204: NoContent, ...problemResponses(MUTATION_PROBLEMS) },
        security: TOKEN_SECURITY,
      },
    },
    async (request, reply) => {
      if (request.query.except === 'current') await service.logoutOtherDevices(sessionToken(request), mutationOptions(request));
      else announce(reply, await service.logoutEverywhere(sessionToken(request), mutationOptions(request)));
      return reply.code(204).send();
    },
  );
}
