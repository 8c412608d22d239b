import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTessera, type TestServer } from '../support/tessera-server.js';

describe('preferences and history', () => {
  let server: TestServer;
  before(async () => {
    server = await startTessera({ TESSERA_HISTORY_ITEMS: '5' });
  });
  after(() => server.close());

  test('a merge patch sets, deep-merges and deletes keys', async () => {
    const { token } = await server.signIn();
    await server.request('PATCH', '/v1/session/prefs', { token, body: { theme: { color: 'dark', font: 'serif' }, lang: 'en', currency: 'EUR' } });
    const patched = await server.request('PATCH', '/v1/session/prefs', {
      token,
      raw: JSON.stringify({ theme: { font: null, size: 14 }, lang: null }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    assert.equal(patched.status, 200);
    assert.deepEqual(patched.body.prefs, { currency: 'EUR', theme: { color: 'dark', size: 14 } });
    const read = await server.request('GET', '/v1/session/prefs', { token });
    assert.deepEqual(read.body, patched.body);
    assert.equal(read.headers.get('etag'), `"${read.body.version}"`);
  });

  test('concurrent patches of different keys are all kept', async () => {
    const { token } = await server.signIn();
    await Promise.all(Array.from({ length: 20 }, (_, i) => server.request('PATCH', '/v1/session/prefs', { token, body: { [`k${i}`]: i } })));
    const read = await server.request('GET', '/v1/session/prefs', { token });
    assert.equal(Object.keys(read.body.prefs).length, 20);
  });

  test('history is newest first, deduplicated by product and keeps only the newest N', async () => {
    const { token } = await server.signIn();
    const t0 = Date.now() - 60_000;
    for (const [productId, offset] of [['a', 1], ['b', 2], ['c', 3], ['a', 4], ['d', 5], ['e', 6], ['f', 7]] as const) {
      await server.request('POST', '/v1/session/history', { token, body: { productId, viewedAt: new Date(t0 + offset * 1000).toISOString() } });
    }
    const read = await server.request('GET', '/v1/session/history', { token });
    assert.deepEqual(read.body.items.map((i: any) => i.productId), ['f', 'e', 'd', 'a', 'c']);
    assert.equal(read.body.items[3].viewedAt, new Date(t0 + 4000).toISOString());
  });

  test('an older view of a product does not move it back', async () => {
    const { token } = await server.signIn();
    const now = Date.now();
    await server.request('POST', '/v1/session/history', { token, body: { productId: 'p', viewedAt: new Date(now - 1000).toISOString() } });
    const reply = await server.request('POST', '/v1/session/history', { token, body: { productId: 'p', viewedAt: new Date(now - 50_000).toISOString() } });
    assert.deepEqual(reply.body.items.map((i: any) => i.viewedAt), [new Date(now - 1000).toISOString()]);
  });
});
