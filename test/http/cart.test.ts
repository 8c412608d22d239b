import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nextMillisecond } from '../support/clock.js';
import { startTessera, type TestServer } from '../support/tessera-server.js';

describe('cart', () => {
  let server: TestServer;
  before(async () => {
    server = await startTessera();
  });
  after(() => server.close());

  const items = (reply: { body: any }) => reply.body.items.map((i: any) => [i.sku, i.quantity]);

  test('add, set, remove and clear each touch only the named lines, in the order first added', async () => {
    const { token } = await server.signIn();
    await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'B', quantity: 2, attributes: { size: 'M' } } });
    await nextMillisecond(); // in one millisecond, A would come first (ties go by SKU)
    await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'A' } });
    const added = await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'B', quantity: 3 } });
    assert.deepEqual(items(added), [['B', 5], ['A', 1]]);
    assert.deepEqual(added.body.items[0].attributes, { size: 'M' });
    const set = await server.request('PUT', '/v1/session/cart/items/A', { token, body: { quantity: 7 } });
    assert.deepEqual(items(set), [['B', 5], ['A', 7]]);
    const removed = await server.request('DELETE', '/v1/session/cart/items/B', { token });
    assert.deepEqual(items(removed), [['A', 7]]);
    const cleared = await server.request('DELETE', '/v1/session/cart', { token });
    assert.deepEqual(cleared.body.items, []);
    const read = await server.request('GET', '/v1/session/cart', { token });
    assert.deepEqual(read.body.items, []);
    assert.equal(read.headers.get('etag'), `"${read.body.version}"`);
  });

  test('removing a SKU that is not in the cart changes nothing and succeeds', async () => {
    const { token } = await server.signIn();
    const reply = await server.request('DELETE', '/v1/session/cart/items/NOPE', { token });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body.items, []);
  });

  test('40 concurrent adds of 1 to one line all count', async () => {
    const { token } = await server.signIn({ userId: 'u-concurrent' });
    const replies = await Promise.all(
      Array.from({ length: 40 }, () => server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'HOT', quantity: 1 } })),
    );
    assert.deepEqual([...new Set(replies.map((r) => r.status))], [200]);
    const cart = await server.request('GET', '/v1/session/cart', { token });
    assert.deepEqual(items(cart), [['HOT', 40]]);
  });

  test('concurrent adds from two devices of one user all count', async () => {
    const phone = await server.signIn({ userId: 'u-two-tabs' });
    const laptop = await server.signIn({ userId: 'u-two-tabs' });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        server.request('POST', '/v1/session/cart/items', { token: i % 2 ? phone.token : laptop.token, body: { sku: 'S' } }),
      ),
    );
    assert.deepEqual(items(await server.request('GET', '/v1/session/cart', { token: phone.token })), [['S', 20]]);
  });

  test('If-Match with the current version writes; with a stale one it is 412 and nothing is written', async () => {
    const { token } = await server.signIn();
    const first = await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'A' } });
    const version = first.body.version;
    const ok = await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'A' }, headers: { 'if-match': `"${version}"` } });
    assert.equal(ok.status, 200);
    assert.notEqual(ok.body.version, version);
    const stale = await server.request('PUT', '/v1/session/cart/items/A', { token, body: { quantity: 9 }, headers: { 'if-match': `"${version}"` } });
    assert.equal(stale.status, 412);
    assert.equal(stale.body.type, '/problems/version-mismatch');
    assert.match(stale.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const after = await server.request('GET', '/v1/session/cart', { token });
    assert.deepEqual(items(after), [['A', 2]]);
    assert.equal(after.body.version, ok.body.version);
  });

  test('concurrent writers using If-Match: exactly one wins each version', async () => {
    const { token } = await server.signIn();
    const { body } = await server.request('GET', '/v1/session/cart', { token });
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        server.request('PUT', `/v1/session/cart/items/X`, { token, body: { quantity: i + 1 }, headers: { 'if-match': body.version } }),
      ),
    );
    assert.equal(replies.filter((r) => r.status === 200).length, 1);
    assert.equal(replies.filter((r) => r.status === 412).length, 9);
  });

  test('a cart change does not move the versions of the other parts', async () => {
    const { token } = await server.signIn();
    const before = (await server.request('GET', '/v1/session', { token })).body.versions;
    await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'A' } });
    const after = (await server.request('GET', '/v1/session', { token })).body.versions;
    assert.notEqual(after.cart, before.cart);
    assert.deepEqual({ ...after, cart: null }, { ...before, cart: null });
  });
});
