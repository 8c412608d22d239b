/**
 * What the global mode reports reaches the Prometheus exposition under the
 * names deploy/prometheus/alerts.yml reads (its own test checks the names
 * exist; this one that the reports move them).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../src/metrics.js';

describe('the replication observer as metrics', () => {
  test('repair rounds count per peer and outcome, and how long they took; repaired sessions per peer', async () => {
    const metrics = new Metrics();
    const observer = metrics.replicationObserver();
    observer.repairRound('us', 'failed', 30);
    observer.repairRound('us', 'failed', 0.5);
    observer.repairRound('us', 'ok', 7_200);
    observer.repairRound('ap', 'ok', 2);
    observer.repaired('us', 7);
    const text = await metrics.registry.metrics();
    const sample = (series: string): number | undefined => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.split(' ').pop());
    };
    assert.equal(sample('tessera_replication_repair_rounds_total{peer="us",outcome="failed"}'), 2);
    assert.equal(sample('tessera_replication_repair_rounds_total{peer="us",outcome="ok"}'), 1);
    assert.equal(sample('tessera_replication_repair_rounds_total{peer="ap",outcome="ok"}'), 1);
    assert.equal(sample('tessera_replication_repair_rounds_total{peer="ap",outcome="failed"}'), undefined);
    assert.equal(sample('tessera_replication_repaired_sessions_total{peer="us"}'), 7);
    assert.equal(sample('tessera_replication_repair_round_seconds_count{peer="us"}'), 3);
    assert.equal(sample('tessera_replication_repair_round_seconds_sum{peer="us"}'), 7_230.5);
    assert.equal(sample('tessera_replication_repair_round_seconds_bucket{le="60",peer="us"}'), 2);
    assert.equal(sample('tessera_replication_repair_round_seconds_bucket{le="10800",peer="us"}'), 3);
  });

  test('the epoch faults an alert watches start at 0 for every home and kind, so that the first is an increase', async () => {
    const metrics = new Metrics();
    const observer = metrics.replicationObserver(['us', 'eu', 'ap']);
    const sample = async (series: string): Promise<number | undefined> => {
      const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.split(' ').pop());
    };
    for (const home of ['us', 'eu', 'ap']) assert.equal(await sample(`tessera_auth_epoch_conflicts_total{home="${home}"}`), 0, home);
    for (const kind of ['went-back', 'missing-message']) assert.equal(await sample(`tessera_auth_epoch_stream_faults_total{kind="${kind}"}`), 0, kind);
    observer.epochConflict('ap');
    observer.epochStreamFault('went-back');
    assert.equal(await sample('tessera_auth_epoch_conflicts_total{home="ap"}'), 1);
    assert.equal(await sample('tessera_auth_epoch_conflicts_total{home="us"}'), 0);
    assert.equal(await sample('tessera_auth_epoch_stream_faults_total{kind="went-back"}'), 1);
  });
});
