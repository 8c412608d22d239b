/**
 * Failover away from an endpoint that accepts connections but never answers:
 * a real Tessera frozen with SIGSTOP (its kernel still completes the TCP
 * handshake, so nothing is refused). Two processes on one SQLite file stand in
 * for two regions that share their data.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TesseraClient, TimeoutError } from '../src/index.js';
import { APP_KEY, startTesseraProcess, type TesseraProcess } from './support/tessera-process.js';

const TIMEOUT_MS = 800;

let dir: string;
let first: TesseraProcess;
let second: TesseraProcess;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-hung-'));
  first = await startTesseraProcess({ dir });
  second = await startTesseraProcess({ dir });
});

after(async () => {
  await Promise.all([first?.close(), second?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

/** A session with two mugs in its cart, made through the healthy second endpoint. */
async function shopper(): Promise<string> {
  const direct = new TesseraClient({ endpoints: second.url, apiKey: APP_KEY });
  const { token } = await direct.createSession();
  await direct.addToCart(token, { sku: 'mug', quantity: 2 });
  await direct.close();
  return token;
}

/** Runs `body` while the first endpoint is frozen; it always thaws again. */
async function whileFirstFrozen(body: () => Promise<void>): Promise<void> {
  process.kill(first.pid, 'SIGSTOP');
  try {
    await body();
  } finally {
    process.kill(first.pid, 'SIGCONT');
  }
}

const lines = (cart: { items: readonly { sku: string; quantity: number }[] }) => cart.items.map((i) => [i.sku, i.quantity]);

describe('an endpoint that hangs', () => {
  it('serves a read from the next endpoint, and the next read goes there without waiting', async () => {
    const token = await shopper();
    const tessera = new TesseraClient({ endpoints: [first.url, second.url], apiKey: APP_KEY, timeoutMs: TIMEOUT_MS });
    await whileFirstFrozen(async () => {
      const started = Date.now();
      const cart = await tessera.getCart(token);
      const firstReadMs = Date.now() - started;
      assert.deepEqual(lines(cart), [['mug', 2]]);
      assert.ok(firstReadMs >= TIMEOUT_MS - 50, `it tried the frozen endpoint first (${firstReadMs} ms)`);
      assert.ok(firstReadMs < 2 * TIMEOUT_MS, `one timeout, then the healthy endpoint (${firstReadMs} ms)`);
      assert.equal(tessera.endpoints[0], second.url, 'the endpoint that timed out is tried last for a while');

      const again = Date.now();
      const session = await tessera.getSession(token, { parts: ['cart'] });
      const secondReadMs = Date.now() - again;
      assert.deepEqual(lines(session.cart), [['mug', 2]]);
      assert.ok(secondReadMs < TIMEOUT_MS / 2, `the next read did not wait for the frozen endpoint (${secondReadMs} ms)`);
    });
    await tessera.close();
  });

  it('does not send a cart add that timed out again: its outcome is unknown', async () => {
    const token = await shopper();
    const tessera = new TesseraClient({ endpoints: [first.url, second.url], apiKey: APP_KEY, timeoutMs: TIMEOUT_MS });
    const direct = new TesseraClient({ endpoints: second.url, apiKey: APP_KEY });
    await whileFirstFrozen(async () => {
      await assert.rejects(tessera.addToCart(token, { sku: 'mug' }), (error: unknown) => {
        assert.ok(error instanceof TimeoutError);
        assert.equal(error.attempts, 1);
        assert.equal(error.endpoint, first.url);
        return true;
      });
      // Checked before the thaw: the frozen process still holds the add and applies it once it runs again.
      assert.deepEqual(lines(await direct.getCart(token)), [['mug', 2]], 'the add never reached the second endpoint');
      assert.equal(tessera.endpoints[0], second.url, 'the timeout still moves the next calls away from the frozen endpoint');
    });
    await Promise.all([tessera.close(), direct.close()]);
  });
});
