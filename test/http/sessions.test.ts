import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nextMillisecond } from '../support/clock.js';
import { startTessera, type TestServer } from '../support/tessera-server.js';
import { withWrongSecret } from '../support/wrong-secrets.js';

describe('sessions and devices', () => {
  let server: TestServer;
  before(async () => {
    server = await startTessera({ TESSERA_ROTATION_GRACE: '30s' });
  });
  after(() => server.close());

  test('a guest session starts without a user and answers with its token, CSRF token and info', async () => {
    const { token, csrfToken, session } = await server.signIn({ device: { name: 'phone', kind: 'mobile' } });
    assert.match(token, /^tss1_/);
    assert.ok(csrfToken.length >= 32);
    assert.equal(session.userId, null);
    assert.ok(Date.parse(session.expiresAt) > Date.now());
    const read = await server.request('GET', '/v1/session?parts=devices', { token });
    assert.equal(read.status, 200);
    assert.equal(read.body.session.id, session.id);
    assert.deepEqual(read.body.devices.map((d: any) => [d.name, d.kind, d.current]), [['phone', 'mobile', true]]);
  });

  test('a second device of the same user joins the same session and shares its cart', async () => {
    const phone = await server.signIn({ userId: 'u-join', device: { name: 'phone' } });
    await server.request('POST', '/v1/session/cart/items', { token: phone.token, body: { sku: 'SKU-1', quantity: 2 } });
    await nextMillisecond(); // devices are listed oldest first
    const laptop = await server.signIn({ userId: 'u-join', device: { name: 'laptop' } });
    assert.equal(laptop.session.id, phone.session.id);
    assert.notEqual(laptop.session.deviceId, phone.session.deviceId);
    const cart = await server.request('GET', '/v1/session/cart', { token: laptop.token });
    assert.deepEqual(cart.body.items.map((i: any) => [i.sku, i.quantity]), [['SKU-1', 2]]);
    const devices = await server.request('GET', '/v1/session/devices', { token: laptop.token });
    assert.deepEqual(devices.body.devices.map((d: any) => [d.name, d.current]), [['phone', false], ['laptop', true]]);
    assert.match(devices.headers.get('etag') ?? '', /^".+"$/);
  });

  test("signing in with a guest token merges the guest's cart and history and retires the guest token", async () => {
    const user = await server.signIn({ userId: 'u-merge' });
    await server.request('POST', '/v1/session/cart/items', { token: user.token, body: { sku: 'A', quantity: 1 } });
    const guest = await server.signIn();
    await server.request('POST', '/v1/session/cart/items', { token: guest.token, body: { sku: 'A', quantity: 2 } });
    await server.request('POST', '/v1/session/cart/items', { token: guest.token, body: { sku: 'B', quantity: 1 } });
    await server.request('POST', '/v1/session/history', { token: guest.token, body: { productId: 'P-guest' } });

    const signedIn = await server.signIn({ userId: 'u-merge', guestToken: guest.token });
    assert.equal(signedIn.session.id, user.session.id);
    const read = await server.request('GET', '/v1/session?parts=cart,history', { token: signedIn.token });
    assert.deepEqual(read.body.cart.items.map((i: any) => [i.sku, i.quantity]), [['A', 3], ['B', 1]]);
    assert.deepEqual(read.body.history.items.map((i: any) => i.productId), ['P-guest']);
    const old = await server.request('GET', '/v1/session', { token: guest.token });
    assert.equal(old.status, 401);
    assert.equal(old.body.type, '/problems/invalid-token');
  });

  test("a guest merge at sign-in moves the versions of the user's cart and history: an If-Match from before it is refused", async () => {
    const user = await server.signIn({ userId: 'u-merge-version' });
    await server.request('POST', '/v1/session/cart/items', { token: user.token, body: { sku: 'A', quantity: 1 } });
    const cartBefore = await server.request('GET', '/v1/session/cart', { token: user.token });
    const historyBefore = await server.request('GET', '/v1/session/history', { token: user.token });
    const guest = await server.signIn();
    await server.request('POST', '/v1/session/cart/items', { token: guest.token, body: { sku: 'B', quantity: 2 } });
    await server.request('POST', '/v1/session/history', { token: guest.token, body: { productId: 'P-guest' } });
    await server.signIn({ userId: 'u-merge-version', guestToken: guest.token });

    const cartAfter = await server.request('GET', '/v1/session/cart', { token: user.token });
    assert.deepEqual(cartAfter.body.items.map((i: any) => [i.sku, i.quantity]), [['A', 1], ['B', 2]]);
    assert.notEqual(cartAfter.body.version, cartBefore.body.version, 'the merge changed the cart, so its version moved');
    assert.notEqual(cartAfter.headers.get('etag'), cartBefore.headers.get('etag'));
    const historyAfter = await server.request('GET', '/v1/session/history', { token: user.token });
    assert.notEqual(historyAfter.body.version, historyBefore.body.version);
    // A client holding the cart from before the merge must read again before it overwrites it.
    const stale = await server.request('PUT', '/v1/session/cart/items/B', {
      token: user.token,
      body: { quantity: 5 },
      headers: { 'if-match': `"${cartBefore.body.version}"` },
    });
    assert.equal(stale.status, 412, stale.text);
    assert.equal(stale.body.type, '/problems/version-mismatch');
    const stillMerged = await server.request('GET', '/v1/session/cart', { token: user.token });
    assert.deepEqual(stillMerged.body.items.map((i: any) => [i.sku, i.quantity]), [['A', 1], ['B', 2]]);
  });

  test('a guest session ends at sign-in: its cart goes to one account only, and the session itself is over', async () => {
    const guest = await server.signIn();
    await server.request('POST', '/v1/session/cart/items', { token: guest.token, body: { sku: 'ONCE', quantity: 1 } });
    const first = await server.signIn({ userId: 'u-first-taker', guestToken: guest.token });
    const second = await server.signIn({ userId: 'u-second-taker', guestToken: guest.token });
    const cartOf = async (token: string) => (await server.request('GET', '/v1/session/cart', { token })).body.items.map((i: any) => i.sku);
    assert.deepEqual(await cartOf(first.token), ['ONCE']);
    assert.deepEqual(await cartOf(second.token), [], 'a guest token replayed at a second sign-in brings nothing');
    // Not only the guest's token: the guest session is ended in the store.
    assert.equal(await server.tessera.store.load(guest.session.id, ['cart'], Date.now()), null);
  });

  test('an unknown, malformed or revoked guest token is ignored at sign-in', async () => {
    const revoked = await server.signIn();
    await server.request('DELETE', '/v1/session', { token: revoked.token });
    const live = await server.signIn();
    for (const guestToken of ['tss1_nope', revoked.token, withWrongSecret(revoked.token), withWrongSecret(live.token)]) {
      const reply = await server.request('POST', '/v1/sessions', { body: { userId: 'u-ignore', guestToken } });
      assert.equal(reply.status, 201, guestToken);
    }
  });

  test('partial reads return only the named parts, with every version', async () => {
    const { token } = await server.signIn({ userId: 'u-parts' });
    const none = await server.request('GET', '/v1/session', { token });
    assert.deepEqual(Object.keys(none.body).sort(), ['csrf', 'session', 'versions']);
    assert.deepEqual(Object.keys(none.body.versions).sort(), ['cart', 'devices', 'history', 'prefs']);
    const some = await server.request('GET', '/v1/session?parts=prefs,cart', { token });
    assert.deepEqual(Object.keys(some.body).sort(), ['cart', 'csrf', 'prefs', 'session', 'versions']);
  });

  test('rotation issues a new token for the same device; the old one still works inside the grace window', async () => {
    const first = await server.signIn({ userId: 'u-rotate' });
    const rotated = await server.request('POST', '/v1/session/rotate', { token: first.token });
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.body.token, first.token);
    assert.equal(rotated.body.session.deviceId, first.session.deviceId);
    assert.equal((await server.request('GET', '/v1/session', { token: rotated.body.token })).status, 200);
    assert.equal((await server.request('GET', '/v1/session', { token: first.token })).status, 200);
  });

  test('logging out one device leaves the others signed in', async () => {
    const a = await server.signIn({ userId: 'u-logout', device: { name: 'a' } });
    const b = await server.signIn({ userId: 'u-logout', device: { name: 'b' } });
    assert.equal((await server.request('DELETE', '/v1/session', { token: a.token })).status, 204);
    assert.equal((await server.request('GET', '/v1/session', { token: a.token })).status, 401);
    const devices = await server.request('GET', '/v1/session/devices', { token: b.token });
    assert.deepEqual(devices.body.devices.map((d: any) => d.name), ['b']);
  });

  test('revoking another device signs it out at once; an unknown device id is 404', async () => {
    const phone = await server.signIn({ userId: 'u-revoke', device: { name: 'phone' } });
    const laptop = await server.signIn({ userId: 'u-revoke', device: { name: 'laptop' } });
    const revoke = await server.request('DELETE', `/v1/session/devices/${phone.session.deviceId}`, { token: laptop.token });
    assert.equal(revoke.status, 204);
    assert.equal((await server.request('GET', '/v1/session', { token: phone.token })).status, 401);
    assert.equal((await server.request('GET', '/v1/session', { token: laptop.token })).status, 200);
    const unknown = await server.request('DELETE', '/v1/session/devices/AAAAAAAAAAAAAAAA', { token: laptop.token });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.type, '/problems/not-found');
    const again = await server.request('DELETE', `/v1/session/devices/${phone.session.deviceId}`, { token: laptop.token });
    assert.equal(again.status, 404);
  });

  test('logging out everywhere ends the session for every device; the next sign-in starts afresh', async () => {
    const a = await server.signIn({ userId: 'u-everywhere' });
    const b = await server.signIn({ userId: 'u-everywhere' });
    await server.request('POST', '/v1/session/cart/items', { token: a.token, body: { sku: 'X' } });
    assert.equal((await server.request('DELETE', '/v1/session/devices', { token: b.token })).status, 204);
    assert.equal((await server.request('GET', '/v1/session', { token: a.token })).status, 401);
    assert.equal((await server.request('GET', '/v1/session', { token: b.token })).status, 401);
    const c = await server.signIn({ userId: 'u-everywhere' });
    assert.notEqual(c.session.id, a.session.id);
    const cart = await server.request('GET', '/v1/session/cart', { token: c.token });
    assert.deepEqual(cart.body.items, []);
  });

  test('concurrent first sign-ins of one user end up in one session', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => server.signIn({ userId: 'u-race' })));
    assert.equal(new Set(results.map((r) => r.session.id)).size, 1);
    const devices = await server.request('GET', '/v1/session/devices', { token: results[0]!.token });
    assert.equal(devices.body.devices.length, 10);
  });

  test('the CSRF token is reported valid, invalid or absent on reads', async () => {
    const { token, csrfToken } = await server.signIn();
    const check = async (header?: string) =>
      (await server.request('GET', '/v1/session', { token, headers: header === undefined ? {} : { 'tessera-csrf': header } })).body.csrf;
    assert.equal(await check(csrfToken), 'valid');
    assert.equal(await check('not-it'), 'invalid');
    assert.equal(await check(), 'absent');
  });
});
