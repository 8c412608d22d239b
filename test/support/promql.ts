/**
 * What the Prometheus artifacts (deploy/prometheus, deploy/grafana) are checked
 * against: promtool (Debian's `prometheus` package; .ci/run installs it) and
 * the metric names a real Tessera exposes on /metrics.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTessera } from './tessera-server.js';

export interface ToolRun {
  readonly status: number | null;
  readonly output: string;
}

export function promtool(args: readonly string[], cwd?: string): ToolRun {
  const result = spawnSync('promtool', args, { encoding: 'utf8', ...(cwd !== undefined ? { cwd } : {}) });
  if (result.error) throw new Error(`promtool could not run (bash .ci/run installs Debian's prometheus package): ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** `promtool check rules` on PromQL expressions, as recording rules of a scratch file. */
export function checkExpressions(expressions: readonly string[]): ToolRun {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-promql-'));
  try {
    const rules = expressions.map((expr, i) => `      - record: tessera_check:expr_${i}\n        expr: ${JSON.stringify(expr)}\n`).join('');
    writeFileSync(join(dir, 'rules.yml'), `groups:\n  - name: check\n    rules:\n${rules}`);
    return promtool(['check', 'rules', join(dir, 'rules.yml')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Series names a fresh Tessera exposes, with each histogram's _bucket, _sum and _count. */
export async function exposedMetricNames(): Promise<Set<string>> {
  const server = await startTessera();
  try {
    const reply = await server.request('GET', '/metrics', { key: null, admin: true });
    const names = new Set<string>();
    for (const [, name, type] of reply.text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
      else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(`${name}${suffix}`);
      else names.add(name!);
    }
    return names;
  } finally {
    await server.close();
  }
}

/** Tessera metric names an expression uses. */
export function metricNames(expression: string): string[] {
  return [...new Set([...expression.matchAll(/\btessera_[a-z0-9_]+\b/g)].map((m) => m[0]))];
}
