/**
 * `Prefer: return=minimal` (RFC 7240) on every change of a part: 204 with the
 * part's new version as ETag and no body; the change is made all the same,
 * and problems are answered as without it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTessera, type TestServer } from '../support/tessera-server.js';

const MINIMAL = { prefer: 'return=minimal' };

describe('Prefer: return=minimal', () => {
  let server: TestServer;
  before(async () => {
    server = await startTessera();
  });
  after(() => server.close());

  const changes = [
    { name: 'cart add', method: 'POST', path: '/v1/session/cart/items', body: { sku: 'A', quantity: 2 }, read: '/v1/session/cart' },
    { name: 'cart set', method: 'PUT', path: '/v1/session/cart/items/A', body: { quantity: 5 }, read: '/v1/session/cart' },
    { name: 'cart remove', method: 'DELETE', path: '/v1/session/cart/items/A', read: '/v1/session/cart' },
    { name: 'cart clear', method: 'DELETE', path: '/v1/session/cart', read: '/v1/session/cart' },
    { name: 'prefs patch', method: 'PATCH', path: '/v1/session/prefs', body: { currency: 'EUR' }, read: '/v1/session/prefs' },
    { name: 'history view', method: 'POST', path: '/v1/session/history', body: { productId: 'p-1' }, read: '/v1/session/history' },
  ] as const;

  for (const change of changes) {
    test(`${change.name}: 204, no body, the new version as ETag, and the change is made`, async () => {
      const { token } = await server.signIn();
      // Something to remove or clear.
      await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'A' } });
      const before = await server.request('GET', change.read, { token });
      const reply = await server.request(change.method, change.path, { token, headers: MINIMAL, ...('body' in change ? { body: change.body } : {}) });
      assert.equal(reply.status, 204);
      assert.equal(reply.text, '');
      assert.equal(reply.headers.get('preference-applied'), 'return=minimal');
      const read = await server.request('GET', change.read, { token });
      assert.notEqual(read.body.version, before.body.version, 'the part moved on');
      assert.equal(reply.headers.get('etag'), `"${read.body.version}"`, 'the ETag is the version a read shows');
      assert.equal(read.headers.get('etag'), reply.headers.get('etag'));
    });
  }

  test('the part is what the full answer would have shown', async () => {
    const { token } = await server.signIn();
    await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'B', quantity: 2, attributes: { size: 'M' } }, headers: MINIMAL });
    const full = await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'C' } });
    assert.equal(full.status, 200);
    assert.deepEqual(
      full.body.items.map((i: { sku: string; quantity: number; attributes?: unknown }) => [i.sku, i.quantity, i.attributes]),
      [['B', 2, { size: 'M' }], ['C', 1, undefined]],
    );
  });

  test('the ETag of a minimal answer is a valid If-Match for the next change; a stale one is still 412 problem+json', async () => {
    const { token } = await server.signIn();
    const first = await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'A' }, headers: MINIMAL });
    const version = first.headers.get('etag')!;
    const next = await server.request('PUT', '/v1/session/cart/items/A', { token, body: { quantity: 3 }, headers: { ...MINIMAL, 'if-match': version } });
    assert.equal(next.status, 204);
    const stale = await server.request('PUT', '/v1/session/cart/items/A', { token, body: { quantity: 9 }, headers: { ...MINIMAL, 'if-match': version } });
    assert.equal(stale.status, 412);
    assert.equal(stale.body.type, '/problems/version-mismatch');
    assert.match(stale.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(stale.headers.get('preference-applied'), null);
    const cart = await server.request('GET', '/v1/session/cart', { token });
    assert.equal(cart.body.items[0].quantity, 3, 'the stale write wrote nothing');
  });

  test('a bad token or body is answered as without the preference', async () => {
    const { token } = await server.signIn();
    const badToken = await server.request('POST', '/v1/session/cart/items', { token: 'tss1_nope', body: { sku: 'A' }, headers: MINIMAL });
    assert.equal(badToken.status, 401);
    assert.equal(badToken.body.type, '/problems/invalid-token');
    const badBody = await server.request('POST', '/v1/session/cart/items', { token, body: { sku: '' }, headers: MINIMAL });
    assert.equal(badBody.status, 400);
    assert.equal(badBody.body.type, '/problems/validation-failed');
    assert.deepEqual((await server.request('GET', '/v1/session/cart', { token })).body.items, []);
  });

  test('the preference is found among others, in any case, quoted or with parameters; other values are not it', async () => {
    const { token } = await server.signIn();
    const answer = async (prefer: string) =>
      (await server.request('POST', '/v1/session/history', { token, body: { productId: 'p-2' }, headers: { prefer } })).status;
    assert.equal(await answer('respond-async, RETURN="minimal"; note=1'), 204);
    assert.equal(await answer('wait=10,return=minimal'), 204);
    assert.equal(await answer('return=representation'), 200);
    assert.equal(await answer('return=minimalist'), 200);
    assert.equal(await answer('handling=lenient'), 200);
  });

  test('reads ignore it: a GET answers the part', async () => {
    const { token } = await server.signIn();
    const read = await server.request('GET', '/v1/session/cart', { token, headers: MINIMAL });
    assert.equal(read.status, 200);
    assert.deepEqual(read.body.items, []);
  });
});
