/**
 * The multi-region simulation (sim/harness.ts) against the real nats-server,
 * redis-server and Tessera: the cluster it builds, the placement its region
 * tags give, the delay and the cuts of its links, and killing and restarting
 * a region. The tests share one simulation and run in order.
 */
import './one-at-a-time.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { respCommand } from '../support/resp.js';
import { startSim, type Sim } from '../../sim/harness.js';
import { addStream, apiErrorCode, connectTo, jetstreamManager, replicaServers, waitForLeader } from '../../sim/jetstream.js';
import { CLUSTER_NAME } from '../../sim/nats-server.js';
import { waitUntil } from '../../sim/processes.js';

const RTT_MS = 60;
const REGIONS = ['eu', 'us', 'ap'];

describe('multi-region simulation', { timeout: 240_000 }, () => {
  let sim: Sim;
  let eu: NatsConnection;
  let jsm: JetStreamManager;

  before(async () => {
    sim = await startSim({ regions: REGIONS, rttMs: RTT_MS });
    eu = await connectTo(sim, 'eu');
    jsm = await jetstreamManager(eu);
  });
  after(async () => {
    await eu?.close();
    await sim?.stop();
  });

  test('forms one NATS cluster: every server has a route to each of the other two', async () => {
    const status = await sim.status();
    assert.deepEqual(
      status.map((r) => [r.name, r.routesTo]),
      [['eu', ['ap', 'us']], ['us', ['ap', 'eu']], ['ap', ['eu', 'us']]],
    );
    const leaders = new Set(status.map((r) => r.metaLeader));
    assert.equal(leaders.size, 1, 'every server sees the same meta leader');
    assert.ok(REGIONS.includes([...leaders][0]!));
  });

  test('places one replica of an untagged R3 stream in each region', async () => {
    await addStream(jsm, { name: 'SPREAD', subjects: ['spread.>'], num_replicas: 3 });
    const info = await waitForLeader(jsm, 'SPREAD');
    assert.deepEqual(replicaServers(info).sort(), ['ap', 'eu', 'us']);
  });

  test('keeps a stream tagged region:eu in eu, and refuses three replicas there', async () => {
    await addStream(jsm, { name: 'EU_ONLY', subjects: ['euonly.>'], num_replicas: 1, placement: { cluster: CLUSTER_NAME, tags: ['region:eu'] } });
    assert.deepEqual(replicaServers(await waitForLeader(jsm, 'EU_ONLY')), ['eu']);
    // One server per region: a region-tagged R3 stream has nowhere to go, which shows the tag is honoured.
    await assert.rejects(
      addStream(jsm, { name: 'EU_R3', subjects: ['eur3.>'], num_replicas: 3, placement: { cluster: CLUSTER_NAME, tags: ['region:eu'] } }),
      (error) => apiErrorCode(error) !== null,
      'JetStream refuses the stream (not a timeout)',
    );
  });

  test('a round trip between regions takes at least the configured RTT, and follows setRtt', async () => {
    const us = await connectTo(sim, 'us');
    try {
      us.subscribe('echo', {
        callback: (_error, message) => {
          message.respond(message.data);
        },
      });
      await us.flush();
      const fastest = async (): Promise<number> => {
        let best = Infinity;
        for (let i = 0; i < 5; i += 1) {
          const started = performance.now();
          await requestWhenRouted(eu, 'echo');
          best = Math.min(best, performance.now() - started);
        }
        return best;
      };
      const atDefault = await fastest();
      assert.ok(atDefault >= RTT_MS, `eu → us → eu took ${atDefault.toFixed(1)} ms, less than the ${RTT_MS} ms configured`);
      sim.setRtt('eu', 'us', 150);
      assert.equal(sim.rtt('us', 'eu'), 150);
      const atSlower = await fastest();
      assert.ok(atSlower >= 150, `after setRtt 150 the round trip took ${atSlower.toFixed(1)} ms`);
    } finally {
      sim.setRtt('eu', 'us', RTT_MS);
      await us.close();
    }
  });

  test('a partition makes the other regions drop their routes to the cut region; heal restores them', async () => {
    await sim.partition('eu');
    try {
      await waitUntil('us and ap to drop their routes to eu', 45_000, async () => {
        const seen = (await sim.status()).filter((r) => r.name !== 'eu' && r.routesTo.includes('eu')).map((r) => r.name);
        return seen.length === 0 ? null : `${seen.join(', ')} still route to eu`;
      }, 250);
      const status = await sim.status();
      assert.deepEqual(status.map((r) => [r.name, r.partitioned]), [['eu', true], ['us', false], ['ap', false]]);
      assert.deepEqual(status.find((r) => r.name === 'us')!.routesTo, ['ap'], `us and ap stay connected: ${JSON.stringify(status)}`);
    } finally {
      await sim.heal('eu');
    }
    await sim.waitForRoutes(45_000);
    assert.deepEqual((await sim.status()).map((r) => [r.name, r.routesTo]), [['eu', ['ap', 'us']], ['us', ['ap', 'eu']], ['ap', ['eu', 'us']]]);
  });

  test('every Tessera node answers /readyz with 200, connected to NATS', async () => {
    for (const region of sim.regions) {
      assert.equal(region.urls.length, 1);
      const response = await fetch(`${region.urls[0]}/readyz`);
      assert.equal(response.status, 200, `${region.name}'s node`);
      assert.deepEqual(await response.json(), { status: 'ready', engine: 'redis', replication: 'connected' });
    }
    // The API key the simulation hands out is accepted. (After the heal above NATS re-elects its
    // leaders for some seconds, and a sign-in meanwhile answers 503, retry-safe: it is retried.)
    const signIn = () =>
      fetch(`${sim.region('eu').urls[0]}/v1/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sim.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 'sim-user' }),
      });
    let response = await signIn();
    for (let attempt = 0; response.status === 503 && attempt < 100; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      response = await signIn();
    }
    assert.equal(response.status, 201);
  });

  test('killRegion takes down its NATS, Redis and Tessera; restartRegion brings them back with their data', async () => {
    await addStream(jsm, { name: 'AP_ONLY', subjects: ['aponly.>'], num_replicas: 1, placement: { cluster: CLUSTER_NAME, tags: ['region:ap'] } });
    await waitForLeader(jsm, 'AP_ONLY');
    const js = jetstream(eu);
    await js.publish('aponly.kept', 'before the kill', { timeout: 10_000 });
    const redisPort = Number(new URL(sim.region('ap').redisUrl!).port);
    assert.equal(await respCommand(redisPort, ['SET', 'sim:kept', 'yes']), 'OK');

    await sim.killRegion('ap');
    const down = (await sim.status()).find((r) => r.name === 'ap')!;
    assert.deepEqual([down.nats, down.redis, down.tessera], [false, false, [false]]);
    await assert.rejects(fetch(`${sim.region('ap').urls[0]}/readyz`));

    await sim.restartRegion('ap');
    const up = (await sim.status()).find((r) => r.name === 'ap')!;
    assert.deepEqual([up.nats, up.redis, up.tessera, up.routesTo], [true, true, [true], ['eu', 'us']]);
    assert.equal((await waitForLeader(jsm, 'AP_ONLY')).state.messages, 1, 'the JetStream store survived');
    assert.equal(await respCommand(redisPort, ['GET', 'sim:kept']), 'yes', 'Redis reloaded its append-only file');
    assert.equal((await fetch(`${sim.region('ap').urls[0]}/readyz`)).status, 200);
  });

  test('wipeRegion empties the region store; restartTessera brings its nodes back', async () => {
    const redisPort = Number(new URL(sim.region('us').redisUrl!).port);
    assert.equal(await respCommand(redisPort, ['SET', 'sim:wiped', 'yes']), 'OK');
    await sim.wipeRegion('us');
    assert.equal(await respCommand(redisPort, ['DBSIZE']), 0);
    await assert.rejects(fetch(`${sim.region('us').urls[0]}/readyz`), 'the nodes stay down');
    await sim.restartTessera('us');
    assert.equal((await fetch(`${sim.region('us').urls[0]}/readyz`)).status, 200);
  });
});

/** A request that may find no responder for a moment while the subscription's interest crosses the route. */
async function requestWhenRouted(nc: NatsConnection, subject: string): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await nc.request(subject, 'ping', { timeout: 5_000 });
      return;
    } catch (error) {
      if (attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
