/**
 * Epoch records the epoch stream lost (D90). NATS 2.9.10 once lost an
 * acknowledged takeover from `TESSERA_EPOCHS` after a heal (replicas that had
 * diverged, the stream going on from the short one): the home region's node,
 * which had never read the record, held its home again at the old epoch
 * while the region that had taken it over went on ordering its sessions.
 *
 * Here the stream loses records on purpose, through the JetStream API of a
 * real three-region cluster: one record deleted, then the whole stream
 * deleted and made again, and grown past where the nodes had read before they
 * look again. The three regions' home ownerships run alone (no Tessera
 * node), each on its own region's server, answering handbacks and `epochs`
 * questions as the auth routing does.
 */
import './one-at-a-time.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { pino } from 'pino';
import { startSim, type Sim } from '../../sim/harness.js';
import { addStream, connectTo } from '../../sim/jetstream.js';
import { waitUntil } from '../../sim/processes.js';
import { EPOCH_STREAM, HEARTBEAT_MS, HomeOwnership } from '../../src/replication/home.js';
import { allStreams, streamName, subjectOf } from '../../src/replication/layout.js';
import { answerQuestions } from '../../src/replication/questions.js';
import { epochRecordsIn } from './support.js';
import { DEFAULT_REPLICATION } from '../../src/replication/settings.js';

const REGIONS = ['eu', 'us', 'ap'];
/** A NATS user that may not append marks to the epoch stream: its node never holds a home (it cannot confirm the epochs after a lapse). */
const NO_MARKS = { user: 'no-epoch-marks', password: 'no-epoch-marks' };
/** The stream every region's fence names at one shard: eu's only global stream here. */
const EU_GLOBAL = streamName({ origin: 'eu', durability: 'global', shard: 0 });

interface Running {
  readonly region: string;
  readonly ownership: HomeOwnership;
  /** What `ap`'s home looked like to this node at every sample while it ran: who it said held it, at which epoch. */
  readonly apHeld: Array<{ epoch: number; owner: string }>;
  /** The warnings and errors it logged. */
  readonly logged: string[];
  /** The homes it reported a second record of a known epoch for, as its metrics would count them. */
  readonly conflicts: string[];
  stop(): Promise<void>;
}

