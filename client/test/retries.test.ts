/**
 * The retry rule, against a scripted HTTP server that answers 503, 429 or
 * breaks the connection on cue (real Tessera cannot be made to do that on
 * demand). Each case counts how many requests reached the server.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  ConnectionError,
  NotFoundError,
  RateLimitedError,
  TesseraClient,
  TimeoutError,
  UnavailableError,
} from '../src/index.js';

type Step = 'ok' | '503' | '429' | '404' | 'reset' | 'hang';

const CART = { items: [{ sku: 'a', quantity: 1, addedAt: '2026-01-01T00:00:00.000Z' }], version: 'v1' };

let server: Server;
let url: string;
let script: Step[] = [];
let hits: string[] = [];

function problem(res: ServerResponse, status: number, code: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/problem+json', ...headers });
  res.end(JSON.stringify({ type: `/problems/${code}`, title: code, status, detail: `scripted ${code}` }));
}

before(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      hits.push(`${req.method} ${req.url}`);
      const step = script.shift() ?? 'ok';
      if (step === 'reset') return req.socket.destroy();
      if (step === 'hang') return; // never answers
      if (step === '503') return problem(res, 503, 'unavailable');
      if (step === '429') return problem(res, 429, 'rate-limited', { 'retry-after': '0' });
      if (step === '404') return problem(res, 404, 'not-found');
      if (req.url === '/v1/session/history') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ items: [], version: 'v1' }));
      }
      res.writeHead(200, { 'content-type': 'application/json', etag: '"v1"' });
      res.end(JSON.stringify(CART));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  script = [];
  hits = [];
});

function client(extra: Partial<ConstructorParameters<typeof TesseraClient>[0]> = {}) {
  return new TesseraClient({ endpoints: url, apiKey: 'k', retry: { baseDelayMs: 1, maxDelayMs: 5 }, ...extra });
}

describe('retries', () => {
  it('retries a read answered 503 and returns the later success', async () => {
    script = ['503', '503'];
    const cart = await client().getCart('t');
    assert.equal(cart.version, 'v1');
    assert.equal(hits.length, 3);
  });

  it('gives up after `retries` and throws UnavailableError with the attempt count', async () => {
    script = ['503', '503', '503', '503'];
    await assert.rejects(client({ retry: { retries: 2, baseDelayMs: 1 } }).getCart('t'), (error: unknown) => {
      assert.ok(error instanceof UnavailableError);
      assert.equal(error.attempts, 3);
      return true;
    });
    assert.equal(hits.length, 3);
  });

  it('never retries adding to the cart after a 503: a retry could add twice', async () => {
    script = ['503'];
    await assert.rejects(client().addToCart('t', { sku: 'a' }), UnavailableError);
    assert.deepEqual(hits, ['POST /v1/session/cart/items']);
  });

  it('never retries adding to the cart when the connection breaks mid-request', async () => {
    script = ['reset'];
    await assert.rejects(client().addToCart('t', { sku: 'a' }), ConnectionError);
    assert.equal(hits.length, 1);
  });

  it('never retries sign-in or rotation after a 503', async () => {
    script = ['503', '503'];
    await assert.rejects(client().createSession({ userId: 'u' }), UnavailableError);
    await assert.rejects(client().rotate('t'), UnavailableError);
    assert.equal(hits.length, 2);
  });

  it('retries idempotent writes (PUT, DELETE, merge-patch) when the connection breaks', async () => {
    const c = client();
    script = ['reset'];
    await c.setCartItem('t', { sku: 'a', quantity: 2 });
    script = ['reset'];
    await c.removeFromCart('t', 'a');
    script = ['reset'];
    await c.patchPrefs('t', { a: 1 });
    assert.equal(hits.length, 6);
  });

  it('retries a history append, sending the same pinned viewedAt each time', async () => {
    const bodies: string[] = [];
    const listener = (req: IncomingMessage) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => bodies.push(text));
    };
    server.prependListener('request', listener);
    script = ['503'];
    await client().recordView('t', 'p1');
    server.off('request', listener);
    assert.equal(bodies.length, 2);
    assert.equal(bodies[0], bodies[1]);
    assert.match(JSON.parse(bodies[0]!).viewedAt, /^\d{4}-\d\d-\d\dT/);
  });

  it('retries any request answered 429, which the server refused before doing anything', async () => {
    script = ['429'];
    await client().addToCart('t', { sku: 'a' });
    assert.equal(hits.length, 2);
  });

  it('throws RateLimitedError with retryAfterMs when 429 persists', async () => {
    script = ['429', '429', '429'];
    await assert.rejects(client().getCart('t'), (error: unknown) => error instanceof RateLimitedError && error.retryAfterMs === 0);
  });

  it('times out an attempt and retries a read, not an add', async () => {
    script = ['hang'];
    const cart = await client({ timeoutMs: 200 }).getCart('t');
    assert.equal(cart.version, 'v1');
    script = ['hang'];
    await assert.rejects(client({ timeoutMs: 200 }).addToCart('t', { sku: 'a' }), TimeoutError);
  });

  it('stops at once when the caller aborts', async () => {
    script = ['hang'];
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user gave up')), 50);
    await assert.rejects(client().getCart('t', { signal: controller.signal }), /user gave up/);
    assert.equal(hits.length, 1);
  });

  it('counts a 404 on a retried revoke as done: the lost first attempt revoked the device', async () => {
    script = ['reset', '404'];
    await client().revokeDevice('t', 'phone');
    assert.equal(hits.length, 2);
    script = ['404'];
    await assert.rejects(client().revokeDevice('t', 'phone'), NotFoundError, 'a first-attempt 404 is the caller’s mistake');
  });

  it('does not retry at all with retry: false', async () => {
    script = ['503'];
    await assert.rejects(client({ retry: false }).getCart('t'), UnavailableError);
    assert.equal(hits.length, 1);
  });

  it('reuses keep-alive connections across calls', async () => {
    const sockets = new Set<unknown>();
    const listener = (req: IncomingMessage) => sockets.add(req.socket);
    server.prependListener('request', listener);
    const c = client({ connections: 1 });
    for (let i = 0; i < 5; i++) await c.getCart('t');
    server.off('request', listener);
    await c.close();
    assert.equal(sockets.size, 1);
  });
});
