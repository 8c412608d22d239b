/**
 * Regression (issue 15, defect 8): the `admin` scope protected nothing, since a
 * key without it could sign in as any user (joining their session), then list
 * and end their devices. Scopes now separate signing users in (`sign-in`),
 * acting on a session presented by its token (`token`) and administering any
 * user (`users`); the v1 forms `name:secret` and `name:secret:admin` keep their
 * meaning (`sessions` = sign-in + token, `admin` = all three).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, APP_KEY, startTessera, type TestServer } from '../support/tessera-server.js';

const SIGNER = 'signer-key-0123456789abcdef';
const TOKEN_ONLY = 'token-key-0123456789abcdef';
const SUPPORT = 'support-key-0123456789abcdef';
const EVERYTHING = 'all-key-0123456789abcdefgh';

type Scope = 'sign-in' | 'token' | 'users';

/** Each key and the scopes it should end up with. */
const KEYS: Array<[string, string, readonly Scope[]]> = [
  ['app (name:secret, v1 default)', APP_KEY, ['sign-in', 'token']],
  ['ops (name:secret:admin, v1)', ADMIN_KEY, ['sign-in', 'token', 'users']],
  ['signer (sign-in)', SIGNER, ['sign-in']],
  ['edge (token)', TOKEN_ONLY, ['token']],
  ['support (users)', SUPPORT, ['users']],
  ['all (sign-in+token+users)', EVERYTHING, ['sign-in', 'token', 'users']],
];

