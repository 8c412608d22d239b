/** The self-contained HTML page: tables plus inline-SVG charts, no scripts, no network. */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PERCENTILE_KEYS, PERCENTILE_LABEL } from '../lib/histogram.js';
import { MIX_LABEL, type MixName } from '../load/workload.js';
import { TARGET_LABEL, type TargetId } from '../targets/target.js';
import type { BenchResults, ProfileRecord } from './results.js';
import { CHART_CSS, barChart, lineChart, type Series } from './svg.js';
import { buildTables, environmentLines, flameGraphHref, profileTableId, type Table } from './tables.js';

/** The repository: ProfileRecord paths are relative to it. */
const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export const TARGET_COLOR: Record<TargetId, string> = {
  'tessera-redis': '#d1495b',
  'tessera-cluster': '#edae49',
  'tessera-sqlite': '#66a182',
  'tessera-redis-traced': '#e07a87',
  'tessera-sqlite-traced': '#9cc5ae',
  'fastify-hello': '#00798c',
  'express-session': '#30343f',
  'redis-floor': '#8d6a9f',
};

const PERCENTILE_COLOR: Record<(typeof PERCENTILE_KEYS)[number], string> = {
  p50: '#4c78a8',
  p75: '#72b7b2',
  p90: '#54a24b',
  p99: '#f58518',
  p999: '#e45756',
};

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const inline = (s: string): string => esc(s).replace(/\*\*(.+?)\*\*/g, '<b>$1</b>').replace(/`(.+?)`/g, '<code>$1</code>');

/** Marks as plain symbols with colour: emoji fonts are often missing where the page is opened. */
function marks(html: string): string {
  return html
    .replace(/✅/g, '<span class="ok">✓</span>')
    .replace(/❌/g, '<span class="bad">✗</span>')
    .replace(/⚠/g, '<span class="warn" title="other work took over half a core">⚠</span>');
}

function htmlTable(t: Table): string {
  const head = `<tr>${t.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`;
  const rows = t.rows.map((r) => `<tr>${r.map((c) => `<td>${marks(esc(c))}</td>`).join('')}</tr>`).join('');
  return `<h2 id="${esc(t.id)}">${esc(t.title)}</h2>${t.intro ? `<p>${inline(t.intro)}</p>` : ''}<table>${head}${rows}</table>`;
}

/** A profile's flame graph, inlined (its <title> tooltips work inline, not through <img>), read from the profile folder. */
function flameGraph(p: ProfileRecord): string {
  if (!p.flamegraph) return '';
  const path = resolve(ROOT, p.flamegraph);
  const href = esc(flameGraphHref(p) ?? p.flamegraph);
  if (!existsSync(path)) return `<p>Flame graph: <code>${esc(p.flamegraph)}</code> is gone (profile folders are not kept).</p>`;
  const svg = readFileSync(path, 'utf8');
  return `<figure class="flame">${svg}<figcaption>Flame graph of this profile (hover a frame for details); on its own: <a href="${href}">${href}</a>.</figcaption></figure>`;
}

