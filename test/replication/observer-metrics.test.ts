/**
 * What the global mode reports reaches the Prometheus exposition under the
 * names deploy/prometheus/alerts.yml reads (its own test checks the names
 * exist; this one that the reports move them).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../src/metrics.js';

describe('the replication observer as metrics', () => {
  test('repair rounds count per peer and outcome; repaired sessions per peer', async () => {
    const metrics = new Metrics();
    const observer = metrics.replicationObserver();
    observer.repairRound('us', 'failed');
    observer.repairRound('us', 'failed');
    observer.repairRound('us', 'ok');
    observer.repairRound('ap', 'ok');
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
  });
});
