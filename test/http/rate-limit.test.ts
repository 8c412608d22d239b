import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, startTessera, type TestServer } from '../support/tessera-server.js';

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
