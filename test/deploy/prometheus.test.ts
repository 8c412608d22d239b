/**
 * deploy/prometheus/alerts.yml: parsed and type-checked by `promtool check
 * rules`, unit-tested by `promtool test rules` against alerts.test.yml, and its
 * metric names checked against what a running Tessera exposes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { exposedMetricNames, metricNames, promtool } from '../support/promql.js';
import { REPO_ROOT } from '../support/process.js';

const DIR = join(REPO_ROOT, 'deploy/prometheus');
const rules = parse(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as {
  groups: Array<{ name: string; rules: Array<{ alert: string; expr: string; labels: Record<string, string> }> }>;
};
const alerts = rules.groups.flatMap((g) => g.rules.map((r) => ({ group: g.name, ...r })));

describe('deploy/prometheus/alerts.yml', () => {
  test('promtool check rules accepts it', () => {
    const run = promtool(['check', 'rules', join(DIR, 'alerts.yml')]);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, new RegExp(`SUCCESS: ${alerts.length} rules found`));
  });

  test('promtool test rules: every alert fires when it should and stays quiet when it should not', () => {
    const run = promtool(['test', 'rules', 'alerts.test.yml'], DIR);
    assert.equal(run.status, 0, run.output);
    const tested = new Set([...readFileSync(join(DIR, 'alerts.test.yml'), 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    assert.deepEqual([...tested].sort(), alerts.map((a) => a.alert).sort());
  });

  test('promtool catches a wrong expectation and a broken expression (the checks can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-alerts-'));
    try {
      writeFileSync(join(dir, 'alerts.yml'), readFileSync(join(DIR, 'alerts.yml'), 'utf8'));
      writeFileSync(
        join(dir, 'wrong.test.yml'),
        [
          'rule_files: [alerts.yml]',
          'tests:',
          '  - interval: 1m',
          '    input_series:',
          `      - series: 'up{job="tessera", instance="a"}'`,
          `        values: '0 0 0 0 0'`,
          '    alert_rule_test:',
          '      - eval_time: 4m',
          '        alertname: TesseraDown',
          '        exp_alerts: []',
          '',
        ].join('\n'),
      );
      const wrong = promtool(['test', 'rules', 'wrong.test.yml'], dir);
      assert.notEqual(wrong.status, 0);
      assert.match(wrong.output, /TesseraDown/);

      writeFileSync(join(dir, 'broken.yml'), readFileSync(join(DIR, 'alerts.yml'), 'utf8').replace('> 0.01', '> > 0.01'));
      assert.notEqual(promtool(['check', 'rules', join(dir, 'broken.yml')]).status, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('covers error rate, p99 latency, store unavailable and slow, L1 hit ratio and replication lag, each with a severity and a summary', () => {
    const uses = (metric: string) => alerts.filter((a) => a.expr.includes(metric)).map((a) => a.alert);
    assert.ok(uses('status_code=~"5.."').length > 0, 'error rate');
    assert.ok(alerts.some((a) => /histogram_quantile\(0\.99,/.test(a.expr)), 'p99 latency');
    assert.ok(uses('status_code="503"').length > 0, 'store unavailable');
    assert.ok(uses('tessera_store_call_duration_seconds_bucket').length > 0, 'store latency');
    assert.ok(uses('tessera_cache_lookups_total').length > 0, 'L1 hit ratio');
    assert.ok(uses('tessera_replication_lag_seconds').length > 0, 'replication lag');
    for (const alert of alerts) assert.match(alert.labels.severity ?? '', /^(page|ticket)$/, alert.alert);
  });

  test('uses only metrics a running Tessera exposes (the global mode\'s too: every node registers them)', async () => {
    const exposed = await exposedMetricNames();
    assert.ok(exposed.has('tessera_http_request_duration_seconds_bucket'), 'the exposition was read');
    assert.ok(exposed.has('tessera_replication_lag_seconds'), 'the global mode\'s metrics are registered');
    for (const alert of alerts) {
      for (const name of metricNames(alert.expr)) assert.ok(exposed.has(name), `${alert.alert} uses ${name}, which Tessera does not expose`);
    }
  });
});