describe('epoch records the epoch stream lost', { timeout: 300_000 }, () => {
  let sim: Sim;
  let admin: NatsConnection;
  let jsm: JetStreamManager;
  const running: Running[] = [];

  const run = async (region: string, node = 0, as?: typeof NO_MARKS): Promise<Running> => {
    const nc = await connectTo(sim, region, `ownership-${region}-${node}`, as);
    const logged: string[] = [];
    const conflicts: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) });
    const ownership = new HomeOwnership(
      nc,
      jetstream(nc, { timeout: 5_000 }),
      await jetstreamManager(nc, { timeout: 5_000, checkAPI: false }),
      { ...DEFAULT_REPLICATION, shards: 1, region, regions: REGIONS, natsUrls: [], natsMonitorUrls: [], nodeId: `${region}-${node}` },
      logger,
      async () => true,
      { epochStreamFault: () => {}, epochLearned: () => {}, epochConflict: (home) => void conflicts.push(home) },
    );
    await ownership.start();
    const subscriptions: Subscription[] = answerQuestions(nc, 'home', region, {
      handback: async (body: { home: string }) => ownership.handBack(body.home),
      epochs: async (body: { homes: string[] }) => ({ records: ownership.records(body.homes) }),
    });
    const apHeld: Running['apHeld'] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        if (ownership.holds('ap')) apHeld.push({ ...ownership.ownerOf('ap') });
        await sleep(HEARTBEAT_MS / 5);
      }
    })();
    const handle: Running = {
      region,
      ownership,
      apHeld,
      logged,
      conflicts,
      stop: async () => {
        sampling = false;
        await sampler;
        ownership.stop();
        for (const subscription of subscriptions) subscription.unsubscribe();
        await nc.close();
      },
    };
    running.push(handle);
    return handle;
  };

  before(async () => {
    sim = await startSim({ regions: REGIONS, rttMs: 5, tessera: false, natsUsers: [{ ...NO_MARKS, denyPublish: ['tessera.epoch.mark.>'] }] });
    admin = await connectTo(sim, 'eu');
    jsm = await jetstreamManager(admin);
    // The fences a handback and a takeover read: every region's global streams, one shard each.
    for (const ref of allStreams(REGIONS, 1).filter((r) => r.durability === 'global')) {
      await addStream(jsm, { name: streamName(ref), subjects: [subjectOf(ref)], num_replicas: 1 });
    }
    // eu's stream is not empty, so that a fence names a real position.
    const js = jetstream(admin);
    for (let i = 0; i < 3; i += 1) await js.publish(subjectOf({ origin: 'eu', durability: 'global', shard: 0 }), '{}');
  });
  after(async () => {
    for (const handle of running) await handle.stop().catch(() => undefined);
    await admin?.close();
    await sim?.stop();
  });

  test('a takeover deleted from the stream: a home region that never read it learns it, never holds its home at the old epoch, and gets it back by a handback', async () => {
    const eu = await run('eu');
    const us = await run('us');
    // A heartbeat value that is no heartbeat (JSON null) is still a beat by its revision, and holds no record.
    await (await new Kvm(admin).open('tessera_homes')).put('ap', 'null');
    // ap never beat: eu (first after ap in TESSERA_REGIONS) takes its home over.
    await waitUntil('ap’s home to be taken over', 60_000, async () => (eu.ownership.ownerOf('ap').owner === 'eu' ? null : 'not yet'), 250);
    const [takeover] = (await epochRecordsIn(jsm)).filter(({ record }) => record.home === 'ap');
    assert.deepEqual({ ...takeover!.record, fence: undefined }, { home: 'ap', owner: 'eu', epoch: 1, fence: undefined });
    assert.deepEqual(takeover!.record.fence, { [streamName({ origin: 'ap', durability: 'global', shard: 0 })]: 0 });
    await jsm.streams.deleteMessage(EPOCH_STREAM, takeover!.seq);
    assert.deepEqual((await epochRecordsIn(jsm)).filter(({ record }) => record.home === 'ap'), [], 'the stream holds no record of ap’s home now');

    // A node that joins now finds no takeover in the stream, but learns it.
    const us1 = await run('us', 1);
    assert.deepEqual(us1.ownership.ownerOf('ap'), { owner: 'eu', epoch: 1 }, 'a new node learns the takeover at its start, from the heartbeat or the regions');

    // ap comes back: it must learn the takeover before it beats, and get its home back by a handback (epoch 2).
    const ap = await run('ap');
    // Its own change of epoch 0 read back from its stream, inside the takeover's fence: it counted, and
    // ap joins it though it does not hold its home.
    const apGlobal = streamName({ origin: 'ap', durability: 'global', shard: 0 });
    assert.equal(await ap.ownership.admits('ap', 'ap', 0, apGlobal, 0), true, 'ap joins its own change that the takeover’s fence covers');
    assert.equal(await ap.ownership.admits('ap', 'ap', 0, apGlobal, 1), false, 'and not one past the fence');
    await waitUntil('ap to hold its home again', 60_000, async () => (ap.ownership.holds('ap') ? null : `owner ${JSON.stringify(ap.ownership.ownerOf('ap'))}`), 100);
    assert.deepEqual(ap.ownership.ownerOf('ap'), { owner: 'ap', epoch: 2 });
    assert.deepEqual(ap.apHeld.filter((sample) => sample.epoch !== 2), [], 'ap never held its home at an epoch other than the handback’s');
    assert.ok(ap.logged.some((line) => line.includes('learned an epoch record that the epoch stream did not give this node')), 'ap says it learned the record elsewhere');
    const handback = (await epochRecordsIn(jsm)).filter(({ record }) => record.home === 'ap');
    assert.deepEqual(handback.map(({ record }) => [record.owner, record.epoch]), [['ap', 2]], 'the handback is in the stream');
    assert.deepEqual(handback[0]!.record.fence, { [EU_GLOBAL]: 3 }, 'fenced at eu’s stream');
    assert.equal(await ap.ownership.admits('ap', 'ap', 2, apGlobal, 9), true, 'ap joins its own changes again once it holds its home');
    for (const node of [eu, us, us1]) {
      await waitUntil(`${node.region} to see the handback`, 10_000, async () => (node.ownership.ownerOf('ap').epoch === 2 ? null : 'not yet'), 100);
      assert.deepEqual(node.ownership.ownerOf('ap'), { owner: 'ap', epoch: 2 });
    }

    // A node started now finds epoch 2 alone in the stream, and a message missing: it asks the regions.
    const fresh = await run('us', 2);
    // Its own region's change at us's current epoch: a node that cannot hold its home (its user may not
    // append the mark that confirms the epochs) cannot tell that the change counts (joined, the change
    // feed would send it out with no epoch), so the stream waits. A node just started waits a moment,
    // until it holds its home, and joins it.
    const usGlobal = streamName({ origin: 'us', durability: 'global', shard: 0 });
    const barred = await run('us', 3, NO_MARKS);
    await assert.rejects(barred.ownership.admits('us', 'us', 0, usGlobal, 1), /can neither vouch for the home nor knows the epoch after/);
    assert.equal(barred.ownership.holds('us'), false);
    await waitUntil('the new us node to hold its home', 10_000, async () => (fresh.ownership.holds('us') ? null : 'not yet'), 50);
    assert.equal(await fresh.ownership.admits('us', 'us', 0, usGlobal, 1), true, 'a node that holds its home joins it');
    const justStarted = await run('us', 4);
    assert.equal(justStarted.ownership.holds('us'), false, 'not yet holding when asked');
    assert.equal(await justStarted.ownership.admits('us', 'us', 0, usGlobal, 1), true, 'a node just started joins it once it holds its home, without failing first');
    assert.deepEqual(fresh.ownership.records(['ap']).map((r) => [r.owner, r.epoch]), [['eu', 1], ['ap', 2]], 'a node started now learns epoch 1 from the regions');
    // Auth changes of eu's epoch count up to the handback's fence; an epoch nobody knows is not judged at all.
    // (Judged with epoch 1's record missing too: test/replication/epochs.test.ts.)
    assert.equal(await fresh.ownership.admits('ap', 'eu', 1, EU_GLOBAL, 3), true, 'eu’s change inside the fence counts');
    assert.equal(await fresh.ownership.admits('ap', 'eu', 1, EU_GLOBAL, 4), false, 'eu’s change past the fence does not');
    assert.equal(await fresh.ownership.admits('ap', 'us', 1, streamName({ origin: 'us', durability: 'global', shard: 0 }), 1), false, 'a region that never owned epoch 1 does not');
    await assert.rejects(fresh.ownership.admits('ap', 'eu', 3, EU_GLOBAL, 9), /epoch 3 .*no region has told this node/, 'an epoch nobody knows waits: neither applied nor ignored');
    // A message deleted within the stream is a hole, not a stream that went back: nobody read it all again.
    for (const node of running) assert.ok(!node.logged.some((line) => line.includes('the epoch stream went back')), `${node.region} did not take the hole for a stream that went back`);
  });

  test('the stream deleted, made again and grown past where the nodes had read: every node keeps what it knew and reads what comes after', async () => {
    const [eu, us, , ap] = running as [Running, Running, Running, Running];
    assert.deepEqual(ap.ownership.ownerOf('ap'), { owner: 'ap', epoch: 2 }, 'the first test left ap holding its home');
    for (const node of running) node.apHeld.splice(0);
    const config = (await jsm.streams.info(EPOCH_STREAM)).config;
    const readUpTo = (await jsm.streams.info(EPOCH_STREAM)).state.last_seq;
    await jsm.streams.delete(EPOCH_STREAM);
    await addStream(jsm, { ...config, name: EPOCH_STREAM });
    // Past the sequence every node had read, before their next look (a round is HEARTBEAT_MS).
    const js = jetstream(admin);
    for (let i = 0; i <= readUpTo; i += 1) await js.publish('tessera.epoch.mark.test', '');
    await sleep(3 * HEARTBEAT_MS);
    for (const node of running) assert.deepEqual(node.ownership.ownerOf('ap'), { owner: 'ap', epoch: 2 }, `${node.region} keeps ap at epoch 2`);

    // ap is lost again: another region takes its home over at epoch 3, appended to the stream made again.
    const apIndex = running.indexOf(ap);
    await ap.stop();
    running.splice(apIndex, 1);
    await waitUntil('ap’s home to be taken over again', 60_000, async () => (eu.ownership.ownerOf('ap').epoch === 3 ? null : JSON.stringify(eu.ownership.ownerOf('ap'))), 250);
    const owner = eu.ownership.ownerOf('ap');
    assert.notEqual(owner.owner, 'ap');
    const inStream = (await epochRecordsIn(jsm)).filter(({ record }) => record.home === 'ap').map(({ record }) => [record.owner, record.epoch]);
    assert.deepEqual(inStream, [[owner.owner, 3]], 'the takeover is appended to the stream made again');
    for (const node of running) {
      await waitUntil(`${node.region} to see the new takeover`, 10_000, async () => (node.ownership.ownerOf('ap').epoch === 3 ? null : 'not yet'), 100);
      assert.deepEqual(node.ownership.ownerOf('ap'), owner);
      assert.deepEqual(node.apHeld.filter((sample) => sample.epoch !== 3), [], `${node.region} held ap’s home at no epoch of before`);
    }
    assert.ok(eu.logged.some((line) => line.includes('the epoch stream went back')), 'eu saw the stream go back');
    assert.ok(us.logged.some((line) => line.includes('the epoch stream went back')), 'us saw the stream go back');
  });

  test('a second record of a known epoch, naming another owner: every node keeps the first, and reports it', async () => {
    const [eu] = running as [Running];
    const known = eu.ownership.records(['ap']).find((record) => record.epoch === 3)!;
    assert.ok(known !== undefined, 'the second test left a takeover of ap at epoch 3');
    const other = REGIONS.find((region) => region !== known.owner && region !== 'ap')!;
    // What a node that never saw the takeover would have appended, had the stream lost it first.
    await jetstream(admin).publish('tessera.epoch.ap', JSON.stringify({ ...known, owner: other }));
    for (const node of running) {
      await waitUntil(`${node.region} to read the second record`, 10_000, async () => (node.conflicts.includes('ap') ? null : 'not yet'), 100);
      assert.deepEqual(node.ownership.ownerOf('ap'), { owner: known.owner, epoch: 3 }, `${node.region} keeps the record it knew first`);
      assert.ok(node.logged.some((line) => line.includes('two records of one epoch of a home')), `${node.region} logs it`);
    }
  });
});
