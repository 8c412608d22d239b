/**
 * The retry rule, against a scripted HTTP server that answers 503, 429 or
 * breaks the connection on cue (real Tessera cannot be made to do that on
 * demand). Each case counts how many requests reached the server.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  ConnectionError,
  NotFoundError,
  RateLimitedError,
  TesseraClient,
  TimeoutError,
  UnavailableError,
} from '../src/index.js';

type Step = 'ok' | '503' | 'drain' | '429' | '404' | 'reset' | 'hang';

const CART = { items: [{ sku: 'a', quantity: 1, addedAt: '2026-01-01T00:00:00.000Z' }], version: 'v1' };

let server: Server;
let url: string;
let script: Step[] = [];
let hits: string[] = [];
/** A second region, always healthy, and the requests it got. */
let other: Server;
let otherUrl: string;
let otherHits: string[] = [];
/** Accepts connections and never answers, like a frozen process. */
let hung: TcpServer;
let hungUrl: string;
const hungSockets = new Set<import('node:net').Socket>();

function problem(res: ServerResponse, status: number, code: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/problem+json', ...headers });
  res.end(JSON.stringify({ type: `/problems/${code}`, title: code, status, detail: `scripted ${code}` }));
}

function scripted(log: () => string[], steps: () => Step[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      log().push(`${req.method} ${req.url}`);
      const step = steps().shift() ?? 'ok';
      if (step === 'reset') return req.socket.destroy();
      if (step === 'hang') return; // never answers
      if (step === '503') return problem(res, 503, 'unavailable');
      // What a draining Tessera answers to a request arriving during shutdown.
      if (step === 'drain') return problem(res, 503, 'unavailable', { 'retry-after': '1', connection: 'close' });
      if (step === '429') return problem(res, 429, 'rate-limited', { 'retry-after': '0' });
      if (step === '404') return problem(res, 404, 'not-found');
      if (req.url === '/v1/session/history') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ items: [], version: 'v1' }));
      }
      res.writeHead(200, { 'content-type': 'application/json', etag: '"v1"' });
      res.end(JSON.stringify(CART));
    });
  };
}

const address = (s: Server | TcpServer) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

before(async () => {
  server = createServer(scripted(() => hits, () => script));
  other = createServer(scripted(() => otherHits, () => []));
  hung = createTcpServer((socket) => {
    hungSockets.add(socket.resume());
    socket.on('close', () => hungSockets.delete(socket));
  });
  await Promise.all([server, other, hung].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
  [url, otherUrl, hungUrl] = [address(server), address(other), address(hung)];
});

after(async () => {
  for (const s of [server, other]) s.closeAllConnections();
  for (const socket of hungSockets) socket.destroy();
  await Promise.all([server, other, hung].map((s) => new Promise((resolve) => s.close(resolve))));
});

beforeEach(() => {
  script = [];
  hits = [];
  otherHits = [];
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
    const read = client().getCart('t', { signal: controller.signal });
    // Abort once the request is in (not after a fixed delay: on a loaded machine it may not have
    // arrived yet, and would then arrive later and take the next test's scripted answer).
    while (hits.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort(new Error('user gave up'));
    await assert.rejects(read, /user gave up/);
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

describe('failover after a timeout, a drain or a reset', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('gives an attempt its whole timeoutMs, not less', async () => {
    // undici's own header timer has a resolution of about 0.5 s and could end attempts early.
    // Delays under one tick are never cut short; 800 ms was, by up to 300 ms.
    const c = client({ endpoints: hungUrl, timeoutMs: 800, retry: false });
    const attempt = async (i: number) => {
      await sleep(125 * i); // each at another phase of undici's timer
      const started = Date.now();
      await assert.rejects(c.getCart('t'), TimeoutError);
      return Date.now() - started;
    };
    const lasted = await Promise.all([0, 1, 2, 3].map(attempt));
    assert.ok(lasted.every((ms) => ms >= 795 && ms < 1300), `attempts lasted ${lasted.join(', ')} ms`);
    await c.close();
  });

  it('moves a read that timed out to the next endpoint, and the next calls too, until the cooldown ends', async () => {
    const c = client({ endpoints: [hungUrl, otherUrl], timeoutMs: 300, endpointCooldownMs: 600 });
    assert.equal((await c.getCart('t')).version, 'v1');
    assert.deepEqual(otherHits, ['GET /v1/session/cart']);
    assert.deepEqual(c.endpoints, [otherUrl, hungUrl]);
    const started = Date.now();
    await c.getPrefs('t');
    assert.ok(Date.now() - started < 150, 'the second call did not wait for the hung endpoint');
    assert.equal(otherHits.length, 2);
    await sleep(650);
    assert.deepEqual(c.endpoints, [hungUrl, otherUrl], 'after the cooldown the nearest endpoint comes first again');
    await c.close();
  });

  it('does not send a cart add that timed out anywhere else, and sends the next call elsewhere', async () => {
    const c = client({ endpoints: [hungUrl, otherUrl], timeoutMs: 200 });
    await assert.rejects(c.addToCart('t', { sku: 'a' }), (error: unknown) => {
      assert.ok(error instanceof TimeoutError);
      assert.equal(error.attempts, 1);
      assert.equal(error.endpoint, hungUrl);
      return true;
    });
    assert.deepEqual(otherHits, []);
    await c.getCart('t');
    assert.deepEqual(otherHits, ['GET /v1/session/cart']);
    await c.close();
  });

  it('after a 503 from one endpoint and a timeout from the other, retries on the one that answered', async () => {
    script = ['503'];
    const c = client({ endpoints: [url, hungUrl], timeoutMs: 200 });
    assert.equal((await c.getCart('t')).version, 'v1');
    assert.deepEqual(hits, ['GET /v1/session/cart', 'GET /v1/session/cart'], '503, the hung endpoint, then back here');
    await c.close();
  });

  it('sends a read refused by a draining node (503 unavailable, Connection: close) to the next endpoint', async () => {
    script = ['drain'];
    const c = client({ endpoints: [url, otherUrl] });
    assert.equal((await c.getCart('t')).version, 'v1');
    assert.deepEqual(hits, ['GET /v1/session/cart']);
    assert.deepEqual(otherHits, ['GET /v1/session/cart']);
    await c.close();
  });

  it('never sends a cart add answered 503 elsewhere: the same answer also means the store failed mid-write', async () => {
    for (const step of ['drain', '503'] as const) {
      script = [step];
      const c = client({ endpoints: [url, otherUrl] });
      await assert.rejects(c.addToCart('t', { sku: 'a' }), (error: unknown) => {
        assert.ok(error instanceof UnavailableError);
        assert.equal(error.type, '/problems/unavailable');
        assert.equal(error.attempts, 1);
        return true;
      });
      await c.close();
    }
    assert.equal(hits.length, 2);
    assert.deepEqual(otherHits, []);
  });

  it('retries a read whose reused keep-alive connection the server closed, and not an add', async () => {
    const c = client({ connections: 1 });
    await c.getCart('t'); // leaves an idle keep-alive connection
    script = ['reset'];
    assert.equal((await c.getCart('t')).version, 'v1');
    assert.equal(hits.length, 3);
    script = ['reset'];
    await assert.rejects(c.addToCart('t', { sku: 'a' }), (error: unknown) => {
      assert.ok(error instanceof ConnectionError);
      assert.equal((error.cause as { code?: string }).code, 'UND_ERR_SOCKET');
      assert.equal(error.attempts, 1);
      return true;
    });
    assert.equal(hits.length, 4);
    await c.close();
  });
});
