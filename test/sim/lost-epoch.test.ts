/**
 * The epoch stream losing the takeover of a home, end to end (D90). NATS
 * 2.9.10 once lost an acknowledged takeover from `TESSERA_EPOCHS` after a
 * heal: the stream went on from a replica that lacked it. The home region's
 * node, which had never read the record, held its home again at the old
 * epoch while the region that had taken it over still ordered its sessions:
 * two regions ordering one home. Every auth change the home region made was
 * published, then refused by the barrier (a region knew a later epoch) — its
 * users' sign-outs and rotations answered 503 for minutes — and it ignored
 * the other owner's changes as published (their epoch was unknown to it).
 *
 * Here the stream is made again without the takeover while the home region's
 * nodes are down, and a device revoked meanwhile is checked in the home
 * region from its restart on. The repair between regions runs once an hour,
 * as at the product's size, where a round takes hours: it must not be what
 * puts things right.
 */
import './one-at-a-time.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { startSim, type Sim } from '../../sim/harness.js';
import { connectTo } from '../../sim/jetstream.js';
import { EPOCH_STREAM, RECLAIM_STEADY_MS, type EpochRecord } from '../../src/replication/home.js';
import { History } from './history.js';
import { CHAOS_ENV, epochRecordsIn, metricOf, RegionClient, sessionOf, snapshotIn, waitForConvergence, waitUntilSettled } from './support.js';

const REGIONS = ['eu', 'us', 'ap'] as const;
/** Tells this run's users from an earlier run's. */
const RUN = Date.now().toString(36);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Loses an epoch record the way NATS 2.9.10 did (the stream going on from a
 * replica that lacked it): the stream made again holding every message but
 * that one, so nothing in it shows a hole. Returns the record lost.
 */
async function loseRecord(jsm: JetStreamManager, publish: (subject: string, data: Uint8Array) => Promise<unknown>, lost: (record: EpochRecord) => boolean): Promise<EpochRecord> {
  const info = await jsm.streams.info(EPOCH_STREAM);
  const kept: Array<{ subject: string; data: Uint8Array }> = [];
  let gone: EpochRecord | null = null;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq += 1) {
    const message = await jsm.streams.getMessage(EPOCH_STREAM, { seq });
    if (message === null) continue;
    const record = message.subject.startsWith('tessera.epoch.mark.') ? null : message.json<EpochRecord>();
    if (record !== null && lost(record)) gone = record;
    else kept.push({ subject: message.subject, data: message.data });
  }
  assert.ok(gone !== null, 'the record to lose is in the stream');
  await jsm.streams.delete(EPOCH_STREAM);
  await jsm.streams.add(info.config);
  for (const { subject, data } of kept) await publish(subject, data);
  return gone;
}

