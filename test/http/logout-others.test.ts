/**
 * ASVS 7.4.3 (issue 15): "end all other sessions", e.g. after a password
 * change — `DELETE /v1/session/devices?except=current` logs out every device
 * of the session but the caller's, whose token, session and data live on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { startTessera, type TestServer } from '../support/tessera-server.js';

const engines: Array<[string, () => Promise<{ env: Record<string, string>; stop(): Promise<void> }>]> = [
  ['SQLite', async () => ({ env: {}, stop: async () => {} })],
  [
    'Redis',
    async () => {
      const redis: RedisServer = await startRedis();
      return { env: { TESSERA_STORE: 'redis', TESSERA_REDIS_URL: redis.url }, stop: () => redis.stop() };
    },
  ],
];

for (const [engine, start] of engines) {
  describe(`logging out every other device (${engine})`, () => {
    let server: TestServer;
    let stopEngine: () => Promise<void>;
    before(async () => {
      const started = await start();
      stopEngine = started.stop;
      server = await startTessera({ TESSERA_ROTATION_GRACE: '30s', ...started.env });
    });
    after(async () => {
      await server.close();
      await stopEngine();
    });

    const status = async (token: string): Promise<number> => (await server.request('GET', '/v1/session', { token })).status;

    test('ends every other device at once, rotated-out tokens in their grace window included, and keeps this one and the session', async () => {
      const user = `u-others-${engine}`;
      const phone = await server.signIn({ userId: user, device: { name: 'phone' } });
      const laptop = await server.signIn({ userId: user, device: { name: 'laptop' } });
      const kiosk = await server.signIn({ userId: user, device: { name: 'kiosk' } });
      const kioskRotated = (await server.request('POST', '/v1/session/rotate', { token: kiosk.token })).body.token as string;
      await server.request('POST', '/v1/session/cart/items', { token: phone.token, body: { sku: 'KEPT' } });

      const reply = await server.request('DELETE', '/v1/session/devices?except=current', {
        token: laptop.token,
        headers: { 'tessera-csrf': laptop.csrfToken },
      });
      assert.equal(reply.status, 204, reply.text);
      assert.equal(reply.headers.get('cache-control'), 'no-store');

      assert.equal(await status(phone.token), 401);
      assert.equal(await status(kiosk.token), 401, 'the old kiosk token, still inside its grace window');
      assert.equal(await status(kioskRotated), 401);
      assert.equal(await status(laptop.token), 200, 'the caller stays signed in');
      const read = await server.request('GET', '/v1/session?parts=cart,devices', { token: laptop.token });
      assert.equal(read.body.session.id, laptop.session.id, 'the same session');
      assert.deepEqual(read.body.cart.items.map((i: any) => i.sku), ['KEPT']);
      assert.deepEqual(read.body.devices.map((d: any) => [d.name, d.current]), [['laptop', true]]);
      // The user signing in again joins that session.
      const again = await server.signIn({ userId: user });
      assert.equal(again.session.id, laptop.session.id);
    });

    test('is idempotent: with no other device it changes nothing and answers 204', async () => {
      const alone = await server.signIn({ userId: `u-alone-${engine}` });
      const before = await server.request('GET', '/v1/session/devices', { token: alone.token });
      for (let i = 0; i < 2; i++) {
        assert.equal((await server.request('DELETE', '/v1/session/devices?except=current', { token: alone.token })).status, 204);
      }
      const after = await server.request('GET', '/v1/session/devices', { token: alone.token });
      assert.equal(after.headers.get('etag'), before.headers.get('etag'));
    });

    test('a wrong CSRF token, a stale If-Match, a dead token or an unknown except value change nothing', async () => {
      const user = `u-others-refused-${engine}`;
      const a = await server.signIn({ userId: user, device: { name: 'a' } });
      const b = await server.signIn({ userId: user, device: { name: 'b' } });
      const devices = await server.request('GET', '/v1/session/devices', { token: a.token });
      const version = devices.headers.get('etag')!;
      const refusals: Array<[number, string, Record<string, unknown>]> = [
        [403, '/problems/csrf-mismatch', { token: a.token, headers: { 'tessera-csrf': b.csrfToken } }],
        [412, '/problems/version-mismatch', { token: a.token, headers: { 'if-match': '"v999"' } }],
        [401, '/problems/invalid-token', { token: `${a.token.slice(0, -43)}${'Q'.repeat(43)}` }],
      ];
      for (const [code, type, options] of refusals) {
        const reply = await server.request('DELETE', '/v1/session/devices?except=current', options);
        assert.equal(reply.status, code, reply.text);
        assert.equal(reply.body.type, type);
      }
      for (const query of ['except=all', 'except=', 'except=current&except=current', 'other=1']) {
        const reply = await server.request('DELETE', `/v1/session/devices?${query}`, { token: a.token });
        assert.equal(reply.status, 400, `${query}: ${reply.text}`);
      }
      assert.equal(await status(b.token), 200, 'nothing was logged out');
      const after = await server.request('GET', '/v1/session/devices', { token: a.token });
      assert.equal(after.headers.get('etag'), version);
      const ok = await server.request('DELETE', '/v1/session/devices?except=current', { token: a.token, headers: { 'if-match': version } });
      assert.equal(ok.status, 204);
      assert.equal(await status(b.token), 401);
    });

    test('without except, the route still ends the whole session (v1)', async () => {
      const a = await server.signIn({ userId: `u-v1-${engine}` });
      const b = await server.signIn({ userId: `u-v1-${engine}` });
      assert.equal((await server.request('DELETE', '/v1/session/devices', { token: a.token })).status, 204);
      assert.equal(await status(a.token), 401);
      assert.equal(await status(b.token), 401);
    });
  });
}
