import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { clientAddressKey } from '../../src/http/rate-limit.js';
import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { ADMIN_KEY, APP_KEY, startTessera, type TestServer } from '../support/tessera-server.js';

describe('admission control', () => {
  let server: TestServer;
  // The limiter's clock stands still unless a test moves it: a slow machine cannot refill the bucket mid-burst.
  let now = Date.now();
  before(async () => {
    server = await startTessera({ TESSERA_RATE_LIMIT: '5' }, { now: () => now });
  });
  after(() => server.close());

  test('an API key over its rate gets 429 rate-limited with Retry-After, other keys are unaffected', async () => {
    const replies = await Promise.all(Array.from({ length: 8 }, () => server.request('POST', '/v1/sessions', { body: {} })));
    const statuses = replies.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 201, 201, 201, 201, 429, 429, 429]);
    const limited = replies.find((r) => r.status === 429)!;
    assert.equal(limited.body.type, '/problems/rate-limited');
    assert.equal(limited.headers.get('retry-after'), '1');
    assert.match(limited.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const other = await server.request('GET', '/v1/users/nobody/devices', { key: ADMIN_KEY });
    assert.equal(other.status, 404);
  });

  test('the bucket refills with time', async () => {
    assert.equal((await server.request('POST', '/v1/sessions', { body: {} })).status, 429);
    now += 1_100;
    const reply = await server.request('POST', '/v1/sessions', { body: {} });
    assert.equal(reply.status, 201);
  });
});

describe('in-flight cap', () => {
  let server: TestServer;
  before(async () => {
    server = await startTessera({ TESSERA_MAX_IN_FLIGHT: '1' });
  });
  after(() => server.close());

  test('requests beyond the cap are shed with 429 and the cap frees up once they are answered', async () => {
    const replies = await Promise.all(Array.from({ length: 6 }, () => server.request('POST', '/v1/sessions', { body: {} })));
    const statuses = new Set(replies.map((r) => r.status));
    assert.ok(statuses.has(201));
    for (const status of statuses) assert.ok(status === 201 || status === 429, `status ${status}`);
    for (let i = 0; i < 3; i++) assert.equal((await server.request('POST', '/v1/sessions', { body: {} })).status, 201);
  });
});

describe('in-flight cap, with a caller that gives up', () => {
  let redis: RedisServer;
  let server: TestServer;
  before(async () => {
    redis = await startRedis();
    server = await startTessera({ TESSERA_STORE: 'redis', TESSERA_REDIS_URL: redis.url, TESSERA_MAX_IN_FLIGHT: '1' });
  });
  after(async () => {
    redis.resume();
    await server.close();
    await redis.stop();
  });

  // A malformed token is refused (401) after admission and without a store call: it shows whether a slot is free.
  const probe = async (): Promise<number> => (await server.request('GET', '/v1/session', { token: 'not-a-token' })).status;
  /** Probes until the answer is `status` (up to 500 probes, for a slow machine); whether it came. */
  const probeUntil = async (status: number): Promise<boolean> => {
    for (let i = 0; i < 500; i++) {
      if ((await probe()) === status) return true;
      await sleep(20);
    }
    return false;
  };

  test('a request whose caller closes the connection while it waits on the store gives its slot back at once', async () => {
    const { token } = await server.signIn({ userId: 'gives-up' });
    assert.equal(await probe(), 401);
    redis.pause();
    const { host, hostname, port } = new URL(server.url);
    const socket = connect(Number(port), hostname);
    socket.on('error', () => {});
    socket.write(`GET /v1/session HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${APP_KEY}\r\ntessera-token: ${token}\r\n\r\n`);
    // Admitted, then stuck on the frozen store: the one slot is taken.
    assert.ok(await probeUntil(429), 'the stuck request holds the only slot');
    socket.destroy();
    // The store is still frozen, so the stuck request cannot finish: only its abort can free the slot.
    assert.ok(await probeUntil(401), 'the slot came back when the caller left, before the store answered');
    redis.resume();
    assert.equal((await server.request('GET', '/v1/session', { token })).status, 200);
    assert.equal(await probe(), 401, 'and the slot is free once the store answers again');
  });
});

// Issue 15: guesses with invalid API keys were never limited.
describe('failed API-key authentications per client address', () => {
  let server: TestServer;
  let now = Date.now();
  before(async () => {
    server = await startTessera({ TESSERA_AUTH_FAILURE_LIMIT: '5' }, { now: () => now });
  });
  after(() => server.close());

  test('after the limit of failures an address gets 429 with Retry-After, for any key, until the bucket refills', async () => {
    for (let i = 0; i < 5; i++) {
      const reply = await server.request('GET', '/v1/session', { key: `guess-${i}-0123456789abcdef` });
      assert.equal(reply.status, 401, `guess ${i}`);
      assert.equal(reply.body.type, '/problems/invalid-api-key');
    }
    assert.equal((await server.request('GET', '/v1/session', { key: null })).status, 429, 'a missing key counts as a failure too');
    const limited = await server.request('GET', '/v1/session', { key: 'guess-6-0123456789abcdef' });
    assert.equal(limited.status, 429);
    assert.equal(limited.body.type, '/problems/rate-limited');
    assert.match(limited.body.detail, /API key/);
    // 5 failures a minute: one more after 12 s.
    assert.equal(limited.headers.get('retry-after'), '12');
    // While blocked, no key is looked at, so a right guess cannot be told from a wrong one.
    const right = await server.request('POST', '/v1/sessions', { key: APP_KEY, body: {} });
    assert.equal(right.status, 429);

    now += 12_000;
    assert.equal((await server.request('POST', '/v1/sessions', { key: APP_KEY, body: {} })).status, 201);
    assert.equal((await server.request('GET', '/v1/session', { key: 'guess-7-0123456789abcdef' })).status, 401);
    assert.equal((await server.request('GET', '/v1/session', { key: 'guess-8-0123456789abcdef' })).status, 429);
  });

  test('successful requests never use up the allowance', async () => {
    now += 60_000;
    for (let i = 0; i < 20; i++) assert.equal((await server.request('POST', '/v1/sessions', { body: {} })).status, 201);
    for (let i = 0; i < 5; i++) assert.equal((await server.request('GET', '/v1/session', { key: `wrong-${i}-0123456789abcd` })).status, 401);
  });
});

test('addresses are limited one by one for IPv4 and by /64 for IPv6', () => {
  assert.equal(clientAddressKey('203.0.113.7'), '203.0.113.7');
  assert.equal(clientAddressKey('::ffff:203.0.113.7'), '203.0.113.7');
  assert.equal(clientAddressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(clientAddressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
  assert.equal(clientAddressKey('2001:0db8:0001:0002::'), '2001:db8:1:2::/64');
  assert.equal(clientAddressKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(clientAddressKey('::1'), '0:0:0:0::/64');
  assert.equal(clientAddressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
});
