/**
 * Regression (issue 15, defect 3): slow uploads pinned the node. No request
 * timeout was set, and a request took its in-flight slot as soon as its head
 * arrived, so a few connections trickling a body one byte at a time locked
 * every other caller out with 429 for as long as they liked. Now the head and
 * the whole request must arrive within their timeouts, and a request takes a
 * slot only once its body is in.
 *
 * Over real sockets; the assertions are on what the clients see (answers and
 * closed connections), never on how long anything took.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_KEY, startTessera, type TestServer } from '../support/tessera-server.js';

interface Trickler {
  /** Resolves when the server closes the connection: what it answered, and how much of the body had been sent. */
  readonly closed: Promise<{ answer: string; bodyBytesSent: number }>;
  /** Body bytes sent so far. */
  sent(): number;
  stop(): void;
}

/**
 * Sends a request head, then its body one byte per `everyMs` (JSON whitespace
 * after an opening brace), never finishing: `bodyBytes` is far more than it
 * will send before any sane timeout.
 */
function trickleBody(url: string, token: string, bodyBytes: number, everyMs: number): Trickler {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  let sent = 0;
  const chunks: Buffer[] = [];
  let timer: NodeJS.Timeout | undefined;
  const closed = new Promise<{ answer: string; bodyBytesSent: number }>((resolve) => {
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer: Buffer.concat(chunks).toString('utf8'), bodyBytesSent: sent });
    });
  });
  socket.on('connect', () => {
    socket.write(
      `POST /v1/session/cart/items HTTP/1.1\r\nHost: tessera.test\r\nAuthorization: Bearer ${APP_KEY}\r\nTessera-Token: ${token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${bodyBytes}\r\n\r\n{`,
    );
    sent = 1;
    timer = setInterval(() => {
      if (socket.writable && sent < bodyBytes - 1) {
        socket.write(' ');
        sent += 1;
      }
    }, everyMs);
  });
  return { closed, sent: () => sent, stop: () => socket.destroy() };
}

/** Sends a request head one header line per `everyMs`, never finishing it. */
function trickleHead(url: string, everyMs: number): { closed: Promise<{ answer: string; lines: number }>; stop(): void } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let lines = 0;
  const chunks: Buffer[] = [];
  let timer: NodeJS.Timeout | undefined;
  const closed = new Promise<{ answer: string; lines: number }>((resolve) => {
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer: Buffer.concat(chunks).toString('utf8'), lines });
    });
  });
  socket.on('connect', () => {
    socket.write('GET /v1/session HTTP/1.1\r\nHost: tessera.test\r\n');
    timer = setInterval(() => {
      if (socket.writable) {
        socket.write(`X-Slow-${lines}: x\r\n`);
        lines += 1;
      }
    }, everyMs);
  });
  return { closed, stop: () => socket.destroy() };
}

describe('slow uploads', () => {
  let server: TestServer;
  const open: Array<{ stop(): void }> = [];
  before(async () => {
    server = await startTessera({
      TESSERA_MAX_IN_FLIGHT: '2',
      TESSERA_HEADERS_TIMEOUT: '1s',
      TESSERA_REQUEST_TIMEOUT: '2s',
    });
  });
  after(async () => {
    for (const connection of open) connection.stop();
    await server.close();
  });

  test('connections trickling bodies hold no admission capacity: a normal caller is served, not shed with 429', { timeout: 20_000 }, async () => {
    const { token } = await server.signIn();
    const tricklers = Array.from({ length: 4 }, () => trickleBody(server.url, token, 10_000, 50));
    open.push(...tricklers);
    // Their heads have long been read once a few body bytes have gone out after them.
    while (tricklers.some((t) => t.sent() < 4)) await sleep(20);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      statuses.push((await server.request('GET', '/v1/session', { token })).status);
      statuses.push((await server.request('POST', '/v1/session/cart/items', { token, body: { sku: `N-${i}` } })).status);
    }
    assert.deepEqual(statuses, Array(20).fill(200));
  });

  test('a request whose body has not arrived within TESSERA_REQUEST_TIMEOUT is cut off with a problem and a closed connection', { timeout: 20_000 }, async () => {
    const { token } = await server.signIn();
    const trickler = trickleBody(server.url, token, 10_000, 50);
    open.push(trickler);
    const { answer, bodyBytesSent } = await trickler.closed;
    assert.ok(bodyBytesSent < 10_000, 'the body never completed');
    assert.match(answer, /^HTTP\/1\.1 (400|408) /, answer);
    assert.match(answer, /application\/problem\+json/i);
    assert.match(answer, /did not arrive in time/);
    const cart = await server.request('GET', '/v1/session/cart', { token });
    assert.deepEqual(cart.body.items, [], 'nothing was written');
  });

  test('a request head that has not arrived within TESSERA_HEADERS_TIMEOUT is cut off', { timeout: 20_000 }, async () => {
    const trickler = trickleHead(server.url, 50);
    open.push(trickler);
    const { answer } = await trickler.closed;
    assert.match(answer, /^HTTP\/1\.1 (400|408) /, answer);
    assert.match(answer, /did not arrive in time/);
  });
});
