/**
 * `npm run bench:epochs`: how long a node's home ownership takes to start
 * as the epoch stream (`TESSERA_EPOCHS`) grows. Every node appends a mark to
 * it each time it holds a home after a lapse (its start among them), so the
 * stream grows with every deploy. A node reads it all at start; in a region
 * without the stream's leader each request costs a round trip between
 * regions. Three simulated regions (nats-server, no Tessera), the round trip
 * between them `RTT` ms (80 by default), `COUNTS` messages in the stream
 * (default 0,500,2000); per count, one node started in each region.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { startSim } from '../sim/harness.js';
import { connectTo } from '../sim/jetstream.js';
import { EPOCH_STREAM, HomeOwnership } from '../src/replication/home.js';
import { DEFAULT_REPLICATION } from '../src/replication/settings.js';

const REGIONS = ['eu', 'us', 'ap'];
const rttMs = Number(process.env.RTT ?? 80);
const counts = (process.env.COUNTS ?? '0,500,2000').split(',').map(Number);

const sim = await startSim({ regions: REGIONS, rttMs, tessera: false });
try {
  const ownershipIn = async (region: string, node: string): Promise<{ nc: NatsConnection; ownership: HomeOwnership }> => {
    const nc = await connectTo(sim, region, node);
    const settings = { ...DEFAULT_REPLICATION, shards: 1, region, regions: REGIONS, natsUrls: [], natsMonitorUrls: [], nodeId: node };
    const jsm = await jetstreamManager(nc, { timeout: 10_000, checkAPI: false });
    return { nc, ownership: new HomeOwnership(nc, jetstream(nc, { timeout: 10_000 }), jsm, settings, pino({ level: 'silent' }), async () => true) };
  };
  // The first node makes the stream and the heartbeat bucket.
  const first = await ownershipIn('eu', 'eu-setup');
  await first.ownership.start();
  first.ownership.stop();
  const jsm = await jetstreamManager(first.nc);
  const js = jetstream(first.nc);
  console.log(`round trip between regions ${rttMs} ms; the epoch stream's leader is in ${(await jsm.streams.info(EPOCH_STREAM)).cluster?.leader ?? '?'}`);
  console.log('| messages in the stream | ' + REGIONS.map((region) => `start in ${region}`).join(' | ') + ' |');
  console.log('| ---: | ' + REGIONS.map(() => '---:').join(' | ') + ' |');
  for (const count of counts) {
    const have = (await jsm.streams.info(EPOCH_STREAM)).state.messages;
    await Promise.all(Array.from({ length: Math.max(0, count - have) }, (_, i) => js.publish(`tessera.epoch.mark.bench-${have + i}`, '')));
    const cells: string[] = [];
    for (const region of REGIONS) {
      const { nc, ownership } = await ownershipIn(region, `${region}-${count}`);
      const started = performance.now();
      await ownership.start();
      cells.push(`${Math.round(performance.now() - started)} ms`);
      ownership.stop();
      await nc.close();
    }
    console.log(`| ${count} | ${cells.join(' | ')} |`);
  }
  await first.nc.close();
} finally {
  await sim.stop();
}