describe('an epoch stream that lost the takeover of a home', { timeout: 300_000 }, () => {
  let sim: Sim;
  let clients: Record<string, RegionClient>;
  before(async () => {
    sim = await startSim({ regions: REGIONS, rttMs: 10, tesseraEnv: { ...CHAOS_ENV, TESSERA_REPAIR_INTERVAL: '1h' } });
    clients = Object.fromEntries(REGIONS.map((region) => [region, new RegionClient(sim, region)]));
    await waitUntilSettled(sim, 90_000);
  });
  after(async () => {
    await sim.stop();
  });

  it('the home region comes back to an epoch stream that lost the takeover of its home: it learns the takeover elsewhere, never holds its home beside the region that took it over, gets it back, and its own auth changes go through', async () => {
    const history = new History();
    const made: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const signedIn = await clients.ap!.signIn(`lost-epoch-${i}-${RUN}`);
      assert.equal(signedIn.status, 201);
      made.push(signedIn.body.token);
    }
    await sleep(500);
    // ap's nodes stop (its NATS server runs on): another region takes its home over and revokes a device of it.
    await sim.killTessera('ap');
    const revoked = made[0]!;
    const status = await history.revoke(revoked, 'eu', async () => (await clients.eu!.request('DELETE', '/v1/session', { token: revoked })).status, 204, 60_000);
    assert.equal(status, 204, 'the revocation is ordered where ap’s home was taken over');

    const admin = await connectTo(sim, 'eu', 'lost-epoch-test');
    try {
      const jsm = await jetstreamManager(admin);
      const js = jetstream(admin);
      // The takeover is the latest record of ap's home: lose it.
      const takeover = (await epochRecordsIn(jsm)).filter(({ record }) => record.home === 'ap').at(-1)?.record ?? null;
      assert.ok(takeover !== null && takeover.owner !== 'ap', 'ap’s home was taken over');
      const lost = await loseRecord(jsm, (subject, data) => js.publish(subject, data), (record) => record.home === 'ap' && record.epoch === takeover!.epoch);

      // ap comes back to a stream without the takeover. From its restart on: the revoked token is never
      // accepted there, and ap and the region that took its home over never both say they hold it (their
      // lease gauges, updated each second).
      await sim.restartTessera('ap');
      const restartedAt = performance.now();
      const leaseOf = (region: string) => metricOf(sim.region(region).adminUrls[0]!, 'tessera_auth_home_lease{home="ap"}');
      let heldAt = -1;
      const bothHeld: number[] = [];
      while (performance.now() - restartedAt < RECLAIM_STEADY_MS + 60_000 && (heldAt < 0 || performance.now() - heldAt < 3_000)) {
        await history.validate(revoked, 'ap', async () => (await clients.ap!.read(revoked, 'devices')).status);
        const [ap, taker] = await Promise.all([leaseOf('ap'), leaseOf(lost.owner)]);
        if (ap === 1 && taker === 1) bothHeld.push(Math.round(performance.now() - restartedAt));
        if (heldAt < 0 && ap === 1) heldAt = performance.now();
        await sleep(50);
      }
      assert.ok(heldAt > 0, 'ap holds its home again');
      assert.deepEqual(bothHeld, [], 'ms after the restart at which ap and the region that took its home over both held it');
      console.log(`a home region back to an epoch stream that lost its takeover held its sessions again ${Math.round(heldAt - restartedAt)} ms after its restart`);
      assert.deepEqual(history.staleAccepts(), [], 'ap never accepts the token revoked while it was away');
      // What operators see: the nodes that had read the lost record found the stream gone back
      // (TesseraEpochStreamLostRecords), and ap took the record from elsewhere.
      const adminOf = (region: string) => sim.region(region).adminUrls[0]!;
      assert.ok(((await metricOf(adminOf(lost.owner), 'tessera_auth_epoch_stream_faults_total{kind="went-back"}')) ?? 0) >= 1, `${lost.owner} counted the stream going back`);
      const learned = await Promise.all((['heartbeat', 'region', 'barrier'] as const).map((source) => metricOf(adminOf('ap'), `tessera_auth_epoch_records_learned_total{source="${source}"}`)));
      assert.ok(learned.reduce<number>((sum, n) => sum + (n ?? 0), 0) >= 1, `ap counted the record learned elsewhere (${JSON.stringify(learned)})`);
      assert.ok(history.count('refused', 'ap') > 0, 'ap refuses it (401), not only 503');

      // ap orders its own sessions again: its logout of another device counts everywhere.
      const other = made[1]!;
      assert.equal(await history.revoke(other, 'ap', async () => (await clients.ap!.request('DELETE', '/v1/session', { token: other })).status), 204, 'ap’s logout goes through (503s retried for 30 s)');
      for (const region of REGIONS) {
        assert.equal(await history.validate(other, region, async () => (await clients[region]!.read(other, 'devices')).status), 'refused', `${region} refuses the device ap revoked`);
        assert.equal(await history.validate(revoked, region, async () => (await clients[region]!.read(revoked, 'devices')).status), 'refused', `${region} refuses the device eu revoked`);
        assert.equal(await history.validate(made[2]!, region, async () => (await clients[region]!.read(made[2]!, 'devices')).status), 'accepted', `${region} accepts the device nobody revoked`);
      }
      // What the stores hold, not only what the API answers: both logouts in every region's store, once
      // the streams carried them (the repair runs hourly here), and the third device live.
      await waitForConvergence(sim, REGIONS, 60_000);
      for (const region of REGIONS) {
        for (const [token, revokedBy] of [[revoked, 'logout'], [other, 'logout'], [made[2]!, undefined]] as const) {
          const devices = Object.values((await snapshotIn(sim, region, sessionOf(token)))?.devices.devices ?? {});
          assert.deepEqual(devices.map((d) => d.revokedFor), [revokedBy], `${region}'s store: the device of ${token.slice(0, 16)}…`);
        }
      }
      // ap got its home back by a handback: the next epoch after the one the stream lost, in the stream.
      const records = (await epochRecordsIn(jsm)).filter(({ record }) => record.home === 'ap').map(({ record }) => record);
      assert.deepEqual(records.at(-1) && [records.at(-1)!.owner, records.at(-1)!.epoch], ['ap', lost.epoch + 1], 'ap’s home handed back at the epoch after the lost one');

      assert.deepEqual(history.staleAccepts(), []);
    } finally {
      await admin.close();
    }
  });
});
