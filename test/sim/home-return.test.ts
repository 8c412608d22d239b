/**
 * A home region coming back after its sessions were taken over. A CI run saw
 * a killed region, restarted, ask for its home back at its first good round,
 * get it, and then fail to beat for it — its JetStream still came and went —
 * so another region took it over again 12 s later, and the test's patience
 * ran out. Here the returning region's heartbeats get through while it cannot
 * append to the epoch stream (a NATS user denied the epoch marks, a real
 * refusal by a real server): it must not ask until it can, and once it can,
 * it gets its home back and keeps it.
 *
 * The three regions' home ownerships run alone (no Tessera node), each on
 * its own region's server, answering handbacks as the auth routing does.
 */
import './one-at-a-time.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { pino } from 'pino';
import { startSim, type Sim } from '../../sim/harness.js';
import { addStream, connectTo } from '../../sim/jetstream.js';
import { waitUntil } from '../../sim/processes.js';
import { HEARTBEAT_MS, HomeOwnership, RECLAIM_STEADY_MS, TAKEOVER_MS } from '../../src/replication/home.js';
import { allStreams, streamName, subjectOf } from '../../src/replication/layout.js';
import { answerQuestions } from '../../src/replication/questions.js';
import { DEFAULT_REPLICATION } from '../../src/replication/settings.js';

const REGIONS = ['eu', 'us', 'ap'];
const NO_MARKS = { user: 'no-epoch-marks', password: 'no-epoch-marks' };
/** Longer than a returning region's wait before it asks, plus a takeover of what it got back (with the latest region's stagger). */
const WATCH_MS = RECLAIM_STEADY_MS + TAKEOVER_MS + 2_000 + 5_000;

interface Running {
  readonly ownership: HomeOwnership;
  readonly nc: NatsConnection;
  stop(): Promise<void>;
}

describe('a home region back after its sessions were taken over', { timeout: 240_000 }, () => {
  let sim: Sim;
  const running: Running[] = [];

  const run = async (region: string, as?: typeof NO_MARKS): Promise<Running> => {
    const nc = await connectTo(sim, region, `ownership-${region}`, as);
    const ownership = new HomeOwnership(
      nc,
      jetstream(nc, { timeout: 5_000 }),
      await jetstreamManager(nc, { timeout: 5_000, checkAPI: false }),
      { ...DEFAULT_REPLICATION, region, regions: REGIONS, natsUrls: [], natsMonitorUrls: [], nodeId: `${region}-0` },
      pino({ level: 'silent' }),
      async () => true,
    );
    await ownership.start();
    const subscriptions: Subscription[] = answerQuestions(nc, 'home', region, { handback: async (body: { home: string }) => ownership.handBack(body.home) });
    const handle: Running = {
      ownership,
      nc,
      stop: async () => {
        ownership.stop();
        for (const subscription of subscriptions) subscription.unsubscribe();
        await nc.close();
      },
    };
    running.push(handle);
    return handle;
  };

  /** `ap`'s home's owner and epoch as `watcher` sees them, sampled until `ms` have passed; fails at the first change. */
  const apHomeStaysAt = async (watcher: HomeOwnership, expected: { owner: string; epoch: number }, ms: number, why: string): Promise<void> => {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      assert.deepEqual(watcher.ownerOf('ap'), expected, why);
      await sleep(HEARTBEAT_MS / 2);
    }
  };

  before(async () => {
    sim = await startSim({ regions: REGIONS, rttMs: 5, tessera: false, natsUsers: [{ ...NO_MARKS, denyPublish: ['tessera.epoch.mark.>'] }] });
    // The fences a handback and a takeover read: every region's global streams (empty here).
    const setup = await connectTo(sim, 'eu');
    const jsm = await jetstreamManager(setup);
    for (const ref of allStreams(REGIONS, DEFAULT_REPLICATION.shards).filter((r) => r.durability === 'global')) {
      await addStream(jsm, { name: streamName(ref), subjects: [subjectOf(ref)], num_replicas: 1 });
    }
    await setup.close();
  });
  after(async () => {
    for (const handle of running) await handle.stop().catch(() => undefined);
    await sim?.stop();
  });

  test('while it cannot append to the epoch stream it does not ask for its home back, though its heartbeats get through', async () => {
    const eu = await run('eu');
    await run('us');
    // ap never beat: eu (first after ap in TESSERA_REGIONS) takes its home over.
    await waitUntil('ap’s home to be taken over', 60_000, async () => (eu.ownership.ownerOf('ap').owner === 'ap' ? 'still ap' : null), 250);
    const takenOver = eu.ownership.ownerOf('ap');

    const startedAt = performance.now();
    const ap = await run('ap', NO_MARKS);
    await waitUntil('ap’s heartbeats to be acknowledged', 30_000, async () => (ap.ownership.lastAcknowledged() > startedAt ? null : 'not yet'), 100);
    await apHomeStaysAt(eu.ownership, takenOver, WATCH_MS, 'no handback while ap cannot append to the epoch stream');
    assert.deepEqual(ap.ownership.ownerOf('ap'), takenOver, 'ap sees the takeover');
    assert.ok(performance.now() - ap.ownership.lastAcknowledged() < 4 * HEARTBEAT_MS, 'ap’s heartbeats still got through at the end');
    assert.equal(ap.ownership.holds('ap'), false);
    await ap.stop();
  });

  test('once it can, it asks after its rounds have been steady, gets its home back, and keeps it', async () => {
    const eu = running[0]!;
    const before = eu.ownership.ownerOf('ap');
    assert.notEqual(before.owner, 'ap', 'the first test left ap’s home taken over');
    const startedAt = performance.now();
    const ap = await run('ap');
    await waitUntil('ap to hold its home again', 60_000, async () => (ap.ownership.holds('ap') ? null : `owner ${JSON.stringify(ap.ownership.ownerOf('ap'))}`), 100);
    const heldAfterMs = performance.now() - startedAt;
    console.log(`a returning home held its sessions again ${Math.round(heldAfterMs)} ms after its ownership started`);
    assert.ok(heldAfterMs >= RECLAIM_STEADY_MS, `ap waited for steady rounds before it asked (${Math.round(heldAfterMs)} ms)`);
    const back = { owner: 'ap', epoch: before.epoch + 1 };
    await waitUntil('eu to see the handback', 10_000, async () => (eu.ownership.ownerOf('ap').epoch === back.epoch ? null : 'not yet'), 100);
    await apHomeStaysAt(eu.ownership, back, WATCH_MS, 'ap keeps its home once given back');
    assert.deepEqual(ap.ownership.ownerOf('ap'), back);
    assert.equal(ap.ownership.holds('ap'), true, 'ap still holds its home');
  });
});