export function renderHtml(r: BenchResults): string {
  const ok = r.targets.filter((t) => t.status === 'ok').map((t) => t.id);
  const charts: string[] = [];

  const mixes: MixName[] = ['reads', 'read-heavy', 'mutations', 'login'];
  charts.push(
    barChart({
      title: 'Closed-loop peak throughput (req/s)',
      yLabel: 'requests / s',
      groups: mixes.map((m) => ({
        label: m,
        bars: ok.flatMap((t) => {
          const p = r.peaks.find((x) => x.target === t && x.mix === m);
          return p ? [{ name: TARGET_LABEL[t], color: TARGET_COLOR[t], value: p.rps, note: MIX_LABEL[m] }] : [];
        }),
      })),
    }),
  );

  const levelCharts: string[] = [];
  for (const t of ok) {
    const levels = r.openLoop.filter((l) => l.target === t && l.mix === 'read-heavy' && l.fraction !== null).sort((a, b) => a.offeredRate - b.offeredRate);
    if (levels.length === 0) continue;
    levelCharts.push(
      lineChart({
        title: `${TARGET_LABEL[t]} — latency over load`,
        xLabel: 'offered load (req/s, open loop)',
        yLabel: 'latency (ms, log)',
        x: 'linear',
        y: 'log',
        width: 440,
        height: 280,
        rules: [{ y: 5, label: '5 ms' }],
        series: (['p50', 'p90', 'p99', 'p999'] as const).map((k) => ({
          name: PERCENTILE_LABEL[k],
          color: PERCENTILE_COLOR[k],
          points: levels.map((l) => [l.offeredRate, l.latency[k]] as const),
        })),
      }),
    );
  }

  const p99Series: Series[] = ok.map((t) => ({
    name: TARGET_LABEL[t],
    color: TARGET_COLOR[t],
    points: r.openLoop
      .filter((l) => l.target === t && l.mix === 'read-heavy' && l.fraction !== null)
      .sort((a, b) => (a.fraction ?? 0) - (b.fraction ?? 0))
      .map((l) => [Math.round((l.fraction ?? 0) * 100), l.latency.p99] as const),
  }));
  charts.push(
    lineChart({
      title: 'p99 over load, each target at fractions of its own peak',
      xLabel: '% of the target’s closed-loop peak',
      yLabel: 'p99 latency (ms, log)',
      x: 'linear',
      y: 'log',
      rules: [{ y: 5, label: 'goal at 50 %: 5 ms' }],
      series: p99Series,
    }),
  );

  const half = (t: TargetId) => r.openLoop.find((l) => l.target === t && l.mix === 'read-heavy' && l.fraction === 0.5) ?? r.openLoop.find((l) => l.target === t && l.label === 'common');
  charts.push(
    lineChart({
      title: 'Latency by percentile at half of each target’s peak',
      xLabel: 'percentile',
      yLabel: 'latency (ms, log)',
      x: 'percentile',
      y: 'log',
      series: ok.map((t) => ({
        name: TARGET_LABEL[t],
        color: TARGET_COLOR[t],
        points: (half(t)?.spectrum ?? []).filter((p) => p.percentile < 100).map((p) => [p.percentile, p.ms] as const),
      })),
    }),
  );
  const common = r.openLoop.filter((l) => l.label === 'common');
  if (common.length > 0) {
    charts.push(
      lineChart({
        title: `Latency by percentile at the same ${common[0]!.offeredRate.toLocaleString('en-US')} req/s for everyone`,
        xLabel: 'percentile',
        yLabel: 'latency (ms, log)',
        x: 'percentile',
        y: 'log',
        series: common.map((l) => ({ name: TARGET_LABEL[l.target], color: TARGET_COLOR[l.target], points: l.spectrum.filter((p) => p.percentile < 100).map((p) => [p.percentile, p.ms] as const) })),
      }),
    );
  }

  if (r.steps.length > 0) {
    const s0 = r.steps[0]!;
    const band = [{ from: s0.beforeS, to: s0.beforeS + s0.spikeS, label: '×10' }];
    charts.push(
      lineChart({
        title: 'Black-Friday step: p99 per second',
        xLabel: 'time (s)',
        yLabel: 'p99 (ms, log)',
        x: 'linear',
        y: 'log',
        bands: band,
        rules: [{ y: 50, label: 'read SLO 50 ms' }],
        series: r.steps.map((s) => ({ name: TARGET_LABEL[s.target], color: TARGET_COLOR[s.target], points: s.windows.filter((w) => w.completed > 0).map((w) => [w.startS, w.p99] as const) })),
      }),
      lineChart({
        title: 'Black-Friday step: errors per second',
        xLabel: 'time (s)',
        yLabel: 'errors / s',
        x: 'linear',
        y: 'linear',
        bands: band,
        series: r.steps.map((s) => ({ name: TARGET_LABEL[s.target], color: TARGET_COLOR[s.target], points: s.windows.map((w) => [w.startS, w.errors] as const) })),
      }),
    );
  }

  const tables = buildTables(r);
  const [checks, ...rest] = tables;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tessera benchmark ${esc(r.startedAt.slice(0, 16))} (${r.mode})</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1400px;padding:0 16px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0;font-size:12.5px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
ul.env{color:#444}code{background:#f4f4f4;padding:0 3px}
.ok{color:#1a7f37;font-weight:700}.bad{color:#c0392b;font-weight:700}.warn{color:#b7791f}
${CHART_CSS}
.flame{margin:12px 0}.flame svg{max-width:100%;height:auto;border:1px solid #e3e3e3;border-radius:4px}.flame figcaption{font-size:12px;color:#555}
</style></head><body>
<h1>Tessera benchmark — ${esc(r.startedAt.slice(0, 10))} (${r.mode})</h1>
<ul class="env">${environmentLines(r).map((l) => `<li>${inline(l)}</li>`).join('')}</ul>
${checks ? htmlTable(checks) : ''}
<h2>Charts</h2>
${charts.join('\n')}
<div>${levelCharts.join('\n')}</div>
${rest
  .map((t) => {
    const profile = r.profiles.find((p) => profileTableId(p) === t.id);
    return htmlTable(t) + (profile ? flameGraph(profile) : '');
  })
  .join('\n')}
${r.notes.length ? `<h2>Notes</h2><ul>${r.notes.map((n) => `<li><pre>${esc(n)}</pre></li>`).join('')}</ul>` : ''}
</body></html>
`;
}
