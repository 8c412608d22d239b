/**
 * Failover between regional endpoints: two real Tessera processes on one
 * SQLite file stand in for two regions that share their data.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConnectionError, TesseraClient } from '../src/index.js';
import { APP_KEY, freePort, startTesseraProcess, type TesseraProcess } from './support/tessera-process.js';

let dir: string;
let first: TesseraProcess;
let second: TesseraProcess;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-failover-'));
  first = await startTesseraProcess({ dir });
  second = await startTesseraProcess({ dir });
});

after(async () => {
  await Promise.all([first?.close(), second?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('failover', () => {
  it('continues on the second endpoint when the first stops, without adding to the cart twice', async () => {
    const tessera = new TesseraClient({ endpoints: [first.url, second.url], apiKey: APP_KEY });
    const { token } = await tessera.createSession();
    await tessera.addToCart(token, { sku: 'before-outage' });
    assert.equal(tessera.endpoints[0], first.url);

    await first.stop();
    // A cart add is not idempotent, but a refused connection proves it was never
    // sent, so it may go to the next endpoint.
    const cart = await tessera.addToCart(token, { sku: 'during-outage' });
    assert.deepEqual(cart.items.map((i) => [i.sku, i.quantity]), [['before-outage', 1], ['during-outage', 1]]);
    assert.equal(tessera.endpoints[0], second.url, 'the refusing endpoint is tried last for a while');
    assert.deepEqual((await tessera.getSession(token, { parts: ['cart'] })).cart.items.length, 2);
    await tessera.close();
  });

  it('skips an endpoint that is down from the start', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const tessera = new TesseraClient({ endpoints: [dead, second.url], apiKey: APP_KEY });
    const { token } = await tessera.createSession();
    assert.ok(await tessera.validateSession(token));
    await tessera.close();
  });

  it('throws ConnectionError naming the endpoints when none can be reached', async () => {
    const dead = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`];
    const tessera = new TesseraClient({ endpoints: dead, apiKey: APP_KEY, retry: { retries: 1, baseDelayMs: 1 } });
    assert.equal(await tessera.health(), false);
    await assert.rejects(tessera.createSession(), (error: unknown) => {
      assert.ok(error instanceof ConnectionError);
      assert.equal(error.code, 'connection-failed');
      assert.equal(error.attempts, 4, 'two rounds over two endpoints');
      assert.match(error.message, /Cannot connect to any Tessera endpoint/);
      return true;
    });
    await tessera.close();
  });
});
