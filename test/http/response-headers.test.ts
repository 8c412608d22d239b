/**
 * Regression (issue 15, defect 7): answers that carry a token, a CSRF token or
 * a user's data were cacheable (no `Cache-Control`), and no answer said
 * `X-Content-Type-Options: nosniff`. Every answer of the API listener now says
 * both — successes and problems, every route family, and the raw answer to a
 * request Fastify never saw.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { ADMIN_KEY, startTessera, type Reply, type TestServer } from '../support/tessera-server.js';

describe('Cache-Control: no-store and X-Content-Type-Options: nosniff on every answer', () => {
  let server: TestServer;
  before(async () => {
    server = await startTessera();
  });
  after(() => server.close());

  const assertHeaders = (label: string, reply: Reply, status: number): void => {
    assert.equal(reply.status, status, `${label}: ${reply.text}`);
    assert.equal(reply.headers.get('cache-control'), 'no-store', `${label}: Cache-Control`);
    assert.equal(reply.headers.get('x-content-type-options'), 'nosniff', `${label}: X-Content-Type-Options`);
  };

  test('sessions, devices, cart, prefs, history and admin routes, on success', async () => {
    const created = await server.request('POST', '/v1/sessions', { body: { userId: 'u-headers', device: { name: 'a' } } });
    assertHeaders('POST /v1/sessions', created, 201);
    const other = await server.signIn({ userId: 'u-headers', device: { name: 'b' } });
    const rotated = await server.request('POST', '/v1/session/rotate', { token: created.body.token });
    assertHeaders('POST /v1/session/rotate', rotated, 200);
    const token: string = rotated.body.token;
    const calls: Array<[string, string, number, Record<string, unknown>?]> = [
      ['GET', '/v1/session?parts=cart,prefs,history,devices', 200],
      ['GET', '/v1/session/devices', 200],
      ['POST', '/v1/session/cart/items', 200, { body: { sku: 'S' } }],
      ['PUT', '/v1/session/cart/items/S', 200, { body: { quantity: 2 } }],
      ['GET', '/v1/session/cart', 200],
      ['DELETE', '/v1/session/cart/items/S', 200],
      ['DELETE', '/v1/session/cart', 200],
      ['PATCH', '/v1/session/prefs', 200, { body: { theme: 'dark' } }],
      ['GET', '/v1/session/prefs', 200],
      ['POST', '/v1/session/history', 200, { body: { productId: 'P' } }],
      ['GET', '/v1/session/history', 200],
      ['DELETE', `/v1/session/devices/${other.session.deviceId}`, 204],
    ];
    for (const [method, path, status, options] of calls) {
      assertHeaders(`${method} ${path}`, await server.request(method, path, { token, ...options }), status);
    }
    assertHeaders('GET /v1/users/…/devices', await server.request('GET', '/v1/users/u-headers/devices', { key: ADMIN_KEY }), 200);
    assertHeaders('DELETE /v1/session', await server.request('DELETE', '/v1/session', { token }), 204);
    const last = await server.signIn({ userId: 'u-headers-2' });
    assertHeaders('DELETE /v1/session/devices', await server.request('DELETE', '/v1/session/devices', { token: last.token }), 204);
    assertHeaders('DELETE /v1/users/…/sessions', await server.request('DELETE', '/v1/users/u-headers/sessions', { key: ADMIN_KEY }), 204);
  });

  test('problems: bad key, bad token, forbidden, bad input, unknown route', async () => {
    const { token } = await server.signIn();
    assertHeaders('invalid-api-key', await server.request('GET', '/v1/session', { token, key: 'nope-nope-nope-nope' }), 401);
    assertHeaders('invalid-token', await server.request('GET', '/v1/session', { token: 'tss1_x' }), 401);
    assertHeaders('forbidden', await server.request('GET', '/v1/users/u/devices'), 403);
    assertHeaders('validation-failed', await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'S', extra: 1 } }), 400);
    assertHeaders('unsupported-media-type', await server.request('POST', '/v1/session/cart/items', { token, raw: 'x', headers: { 'content-type': 'text/plain' } }), 415);
    assertHeaders('not-found', await server.request('GET', '/v1/nowhere'), 404);
  });

  test('operations endpoints on the API port', async () => {
    assertHeaders('/healthz', await server.request('GET', '/healthz', { key: null }), 200);
    assertHeaders('/readyz', await server.request('GET', '/readyz', { key: null }), 200);
    assertHeaders('/problems/…', await server.request('GET', '/problems/invalid-token', { key: null }), 200);
  });

  test('the raw answer to a request that never became a Fastify request', async () => {
    const head = await new Promise<string>((resolve, reject) => {
      const { hostname, port } = new URL(server.url);
      const chunks: Buffer[] = [];
      const socket = connect(Number(port), hostname, () => socket.write(`GET /v1/session HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(20_000)}\r\n\r\n`));
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.on('error', reject);
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    });
    assert.match(head, /^HTTP\/1\.1 400 /);
    assert.match(head, /\r\nX-Content-Type-Options: nosniff\r\n/i);
    assert.match(head, /\r\nCache-Control: no-store\r\n/i);
  });
});