describe('API key scopes, per route', () => {
  let server: TestServer;
  before(async () => {
    server = await startTessera({
      TESSERA_API_KEYS: [
        `app:${APP_KEY}`,
        `ops:${ADMIN_KEY}:admin`,
        `signer:${SIGNER}:sign-in`,
        `edge:${TOKEN_ONLY}:token`,
        `support:${SUPPORT}:users`,
        `all:${EVERYTHING}:sign-in+token+users`,
      ].join(','),
    });
  });
  after(() => server.close());

  /** Every route, the scope it needs, and how to call it (given a fresh user session made with the app key). */
  type Call = (key: string, user: { userId: string; token: string; deviceId: string }) => Promise<{ status: number; body: any }>;
  const routes: Array<[string, Scope, Call]> = [
    ['POST /v1/sessions with userId', 'sign-in', (key, u) => server.request('POST', '/v1/sessions', { key, body: { userId: u.userId } })],
    ['POST /v1/sessions with userId and guestToken', 'sign-in', (key, u) => server.request('POST', '/v1/sessions', { key, body: { userId: u.userId, guestToken: u.token } })],
    ['POST /v1/sessions (guest)', 'token', (key) => server.request('POST', '/v1/sessions', { key, body: {} })],
    ['GET /v1/session', 'token', (key, u) => server.request('GET', '/v1/session?parts=devices', { key, token: u.token })],
    ['GET /v1/session/devices', 'token', (key, u) => server.request('GET', '/v1/session/devices', { key, token: u.token })],
    ['GET /v1/session/cart', 'token', (key, u) => server.request('GET', '/v1/session/cart', { key, token: u.token })],
    ['POST /v1/session/cart/items', 'token', (key, u) => server.request('POST', '/v1/session/cart/items', { key, token: u.token, body: { sku: 'S' } })],
    ['PUT /v1/session/cart/items/S', 'token', (key, u) => server.request('PUT', '/v1/session/cart/items/S', { key, token: u.token, body: { quantity: 1 } })],
    ['DELETE /v1/session/cart/items/S', 'token', (key, u) => server.request('DELETE', '/v1/session/cart/items/S', { key, token: u.token })],
    ['DELETE /v1/session/cart', 'token', (key, u) => server.request('DELETE', '/v1/session/cart', { key, token: u.token })],
    ['GET /v1/session/prefs', 'token', (key, u) => server.request('GET', '/v1/session/prefs', { key, token: u.token })],
    ['PATCH /v1/session/prefs', 'token', (key, u) => server.request('PATCH', '/v1/session/prefs', { key, token: u.token, body: { a: 1 } })],
    ['GET /v1/session/history', 'token', (key, u) => server.request('GET', '/v1/session/history', { key, token: u.token })],
    ['POST /v1/session/history', 'token', (key, u) => server.request('POST', '/v1/session/history', { key, token: u.token, body: { productId: 'P' } })],
    ['POST /v1/session/rotate', 'token', (key, u) => server.request('POST', '/v1/session/rotate', { key, token: u.token })],
    ['DELETE /v1/session/devices/{id}', 'token', (key, u) => server.request('DELETE', `/v1/session/devices/${u.deviceId}`, { key, token: u.token })],
    ['DELETE /v1/session/devices?except=current', 'token', (key, u) => server.request('DELETE', '/v1/session/devices?except=current', { key, token: u.token })],
    ['DELETE /v1/session/devices', 'token', (key, u) => server.request('DELETE', '/v1/session/devices', { key, token: u.token })],
    ['DELETE /v1/session', 'token', (key, u) => server.request('DELETE', '/v1/session', { key, token: u.token })],
    ['GET /v1/users/{id}/devices', 'users', (key, u) => server.request('GET', `/v1/users/${u.userId}/devices`, { key })],
    ['DELETE /v1/users/{id}/sessions', 'users', (key, u) => server.request('DELETE', `/v1/users/${u.userId}/sessions`, { key })],
  ];

  let n = 0;
  for (const [route, needed, call] of routes) {
    for (const [label, key, scopes] of KEYS) {
      const allowed = scopes.includes(needed);
      test(`${route} with the ${label} key: ${allowed ? 'served' : '403 forbidden'}`, async () => {
        n += 1;
        const userId = `u-scope-${n}`;
        const user = await server.signIn({ userId });
        const reply = await call(key, { userId, token: user.token, deviceId: user.session.deviceId });
        if (allowed) {
          assert.ok(reply.status >= 200 && reply.status < 300, `${route}: ${reply.status} ${JSON.stringify(reply.body)}`);
        } else {
          assert.equal(reply.status, 403, `${route}: ${JSON.stringify(reply.body)}`);
          assert.equal(reply.body.type, '/problems/forbidden');
          assert.match(reply.body.detail, new RegExp(`"${needed}" scope`));
          // Refused before anything happened: the user's token and devices are as they were.
          const still = await server.request('GET', '/v1/session?parts=devices', { token: user.token });
          assert.equal(still.status, 200);
          assert.equal(still.body.devices.length, 1);
        }
      });
    }
  }

  test('a key without sign-in cannot reach a user: it can neither join their session nor list or end their devices', async () => {
    const victim = await server.signIn({ userId: 'u-victim', device: { name: 'phone' } });
    for (const key of [TOKEN_ONLY, SUPPORT]) {
      const joined = await server.request('POST', '/v1/sessions', { key, body: { userId: 'u-victim' } });
      assert.equal(joined.status, 403);
    }
    for (const key of [APP_KEY, SIGNER, TOKEN_ONLY]) {
      assert.equal((await server.request('GET', '/v1/users/u-victim/devices', { key })).status, 403);
      assert.equal((await server.request('DELETE', '/v1/users/u-victim/sessions', { key })).status, 403);
    }
    const devices = await server.request('GET', '/v1/session/devices', { token: victim.token });
    assert.deepEqual(devices.body.devices.map((d: any) => d.name), ['phone']);
  });

  test('a wrong key is still 401, not 403, whatever the route', async () => {
    for (const path of ['/v1/session', '/v1/users/u/devices']) {
      const reply = await server.request('GET', path, { key: `${SUPPORT}x` });
      assert.equal(reply.status, 401);
      assert.equal(reply.body.type, '/problems/invalid-api-key');
    }
  });
});
