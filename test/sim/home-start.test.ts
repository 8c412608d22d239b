/**
 * Home ownership's start against a NATS cluster that cannot answer yet. A CI
 * run on a slow machine started a node while JetStream timed out: the start
 * failed as it may (the replicator retries it), but the heartbeat bucket,
 * asked for beside it and never awaited, rejected later with nobody
 * listening, and Node ended the process. Here the cluster has lost its
 * quorum, so every JetStream request fails; the start must fail alone, and
 * succeed once the cluster is whole again.
 */
import './one-at-a-time.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { startSim, type Sim } from '../../sim/harness.js';
import { connectTo } from '../../sim/jetstream.js';
import { waitUntil } from '../../sim/processes.js';
import { HomeOwnership } from '../../src/replication/home.js';
import { DEFAULT_REPLICATION, type ReplicationSettings } from '../../src/replication/settings.js';

const REGIONS = ['eu', 'us', 'ap'];
/** JetStream's request timeout here: short, so that a request that hangs has failed well inside the test. */
const REQUEST_TIMEOUT_MS = 2_000;

describe('home ownership starting while JetStream cannot answer', { timeout: 180_000 }, () => {
  let sim: Sim;
  let nc: NatsConnection;
  const settings: ReplicationSettings = {
    ...DEFAULT_REPLICATION,
    region: 'eu',
    regions: REGIONS,
    natsUrls: [],
    natsMonitorUrls: [],
    nodeId: 'eu-test',
  };
  const ownershipOn = async (connection: NatsConnection): Promise<HomeOwnership> => {
    const jsm = await jetstreamManager(connection, { timeout: REQUEST_TIMEOUT_MS, checkAPI: false });
    const js = jetstream(connection, { timeout: REQUEST_TIMEOUT_MS });
    return new HomeOwnership(connection, js, jsm, settings, pino({ level: 'silent' }), async () => true);
  };

  before(async () => {
    sim = await startSim({ regions: REGIONS, rttMs: 5, tessera: false });
    nc = await connectTo(sim, 'eu');
  });
  after(async () => {
    await nc?.close();
    await sim?.stop();
  });

  test('fails its start without leaving a rejection nobody awaits, and starts once the quorum is back', async () => {
    const unobserved: unknown[] = [];
    const note = (reason: unknown): void => {
      unobserved.push(reason);
    };
    process.on('unhandledRejection', note);
    try {
      await Promise.all([sim.killNats('us'), sim.killNats('ap')]);
      await waitUntil('eu to lose its meta leader', 60_000, async () => {
        const eu = (await sim.status()).find((r) => r.name === 'eu')!;
        return eu.metaLeader === null ? null : `meta leader still ${eu.metaLeader}`;
      }, 250);

      const lonely = await ownershipOn(nc);
      await assert.rejects(lonely.start(), 'JetStream without a quorum cannot create the epoch stream');
      lonely.stop();
      // Long enough for any JetStream request made during the start to have timed out.
      await new Promise((resolve) => setTimeout(resolve, 3 * REQUEST_TIMEOUT_MS));
      assert.deepEqual(unobserved.map(String), [], 'no promise of the failed start rejected unobserved');
    } finally {
      process.off('unhandledRejection', note);
    }

    await Promise.all([sim.restartNats('us'), sim.restartNats('ap')]);
    const whole = await ownershipOn(nc);
    let started = false;
    await waitUntil('the ownership to start on the whole cluster', 60_000, async () => {
      try {
        await whole.start();
        started = true;
        return null;
      } catch (error) {
        return String(error);
      }
    }, 1_000);
    whole.stop();
    assert.ok(started);
    const bucket = await new Kvm(nc).open('tessera_homes');
    assert.equal((await bucket.status()).replicas, REGIONS.length, 'the heartbeat bucket holds a replica per region');
  });
});
