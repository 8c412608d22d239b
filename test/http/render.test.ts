/**
 * Answers that carry parts are rendered to JSON by hand (src/http/render.ts),
 * not by Fastify's schema serializer. These tests hold every such answer to
 * its documented schema, field for field, so the two cannot drift apart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { Cart, History, Prefs, SessionRead } from '../../src/http/schemas.js';
import { startTessera, type TestServer } from '../support/tessera-server.js';

// What the API promises for times: ISO 8601 in UTC, as toISOString writes them.
FormatRegistry.Set('date-time', (value) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(value));

/** Schema errors, plus properties the schema does not name (TypeBox objects allow extras). */
function conformance(schema: TSchema, value: unknown): string[] {
  const errors = [...Value.Errors(schema, value)].map((e) => `${e.path}: ${e.message}`);
  const walk = (s: TSchema, v: unknown, path: string): void => {
    if (s['type'] === 'object' && s['properties'] && v && typeof v === 'object' && s['additionalProperties'] !== true) {
      for (const key of Object.keys(v)) {
        const property = (s['properties'] as Record<string, TSchema>)[key];
        if (property === undefined) errors.push(`${path}/${key}: not in the schema`);
        else walk(property, (v as Record<string, unknown>)[key], `${path}/${key}`);
      }
    }
    if (s['type'] === 'array' && Array.isArray(v)) v.forEach((item, i) => walk(s['items'] as TSchema, item, `${path}/${i}`));
  };
  walk(schema, value, '');
  return errors;
}

describe('rendered answers match their schemas', () => {
  let server: TestServer;
  let token: string;
  let csrfToken: string;
  before(async () => {
    server = await startTessera();
    ({ token, csrfToken } = await server.signIn({ userId: 'render-user', device: { name: 'phone', kind: 'mobile' } }));
    const setup = [
      await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'A', quantity: 2, attributes: { size: 'M', title: 'ünïcode ✓ "quoted" \\ </script>', price: { amount: 1999, currency: 'EUR' } } } }),
      await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'B"quoted"\\<tag>' } }),
      await server.request('PATCH', '/v1/session/prefs', { token, body: { theme: { color: 'dark' }, lang: 'de', n: 1.5, list: [null, true, 'é\u2028'] } }),
      await server.request('POST', '/v1/session/history', { token, body: { productId: 'P1' } }),
    ];
    assert.deepEqual(setup.map((r) => r.status), [200, 200, 200, 200]);
  });
  after(() => server.close());

  const cases: Array<{ name: string; path: string; schema: TSchema; headers?: () => Record<string, string> }> = [
    { name: 'GET /v1/session with every part', path: '/v1/session?parts=cart,prefs,history,devices', schema: SessionRead },
    { name: 'GET /v1/session with no part', path: '/v1/session', schema: SessionRead },
    { name: 'GET /v1/session with a valid CSRF token', path: '/v1/session?parts=cart', schema: SessionRead, headers: () => ({ 'tessera-csrf': csrfToken }) },
    { name: 'GET /v1/session/cart', path: '/v1/session/cart', schema: Cart },
    { name: 'GET /v1/session/prefs', path: '/v1/session/prefs', schema: Prefs },
    { name: 'GET /v1/session/history', path: '/v1/session/history', schema: History },
  ];
  for (const { name, path, schema, headers } of cases) {
    test(`${name} conforms to its response schema`, async () => {
      const reply = await server.request('GET', path, { token, ...(headers ? { headers: headers() } : {}) });
      assert.equal(reply.status, 200);
      assert.match(reply.headers.get('content-type') ?? '', /^application\/json; charset=utf-8$/);
      assert.deepEqual(conformance(schema, reply.body), []);
    });
  }

  test('the whole-session read carries the parts exactly as the single-part reads do', async () => {
    const whole = (await server.request('GET', '/v1/session?parts=cart,prefs,history', { token })).body;
    const cart = (await server.request('GET', '/v1/session/cart', { token })).body;
    const prefs = (await server.request('GET', '/v1/session/prefs', { token })).body;
    const history = (await server.request('GET', '/v1/session/history', { token })).body;
    assert.deepEqual(whole.cart, { items: cart.items });
    assert.deepEqual(whole.prefs, prefs.prefs);
    assert.deepEqual(whole.history, { items: history.items });
    assert.deepEqual(whole.versions, { cart: cart.version, prefs: prefs.version, history: history.version, devices: whole.versions.devices });
    assert.deepEqual(cart.items.map((i: { sku: string }) => i.sku), ['A', 'B"quoted"\\<tag>']);
    assert.deepEqual(cart.items[0].attributes, { size: 'M', title: 'ünïcode ✓ "quoted" \\ </script>', price: { amount: 1999, currency: 'EUR' } });
    assert.deepEqual(prefs.prefs, { lang: 'de', list: [null, true, 'é\u2028'], n: 1.5, theme: { color: 'dark' } });
    assert.equal(whole.session.userId, 'render-user');
    assert.equal(whole.csrf, 'absent');
  });

  test('a guest session renders userId as null', async () => {
    const guest = await server.signIn();
    const reply = await server.request('GET', '/v1/session?parts=cart', { token: guest.token });
    assert.equal(reply.body.session.userId, null);
    assert.deepEqual(reply.body.cart, { items: [] });
    assert.deepEqual(conformance(SessionRead, reply.body), []);
  });

  test('a mutation answers the rendered part with its new version as ETag', async () => {
    const reply = await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'A' } });
    assert.equal(reply.status, 200);
    assert.deepEqual(conformance(Cart, reply.body), []);
    assert.equal(reply.body.items[0].quantity, 3);
    assert.equal(reply.headers.get('etag'), `"${reply.body.version}"`);
  });
});
