/**
 * deploy/grafana/tessera.json: a dashboard Grafana can import, whose every
 * PromQL expression promtool parses and whose every metric a running Tessera
 * exposes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { checkExpressions, exposedMetricNames, metricNames } from '../support/promql.js';
import { REPO_ROOT } from '../support/process.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ refId: string; expr: string }>;
}

const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, 'deploy/grafana/tessera.json'), 'utf8')) as {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; definition?: string }> };
};
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const variables = dashboard.templating.list;
const expressions = [
  ...panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${p.title} ${t.refId}`, expr: t.expr }))),
  ...variables.filter((v) => v.definition !== undefined).map((v) => ({ where: `$${v.name}`, expr: /^label_values\((.*), \w+\)$/.exec(v.definition!)?.[1] ?? v.definition! })),
];

/** Grafana's variables replaced by values PromQL accepts, as Grafana does before it queries. */
function asPromQL(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__range|\$__interval/g, '5m').replace(/\$(job|instance)\b/g, '.*');
}

describe('deploy/grafana/tessera.json', () => {
  test('is a dashboard with a stable uid, a data source variable, and job and instance filters', () => {
    assert.equal(dashboard.uid, 'tessera');
    assert.ok(dashboard.schemaVersion >= 36);
    assert.deepEqual(variables.map((v) => v.name), ['datasource', 'job', 'instance']);
    for (const panel of panels) {
      assert.deepEqual(panel.datasource, { type: 'prometheus', uid: '${datasource}' }, panel.title);
      assert.ok((panel.targets ?? []).length > 0, `${panel.title} has no query`);
    }
    assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length, 'panel ids are unique');
  });

  test('no two panels overlap on the grid', () => {
    const cells = new Map<string, string>();
    for (const panel of dashboard.panels) {
      const { h, w, x, y } = panel.gridPos;
      assert.ok(x >= 0 && x + w <= 24, `${panel.title} fits the 24 columns`);
      for (let row = y; row < y + h; row++) {
        for (let column = x; column < x + w; column++) {
          const taken = cells.get(`${row}:${column}`);
          assert.equal(taken, undefined, `${panel.title} overlaps ${taken}`);
          cells.set(`${row}:${column}`, panel.title);
        }
      }
    }
  });

  test('promtool parses every expression', () => {
    const run = checkExpressions(expressions.map((e) => asPromQL(e.expr)));
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, new RegExp(`SUCCESS: ${expressions.length} rules found`));
  });

  test('the expression check can fail', () => {
    assert.notEqual(checkExpressions(['sum(rate(tessera_problems_total[5m])']).status, 0);
  });

  test('shows the RED metrics, the L1 cache, the store and the global mode', () => {
    const used = new Set(expressions.flatMap((e) => metricNames(e.expr)));
    for (const name of [
      'tessera_http_request_duration_seconds_count',
      'tessera_http_request_duration_seconds_bucket',
      'tessera_problems_total',
      'tessera_cache_lookups_total',
      'tessera_store_read_bytes_sum',
      'tessera_store_read_bytes_count',
      'tessera_store_call_duration_seconds_bucket',
      'tessera_replication_lag_seconds',
      'tessera_replication_published_total',
      'tessera_auth_home_lease',
      'tessera_auth_failed_closed_total',
      'tessera_replication_repair_rounds_total',
    ]) {
      assert.ok(used.has(name), `no panel uses ${name}`);
    }
  });

  test('uses only metrics a running Tessera exposes', async () => {
    const exposed = await exposedMetricNames();
    for (const { where, expr } of expressions) {
      const names = metricNames(expr);
      assert.ok(names.length > 0, `${where} uses no Tessera metric`);
      for (const name of names) assert.ok(exposed.has(name), `${where} uses ${name}, which Tessera does not expose`);
    }
  });
});
