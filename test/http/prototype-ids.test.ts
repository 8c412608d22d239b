/**
 * Regression (issue 15, defect 4): ids that name `Object.prototype` members.
 * A token whose device id was `__defineGetter__` made the SQLite engine look the
 * device up as an inherited function and answer 503 (with a warning in the
 * log); it must be the same 401 as any unknown device, on every engine, and a
 * device id of that kind in a path must be an unknown device (404).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { startTessera, type TestServer } from '../support/tessera-server.js';

/** The `Object.prototype` members whose names are 16 base64url characters: valid device ids of a token. */
const PROTOTYPE_DEVICE_IDS = ['__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__'];
/** Other inherited names, for the path parameter (any length up to 128). */
const PROTOTYPE_NAMES = [...PROTOTYPE_DEVICE_IDS, '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
const SECRET = 'A'.repeat(43);

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
  describe(`device ids named like Object.prototype members (${engine})`, () => {
    let server: TestServer;
    let stopEngine: () => Promise<void>;
    before(async () => {
      const started = await start();
      stopEngine = started.stop;
      server = await startTessera(started.env);
    });
    after(async () => {
      await server.close();
      await stopEngine();
    });

    test('a token naming such a device of a live session is a plain 401 invalid-token on every kind of route, never a 503', async () => {
      const user = await server.signIn({ userId: `u-proto-${engine}` });
      const sessionId = user.session.id as string;
      const warningsBefore = server.logs.filter((l) => JSON.parse(l).level >= 40).length;
      for (const deviceId of PROTOTYPE_DEVICE_IDS) {
        const token = `tss1_${sessionId}.${deviceId}.${SECRET}`;
        const calls: Array<[string, string, Record<string, unknown>]> = [
          ['GET', '/v1/session?parts=cart,devices', {}],
          ['GET', '/v1/session/cart', {}],
          ['POST', '/v1/session/cart/items', { body: { sku: 'X' } }],
          ['POST', '/v1/session/cart/items', { body: { sku: 'X' }, headers: { 'tessera-csrf': user.csrfToken } }],
          ['POST', '/v1/session/rotate', {}],
          ['DELETE', '/v1/session', {}],
          ['DELETE', '/v1/session/devices', {}],
        ];
        for (const [method, path, options] of calls) {
          const reply = await server.request(method, path, { token, ...options });
          assert.equal(reply.status, 401, `${deviceId}: ${method} ${path}: ${reply.text}`);
          assert.equal(reply.body.type, '/problems/invalid-token');
        }
        // As a guest token at sign-in it is ignored, like any unknown token.
        const signedIn = await server.request('POST', '/v1/sessions', { body: { userId: `u-proto-other-${engine}`, guestToken: token } });
        assert.equal(signedIn.status, 201, signedIn.text);
      }
      const warnings = server.logs.filter((l) => JSON.parse(l).level >= 40);
      assert.equal(warnings.length, warningsBefore, `no warning is logged: ${warnings.slice(warningsBefore).join('\n')}`);
      // The real device is untouched.
      const read = await server.request('GET', '/v1/session?parts=devices', { token: user.token });
      assert.equal(read.status, 200);
      assert.equal(read.body.devices.length, 1);
    });

    test('revoking a device named like such a member is 404 not-found and changes nothing', async () => {
      const user = await server.signIn({ userId: `u-proto-path-${engine}` });
      const before = await server.request('GET', '/v1/session/devices', { token: user.token });
      for (const name of PROTOTYPE_NAMES) {
        const reply = await server.request('DELETE', `/v1/session/devices/${name}`, { token: user.token });
        assert.equal(reply.status, 404, `${name}: ${reply.text}`);
        assert.equal(reply.body.type, '/problems/not-found');
      }
      const after = await server.request('GET', '/v1/session/devices', { token: user.token });
      assert.equal(after.status, 200);
      assert.deepEqual(after.body, before.body);
      assert.equal(after.headers.get('etag'), before.headers.get('etag'), 'the devices part did not move');
    });
  });
}
