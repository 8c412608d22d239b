import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nextMillisecond } from '../support/clock.js';
import { ADMIN_KEY, startTessera, type TestServer } from '../support/tessera-server.js';

describe('administration and operations endpoints', () => {
  let server: TestServer;
  before(async () => {
    server = await startTessera();
  });
  after(() => server.close());

  test("an admin key lists a user's devices; a sessions key is forbidden", async () => {
    const phone = await server.signIn({ userId: 'u-admin', device: { name: 'phone' } });
    await nextMillisecond(); // devices are listed oldest first
    await server.signIn({ userId: 'u-admin', device: { name: 'laptop' } });
    const listed = await server.request('GET', '/v1/users/u-admin/devices', { key: ADMIN_KEY });
    assert.equal(listed.status, 200);
    assert.equal(listed.body.sessionId, phone.session.id);
    assert.deepEqual(listed.body.devices.map((d: any) => [d.name, d.current]), [['phone', false], ['laptop', false]]);
    const forbidden = await server.request('GET', '/v1/users/u-admin/devices');
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.type, '/problems/forbidden');
  });

  test('a user without a live session has no devices (404), and logging them out is a no-op (204)', async () => {
    assert.equal((await server.request('GET', '/v1/users/nobody/devices', { key: ADMIN_KEY })).status, 404);
    assert.equal((await server.request('DELETE', '/v1/users/nobody/sessions', { key: ADMIN_KEY })).status, 204);
  });

  test('logging a user out from the admin API revokes every device', async () => {
    const a = await server.signIn({ userId: 'u-kick' });
    const b = await server.signIn({ userId: 'u-kick' });
    assert.equal((await server.request('DELETE', '/v1/users/u-kick/sessions', { key: ADMIN_KEY })).status, 204);
    assert.equal((await server.request('GET', '/v1/session', { token: a.token })).status, 401);
    assert.equal((await server.request('GET', '/v1/session', { token: b.token })).status, 401);
    assert.equal((await server.request('GET', '/v1/users/u-kick/devices', { key: ADMIN_KEY })).status, 404);
  });

  test('health and readiness answer without an API key', async () => {
    const health = await server.request('GET', '/healthz', { key: null });
    assert.deepEqual([health.status, health.body.status], [200, 'ok']);
    const ready = await server.request('GET', '/readyz', { key: null });
    assert.deepEqual([ready.status, ready.body], [200, { status: 'ready', engine: 'sqlite' }]);
  });

  test('metrics expose a request-latency histogram by route, without secrets', async () => {
    const { token } = await server.signIn();
    await server.request('GET', '/v1/session/cart', { token });
    const metrics = await server.request('GET', '/metrics', { key: null, admin: true });
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /tessera_http_request_duration_seconds_bucket\{[^}]*route="\/v1\/session\/cart"/);
    assert.match(metrics.text, /tessera_sessions_created_total/);
    assert.ok(!metrics.text.includes(token));
  });

  test('the OpenAPI document is generated from the route schemas and covers every endpoint', async () => {
    const doc = await server.request('GET', '/openapi.json', { key: null, admin: true });
    assert.equal(doc.body.openapi, '3.1.0');
    const paths = Object.keys(doc.body.paths);
    for (const path of [
      '/v1/sessions',
      '/v1/session',
      '/v1/session/rotate',
      '/v1/session/devices',
      '/v1/session/devices/{deviceId}',
      '/v1/session/cart',
      '/v1/session/cart/items',
      '/v1/session/cart/items/{sku}',
      '/v1/session/prefs',
      '/v1/session/history',
      '/v1/users/{userId}/devices',
      '/v1/users/{userId}/sessions',
      '/healthz',
      '/readyz',
    ]) {
      assert.ok(paths.includes(path), `missing ${path}`);
    }
    assert.ok(doc.body.paths['/v1/session/cart/items'].post.requestBody);
    const docs = await server.request('GET', '/docs/', { key: null, admin: true });
    assert.equal(docs.status, 200);
    assert.match(docs.text, /swagger/i);
  });

  test('every problem type is documented at its URL, and an unknown one is 404', async () => {
    for (const code of ['validation-failed', 'invalid-api-key', 'invalid-token', 'forbidden', 'csrf-mismatch', 'not-found', 'version-mismatch', 'payload-too-large', 'unsupported-media-type', 'rate-limited', 'unavailable']) {
      const reply = await server.request('GET', `/problems/${code}`, { key: null });
      assert.equal(reply.status, 200, code);
      assert.equal(reply.body.type, `/problems/${code}`);
      assert.ok(reply.body.description.length > 20);
    }
    assert.equal((await server.request('GET', '/problems/teapot', { key: null })).status, 404);
  });
});
