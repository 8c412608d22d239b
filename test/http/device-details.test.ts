/**
 * Issue 16 items 1–4 through the real app: device details for "my devices"
 * pages (parsed user agent, truncated addresses, country, times), the
 * authentication time and level with step-up, remember-me per sign-in, and the
 * device limit as a setting with "end the least recently active device".
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_KEY, startTessera, type TestServer } from '../support/tessera-server.js';

const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';

let wall = Date.now();
const advance = (ms: number): void => {
  wall += ms;
};
const user = (name: string): string => `${name}-${Math.random().toString(36).slice(2)}`;

describe('device details, step-up, remember me and the device limit', () => {
  let server: TestServer;
  before(async () => {
    server = await startTessera(
      {
        TESSERA_IDLE_TIMEOUT: '30d',
        TESSERA_SLIDE_AFTER: '1m',
        TESSERA_TRANSIENT_IDLE_TIMEOUT: '2h',
        TESSERA_TRANSIENT_ABSOLUTE_TIMEOUT: '8h',
        TESSERA_MAX_DEVICES: '3',
        TESSERA_API_KEYS: `app:app-key-0123456789abcdef,ops:${ADMIN_KEY}:admin,edge:edge-key-0123456789abcdef:token`,
      },
      { now: () => wall },
    );
  });
  after(() => server.close());

  test('"my devices" shows browser, OS and platform from the user agent, addresses truncated to /24 and /48, country and times', async () => {
    const userId = user('details');
    const phone = await server.signIn({ userId, device: { name: 'Dana’s phone', kind: 'mobile', userAgent: IPHONE, ip: '203.0.113.77', country: 'DE' } });
    advance(1_000);
    const laptop = await server.signIn({ userId, device: { userAgent: FIREFOX, ip: '2001:db8:1234:5678::9' } });
    advance(1_000);
    const odd = await server.signIn({ userId, device: { ip: 'not an address' } });
    const reply = await server.request('GET', '/v1/session/devices', { token: laptop.token });
    assert.equal(reply.status, 200);
    const [first, second, third] = reply.body.devices;
    assert.deepEqual(
      { ...first, id: undefined },
      {
        id: undefined,
        name: 'Dana’s phone',
        kind: 'mobile',
        browser: { name: 'Safari', version: '17.5' },
        os: { name: 'iOS', version: '17.5' },
        platform: 'mobile',
        ip: '203.0.113.0',
        country: 'DE',
        createdAt: phone.session.createdAt,
        lastActiveAt: phone.session.createdAt,
        authenticatedAt: phone.session.authenticatedAt,
        persistent: true,
        current: false,
      },
    );
    assert.deepEqual([second.browser, second.os, second.platform, second.ip, second.current], [{ name: 'Firefox', version: '128.0' }, { name: 'Windows', version: '10' }, 'desktop', '2001:db8:1234::', true]);
    assert.equal(third.ip, undefined, 'a value that is not an IP address is not kept');
    assert.equal(third.id, odd.session.deviceId);
  });

  test('the address and country a device was last seen from are recorded with its activity', async () => {
    const signedIn = await server.signIn({ device: { ip: '198.51.100.20' } });
    const headers = { 'tessera-client-ip': '192.0.2.200', 'tessera-client-country': 'US-CA' };
    await server.request('GET', '/v1/session', { token: signedIn.token, headers });
    let device = (await server.request('GET', '/v1/session/devices', { token: signedIn.token })).body.devices[0];
    assert.equal(device.lastIp, undefined, 'activity is recorded at most once per TESSERA_SLIDE_AFTER: not yet');
    advance(61_000);
    await server.request('GET', '/v1/session/cart', { token: signedIn.token, headers });
    device = (await server.request('GET', '/v1/session/devices', { token: signedIn.token })).body.devices[0];
    assert.deepEqual([device.ip, device.lastIp, device.lastCountry], ['198.51.100.0', '192.0.2.0', 'US-CA']);
  });

  test('a malformed Tessera-Client-IP or -Country is 400 validation-failed', async () => {
    const { token } = await server.signIn();
    for (const headers of [{ 'tessera-client-ip': 'example.com' }, { 'tessera-client-country': 'Germany' }] as Record<string, string>[]) {
      const reply = await server.request('GET', '/v1/session', { token, headers });
      assert.equal(reply.status, 400, JSON.stringify(headers));
      assert.equal(reply.body.type, '/problems/validation-failed');
    }
  });

  test('sign-in records when and how the user authenticated; a step-up re-authentication moves both and issues a new token', async () => {
    const signedIn = await server.signIn({ userId: user('step-up'), authLevel: 'pwd' });
    assert.equal(signedIn.session.authLevel, 'pwd');
    assert.equal(signedIn.session.authenticatedAt, new Date(wall).toISOString());
    advance(10 * 60_000);
    const read = await server.request('GET', '/v1/session', { token: signedIn.token });
    assert.equal(read.body.session.authenticatedAt, signedIn.session.authenticatedAt, 'reads do not move it');
    const stepped = await server.request('POST', '/v1/session/reauthenticate', { token: signedIn.token, body: { authLevel: 'webauthn' } });
    assert.equal(stepped.status, 200);
    assert.notEqual(stepped.body.token, signedIn.token);
    assert.equal(stepped.body.session.authenticatedAt, new Date(wall).toISOString());
    assert.equal(stepped.body.session.authLevel, 'webauthn');
    const now = await server.request('GET', '/v1/session', { token: stepped.body.token });
    assert.deepEqual([now.body.session.authenticatedAt, now.body.session.authLevel], [stepped.body.session.authenticatedAt, 'webauthn']);
    assert.equal((await server.request('GET', '/v1/session', { token: signedIn.token })).status, 200, 'the old token works for the grace window');
  });

  test('re-authentication vouches for the user: a key with only the token scope is refused', async () => {
    const { token } = await server.signIn({ userId: user('scope') });
    const reply = await server.request('POST', '/v1/session/reauthenticate', { token, key: 'edge-key-0123456789abcdef' });
    assert.equal(reply.status, 403);
    assert.equal(reply.body.type, '/problems/forbidden');
    assert.equal((await server.request('GET', '/v1/session', { token })).body.session.authLevel, undefined);
  });

  test('authLevel needs a userId, and a well-formed name', async () => {
    for (const body of [{ authLevel: 'pwd' }, { userId: user('bad-level'), authLevel: 'two words' }]) {
      const reply = await server.request('POST', '/v1/sessions', { body });
      assert.equal(reply.status, 400, JSON.stringify(body));
    }
  });

  test('a transient sign-in ("remember me" unticked) is signed out after its own idle timeout and lifetime', async () => {
    const userId = user('transient');
    const kept = await server.signIn({ userId });
    const brief = await server.signIn({ userId, persistent: false });
    assert.equal(brief.session.persistent, false);
    assert.equal(kept.session.persistent, true);
    // Used every hour, it lives until its 8-hour lifetime; idle for 2 hours, it would have gone sooner.
    for (let hour = 1; hour < 8; hour += 1) {
      advance(3_600_000);
      assert.equal((await server.request('GET', '/v1/session', { token: brief.token })).status, 200, `hour ${hour}`);
    }
    advance(3_600_000);
    assert.equal((await server.request('GET', '/v1/session', { token: brief.token })).status, 401, 'past its lifetime');
    assert.equal((await server.request('GET', '/v1/session', { token: kept.token })).status, 200, 'the persistent device lives on');
    const idle = await server.signIn({ userId, persistent: false });
    advance(2 * 3_600_000);
    assert.equal((await server.request('GET', '/v1/session', { token: idle.token })).status, 401, 'idle for its own timeout');
  });

  test('at TESSERA_MAX_DEVICES a sign-in is refused, or ends the least recently active device when it asks', async () => {
    const userId = user('limit');
    const a = await server.signIn({ userId });
    advance(1_000);
    const b = await server.signIn({ userId });
    advance(1_000);
    const c = await server.signIn({ userId });
    advance(120_000);
    await server.request('GET', '/v1/session', { token: a.token }); // a is used again: b is now the least recently active
    const refused = await server.request('POST', '/v1/sessions', { body: { userId } });
    assert.equal(refused.status, 413);
    assert.equal(refused.body.type, '/problems/payload-too-large');
    const d = await server.request('POST', '/v1/sessions', { body: { userId, atDeviceLimit: 'end-least-recent' } });
    assert.equal(d.status, 201);
    assert.equal((await server.request('GET', '/v1/session', { token: b.token })).status, 401, 'the least recently active device was logged out');
    for (const token of [a.token, c.token, d.body.token]) assert.equal((await server.request('GET', '/v1/session', { token })).status, 200);
  });
});

describe('TESSERA_DEVICE_LIMIT_ACTION=end-least-recent and full addresses', () => {
  let server: TestServer;
  before(async () => {
    server = await startTessera({ TESSERA_MAX_DEVICES: '1', TESSERA_DEVICE_LIMIT_ACTION: 'end-least-recent', TESSERA_IPV4_PREFIX: '32', TESSERA_IPV6_PREFIX: '128' });
  });
  after(() => server.close());

  test('the next sign-in ends the oldest device unless it asks to be refused; addresses are kept whole', async () => {
    const userId = user('default-end');
    const first = await server.signIn({ userId, device: { ip: '203.0.113.77' } });
    assert.equal((await server.request('GET', '/v1/session/devices', { token: first.token })).body.devices[0].ip, '203.0.113.77');
    const second = await server.signIn({ userId });
    assert.equal((await server.request('GET', '/v1/session', { token: first.token })).status, 401);
    const refused = await server.request('POST', '/v1/sessions', { body: { userId, atDeviceLimit: 'refuse' } });
    assert.equal(refused.status, 413);
    assert.equal((await server.request('GET', '/v1/session', { token: second.token })).status, 200);
  });
});

describe('privacy requests: export and erasure (scope users)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTessera();
  });
  after(() => server.close());

  test('exports every session of a user with its devices and parts; erasure leaves nothing to export and signs every device out', async () => {
    const userId = user('gdpr');
    const old = await server.signIn({ userId, device: { name: 'old laptop', userAgent: FIREFOX, ip: '198.51.100.9' } });
    await server.request('POST', '/v1/session/cart/items', { token: old.token, body: { sku: 'OLD-1' } });
    await server.request('DELETE', '/v1/session/devices', { token: old.token });
    const current = await server.signIn({ userId, device: { name: 'phone', userAgent: IPHONE }, authLevel: 'otp' });
    await server.request('POST', '/v1/session/cart/items', { token: current.token, body: { sku: 'NOW-1', quantity: 2 } });
    await server.request('PATCH', '/v1/session/prefs', { token: current.token, body: { theme: 'dark' } });
    await server.request('POST', '/v1/session/history', { token: current.token, body: { productId: 'p-9' } });

    const exported = await server.request('GET', `/v1/users/${encodeURIComponent(userId)}/export`, { key: ADMIN_KEY });
    assert.equal(exported.status, 200);
    assert.equal(exported.body.userId, userId);
    const [ended, live] = exported.body.sessions;
    assert.deepEqual([ended.id, ended.state, live.id, live.state], [old.session.id, 'ended', current.session.id, 'live']);
    assert.deepEqual(live.cart.items.map((i: { sku: string; quantity: number }) => [i.sku, i.quantity]), [['NOW-1', 2]]);
    assert.deepEqual(live.prefs, { theme: 'dark' });
    assert.deepEqual(live.history.items.map((i: { productId: string }) => i.productId), ['p-9']);
    assert.deepEqual([live.devices[0].name, live.devices[0].userAgent, live.devices[0].authLevel, live.devices[0].os.name], ['phone', IPHONE, 'otp', 'iOS']);
    assert.deepEqual([ended.cart.items, ended.devices], [[], []], 'an ended session keeps no parts');
    assert.ok(!exported.text.includes(current.token.split('.').at(-1)!), 'no token secret');

    assert.equal((await server.request('GET', `/v1/users/${encodeURIComponent(userId)}/export`)).status, 403, 'the app key lacks the users scope');
    assert.equal((await server.request('DELETE', `/v1/users/${encodeURIComponent(userId)}`)).status, 403);

    const erased = await server.request('DELETE', `/v1/users/${encodeURIComponent(userId)}`, { key: ADMIN_KEY });
    assert.deepEqual([erased.status, erased.body], [200, { sessions: 2 }]);
    assert.equal((await server.request('GET', '/v1/session', { token: current.token })).status, 401);
    const after = await server.request('GET', `/v1/users/${encodeURIComponent(userId)}/export`, { key: ADMIN_KEY });
    assert.deepEqual(after.body.sessions, []);
    assert.equal((await server.request('GET', `/v1/users/${encodeURIComponent(userId)}/devices`, { key: ADMIN_KEY })).status, 404);
    const again = await server.request('DELETE', `/v1/users/${encodeURIComponent(userId)}`, { key: ADMIN_KEY });
    assert.deepEqual(again.body, { sessions: 0 }, 'idempotent');
  });
});
