/**
 * The SDK across regions: it remembers each session's last write
 * (`Tessera-Consistency`) and sends it along, so a read that fails over to
 * another region — the first one dead right after the write — waits for that
 * region to have the write instead of answering without it.
 */
import './one-at-a-time.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TesseraClient } from '../../client/src/index.js';
import { startSim, type Sim } from '../../sim/harness.js';
import { CHAOS_ENV, waitUntilSettled } from './support.js';

describe('the SDK in two regions', { timeout: 300_000 }, () => {
  let sim: Sim;
  before(async () => {
    // A long round trip: a change needs at least 100 ms to reach the other region.
    sim = await startSim({ regions: ['eu', 'us'], rttMs: 200, tesseraEnv: { ...CHAOS_ENV, TESSERA_CONSISTENCY_WAIT: '3s' } });
    // Streams just created elect their leaders across 200 ms round trips: the SDK below does not retry.
    await waitUntilSettled(sim, 90_000);
  });
  after(async () => {
    await sim.stop();
  });

  it('reads its own writes after failing over: the region it fails over to waits for the write it has not applied yet', async () => {
    const tessera = new TesseraClient({
      endpoints: [sim.region('eu').urls[0]!, sim.region('us').urls[0]!],
      apiKey: sim.apiKey,
      retry: { retries: 0 },
    });
    const written: Array<{ token: string; sku: string }> = [];
    for (let i = 0; i < 10; i += 1) {
      const { token } = await tessera.createSession({ userId: `sdk-failover-${i}-${Date.now()}` });
      const sku = `sku-${i}`;
      await tessera.addToCart(token, { sku, quantity: 1 });
      written.push({ token, sku });
    }
    assert.equal(tessera.endpoints[0], sim.region('eu').urls[0], 'every write went to eu');
    await sim.killTessera('eu');
    // The last write first: the one least likely to have reached us by itself.
    for (const { token, sku } of written.reverse()) {
      const cart = await tessera.getCart(token);
      assert.deepEqual(cart.items.map((item) => item.sku), [sku], `us serves ${sku}, written in eu a moment before eu died`);
    }
    assert.equal(tessera.endpoints[0], sim.region('us').urls[0], 'the reads failed over to us');
    await tessera.close();
  });
});
