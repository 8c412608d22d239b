/**
 * Regression (issue 15, defect 2): a rotated-out guest token presented as
 * `guestToken` at sign-in was silently ignored. It is reuse like any other
 * presentation: the guest's device is revoked, `token.reuse` is logged, and the
 * sign-in goes on without merging the guest's cart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTessera, type TestServer } from '../support/tessera-server.js';

describe('guestToken at sign-in counts as a presentation of the token', () => {
  let server: TestServer;
  let skew = 0;
  before(async () => {
    server = await startTessera({ TESSERA_ROTATION_GRACE: '1s' }, { now: () => Date.now() + skew });
  });
  after(() => server.close());

  const reuseEvents = (from: number) => server.logs.slice(from).map((l) => JSON.parse(l)).filter((l) => l.event === 'token.reuse');

  test('a rotated-out guest token after its grace window revokes the guest device, logs token.reuse and merges nothing', async () => {
    const guest = await server.signIn({ device: { name: 'guest' } });
    assert.equal((await server.request('POST', '/v1/session/cart/items', { token: guest.token, body: { sku: 'GUEST-LINE' } })).status, 200);
    const rotated = await server.request('POST', '/v1/session/rotate', { token: guest.token });
    assert.equal(rotated.status, 200);
    const current: string = rotated.body.token;
    skew += 1_500;
    const logsBefore = server.logs.length;

    const signedIn = await server.request('POST', '/v1/sessions', { body: { userId: 'u-guest-reuse', guestToken: guest.token } });
    assert.equal(signedIn.status, 201, 'signing in does not fail because of the old guest cookie');
    const cart = await server.request('GET', '/v1/session/cart', { token: signedIn.body.token });
    assert.deepEqual(cart.body.items, [], "the stolen family's cart is not merged");

    const events = reuseEvents(logsBefore);
    assert.equal(events.length, 1, 'one token.reuse event');
    assert.equal(events[0].channel, 'security');
    assert.equal(events[0].sessionId, guest.session.id);
    assert.equal(events[0].deviceId, guest.session.deviceId);
    const stillThere = await server.request('GET', '/v1/session?parts=cart', { token: current });
    assert.equal(stillThere.status, 401, "the guest family is revoked: the current guest token too");
  });

  test('a guest token inside its grace window still merges (no false alarm)', async () => {
    const guest = await server.signIn();
    await server.request('POST', '/v1/session/cart/items', { token: guest.token, body: { sku: 'IN-GRACE' } });
    assert.equal((await server.request('POST', '/v1/session/rotate', { token: guest.token })).status, 200);
    const logsBefore = server.logs.length;
    const signedIn = await server.signIn({ userId: 'u-guest-grace', guestToken: guest.token });
    const cart = await server.request('GET', '/v1/session/cart', { token: signedIn.token });
    assert.deepEqual(cart.body.items.map((i: any) => i.sku), ['IN-GRACE']);
    assert.equal(reuseEvents(logsBefore).length, 0);
  });
});
