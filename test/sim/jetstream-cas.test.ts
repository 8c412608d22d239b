/**
 * What the replication design builds on, checked against the real
 * nats-server 2.9.10 cluster of the simulation: the stream-level expected last
 * sequence (`Nats-Expected-Last-Sequence`) lets exactly one of two concurrent
 * writers through. (The per-subject one, `Nats-Expected-Last-Subject-Sequence`,
 * does not in 2.9.10 — nats-server #4320 — so nothing may rely on it; see
 * `npm run sim:measure` and docs/replication.md.)
 */
import './one-at-a-time.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { startSim, type Sim } from '../../sim/harness.js';
import { addStream, apiErrorCode, connectTo, jetstreamManager, waitForLeader } from '../../sim/jetstream.js';
import { waitUntil } from '../../sim/processes.js';

const ROUNDS = 20;
const WRONG_LAST_SEQUENCE = 10071;

async function publishWhenReachable(js: JetStreamClient, subject: string): Promise<void> {
  await waitUntil(`a publish to ${subject}`, 15_000, async () => {
    await js.publish(subject, 'warm-up', { timeout: 5_000 });
    return null;
  }, 200);
}

describe('JetStream compare-and-set across regions (nats-server 2.9.10)', { timeout: 60_000 }, () => {
  let sim: Sim;
  let eu: NatsConnection;
  let us: NatsConnection;
  let jsm: JetStreamManager;

  before(async () => {
    sim = await startSim({ tessera: false, rttMs: 20 });
    eu = await connectTo(sim, 'eu');
    us = await connectTo(sim, 'us');
    jsm = await jetstreamManager(eu);
  });
  after(async () => {
    await eu?.close();
    await us?.close();
    await sim?.stop();
  });

  test('stream-level expected-last-sequence refuses the stale one of two concurrent writers, every round', async () => {
    await addStream(jsm, { name: 'CAS', subjects: ['cas.>'], num_replicas: 3 });
    await waitForLeader(jsm, 'CAS');
    const writers = [jetstream(eu), jetstream(us)];
    // Right after creation a server may not yet know the stream's subjects ("jetstream is not enabled").
    for (const js of writers) await publishWhenReachable(js, 'cas.warmup');
    const outcomes: string[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const last = (await jsm.streams.info('CAS')).state.last_seq;
      // Both writers read the same last sequence and write against it at once: one is stale.
      const results = await Promise.allSettled(
        writers.map((js, i) => js.publish(`cas.doc`, `round ${round} writer ${i}`, { expect: { lastSequence: last }, timeout: 10_000 })),
      );
      const won = results.filter((r) => r.status === 'fulfilled').length;
      const refused = results.filter((r) => r.status === 'rejected' && apiErrorCode(r.reason) === WRONG_LAST_SEQUENCE).length;
      const other = results.flatMap((r) => (r.status === 'rejected' && apiErrorCode(r.reason) !== WRONG_LAST_SEQUENCE ? [String(r.reason)] : []));
      outcomes.push(`${won} won, ${refused} refused${other.length > 0 ? `, ${other.join('; ')}` : ''}`);
    }
    assert.deepEqual(outcomes, Array.from({ length: ROUNDS }, () => '1 won, 1 refused'));
    const state = (await jsm.streams.info('CAS')).state;
    assert.equal(state.messages, 2 + ROUNDS, 'the two warm-ups and exactly one message per round');
    assert.equal(state.last_seq, 2 + ROUNDS);
  });
});
