/**
 * Tiny inline-SVG charts for the HTML report (no scripts, no CDN: the page must
 * open offline). Line charts with linear, log or percentile ("1/(1−p)") axes,
 * and grouped bar charts.
 */

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
  readonly dashed?: boolean;
}

export type AxisKind = 'linear' | 'log' | 'percentile';

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly x: AxisKind;
  readonly y: AxisKind;
  readonly series: readonly Series[];
  /** Shaded x ranges, e.g. the Black-Friday spike. */
  readonly bands?: ReadonlyArray<{ readonly from: number; readonly to: number; readonly label: string }>;
  /** Horizontal reference lines, e.g. a latency goal. */
  readonly rules?: ReadonlyArray<{ readonly y: number; readonly label: string }>;
  readonly width?: number;
  readonly height?: number;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a >= 1) return `${+v.toPrecision(3)}`;
  return `${+v.toPrecision(2)}`;
}

interface Scale {
  readonly map: (v: number) => number;
  readonly ticks: ReadonlyArray<{ readonly v: number; readonly label: string }>;
}

function scale(kind: AxisKind, lo: number, hi: number, from: number, to: number): Scale {
  if (kind === 'percentile') {
    // x = percentile in [0, 100); plotted at log10(1 / (1 - p/100)).
    const t = (p: number): number => Math.log10(1 / Math.max(1e-6, 1 - Math.min(p, 99.9999) / 100));
    const tHi = Math.max(t(hi), t(99.9));
    const map = (p: number): number => from + ((to - from) * t(p)) / tHi;
    const ticks = [0, 50, 90, 99, 99.9, 99.99].filter((p) => t(p) <= tHi + 1e-9).map((p) => ({ v: p, label: `${p}%` }));
    return { map, ticks };
  }
  if (kind === 'log') {
    const l = Math.floor(Math.log10(Math.max(lo, 1e-3)));
    const h = Math.ceil(Math.log10(Math.max(hi, lo * 10, 1e-3)));
    const map = (v: number): number => from + ((to - from) * (Math.log10(Math.max(v, 10 ** l)) - l)) / Math.max(1, h - l);
    const ticks: Array<{ v: number; label: string }> = [];
    for (let e = l; e <= h; e++) {
      ticks.push({ v: 10 ** e, label: fmt(10 ** e) });
      if (h - l <= 3 && e < h) ticks.push({ v: 3 * 10 ** e, label: fmt(3 * 10 ** e) });
    }
    return { map, ticks };
  }
  const span = hi - lo || Math.abs(hi) || 1;
  const step = 10 ** Math.floor(Math.log10(span / 5));
  const nice = [1, 2, 2.5, 5, 10].map((m) => m * step).find((s) => span / s <= 6) ?? step * 10;
  const start = Math.floor(lo / nice) * nice;
  const end = Math.ceil(hi / nice) * nice;
  const map = (v: number): number => from + ((to - from) * (v - start)) / (end - start || 1);
  const ticks: Array<{ v: number; label: string }> = [];
  for (let v = start; v <= end + nice / 1e6; v += nice) ticks.push({ v, label: fmt(+v.toPrecision(6)) });
  return { map, ticks };
}

export function lineChart(o: LineChartOptions): string {
  const W = o.width ?? 640;
  const H = o.height ?? 320;
  const m = { l: 58, r: 12, t: 30, b: 46 };
  const all = o.series.flatMap((s) => s.points);
  if (all.length === 0) return `<figure class="chart"><figcaption>${esc(o.title)}</figcaption><p class="empty">no data</p></figure>`;
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]).concat((o.rules ?? []).map((r) => r.y));
  const positive = ys.filter((v) => v > 0);
  const yLo = o.y === 'log' ? Math.min(...positive, 1) : Math.min(0, ...ys);
  const sx = scale(o.x, o.x === 'linear' ? Math.min(0, ...xs) : Math.min(...xs), Math.max(...xs), m.l, W - m.r);
  const sy = scale(o.y, yLo, Math.max(...ys, yLo * 2), H - m.b, m.t);
  const parts: string[] = [];
  parts.push(`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">`);
  for (const band of o.bands ?? []) {
    const x1 = sx.map(band.from);
    const x2 = sx.map(band.to);
    parts.push(`<rect x="${x1.toFixed(1)}" y="${m.t}" width="${(x2 - x1).toFixed(1)}" height="${H - m.t - m.b}" fill="#f6d55c" opacity="0.25"/>`);
    parts.push(`<text x="${((x1 + x2) / 2).toFixed(1)}" y="${m.t + 12}" class="band">${esc(band.label)}</text>`);
  }
  for (const t of sy.ticks) {
    const y = sy.map(t.v);
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${m.l - 6}" y="${(y + 4).toFixed(1)}" class="ytick">${t.label}</text>`);
  }
  for (const t of sx.ticks) {
    const x = sx.map(t.v);
    parts.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${m.t}" y2="${H - m.b}" class="grid"/>`);
    parts.push(`<text x="${x.toFixed(1)}" y="${H - m.b + 16}" class="xtick">${t.label}</text>`);
  }
  for (const rule of o.rules ?? []) {
    const y = sy.map(rule.y);
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" class="rule"/>`);
    parts.push(`<text x="${W - m.r - 4}" y="${(y - 4).toFixed(1)}" class="rulelabel">${esc(rule.label)}</text>`);
  }
  for (const s of o.series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${sx.map(p[0]).toFixed(1)},${sy.map(p[1]).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    for (const p of s.points) {
      parts.push(`<circle cx="${sx.map(p[0]).toFixed(1)}" cy="${sy.map(p[1]).toFixed(1)}" r="2.5" fill="${s.color}"><title>${esc(s.name)}: ${fmt(p[0])} → ${p[1]}</title></circle>`);
    }
  }
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" class="xlabel">${esc(o.xLabel)}</text>`);
  parts.push(`<text x="14" y="${(m.t + H - m.b) / 2}" class="ylabel" transform="rotate(-90 14 ${(m.t + H - m.b) / 2})">${esc(o.yLabel)}</text>`);
  parts.push(`<text x="${m.l}" y="18" class="title">${esc(o.title)}</text>`);
  parts.push('</svg>');
  return `<figure class="chart">${parts.join('')}${legend(o.series)}</figure>`;
}

export interface BarGroup {
  readonly label: string;
  readonly bars: ReadonlyArray<{ readonly name: string; readonly color: string; readonly value: number; readonly note?: string }>;
}

export function barChart(o: { title: string; yLabel: string; groups: readonly BarGroup[]; width?: number; height?: number }): string {
  const W = o.width ?? 900;
  const H = o.height ?? 340;
  const m = { l: 64, r: 12, t: 30, b: 40 };
  const max = Math.max(1, ...o.groups.flatMap((g) => g.bars.map((b) => b.value)));
  const sy = scale('linear', 0, max, H - m.b, m.t);
  const groupW = (W - m.l - m.r) / Math.max(1, o.groups.length);
  const parts: string[] = [`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">`];
  for (const t of sy.ticks) {
    const y = sy.map(t.v);
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${m.l - 6}" y="${(y + 4).toFixed(1)}" class="ytick">${t.label}</text>`);
  }
  o.groups.forEach((g, gi) => {
    const n = Math.max(1, g.bars.length);
    const barW = Math.min(48, (groupW - 16) / n);
    const x0 = m.l + gi * groupW + (groupW - barW * n) / 2;
    g.bars.forEach((b, bi) => {
      const x = x0 + bi * barW;
      const y = sy.map(b.value);
      parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 3).toFixed(1)}" height="${(H - m.b - y).toFixed(1)}" fill="${b.color}"><title>${esc(b.name)}: ${Math.round(b.value).toLocaleString('en-US')}${b.note ? ` (${esc(b.note)})` : ''}</title></rect>`);
      parts.push(`<text x="${(x + (barW - 3) / 2).toFixed(1)}" y="${(y - 4).toFixed(1)}" class="barlabel">${fmt(b.value)}</text>`);
    });
    parts.push(`<text x="${(m.l + gi * groupW + groupW / 2).toFixed(1)}" y="${H - m.b + 18}" class="xtick">${esc(g.label)}</text>`);
  });
  parts.push(`<text x="14" y="${(m.t + H - m.b) / 2}" class="ylabel" transform="rotate(-90 14 ${(m.t + H - m.b) / 2})">${esc(o.yLabel)}</text>`);
  parts.push(`<text x="${m.l}" y="18" class="title">${esc(o.title)}</text>`);
  parts.push('</svg>');
  const names = new Map<string, string>();
  for (const g of o.groups) for (const b of g.bars) names.set(b.name, b.color);
  return `<figure class="chart">${parts.join('')}${legend([...names].map(([name, color]) => ({ name, color, points: [] })))}</figure>`;
}

function legend(series: readonly Series[]): string {
  return `<figcaption class="legend">${series
    .map((s) => `<span><i style="background:${s.color}${s.dashed ? ';opacity:.6' : ''}"></i>${esc(s.name)}</span>`)
    .join('')}</figcaption>`;
}

export const CHART_CSS = `
.chart{margin:12px 0;display:inline-block;vertical-align:top}
.chart svg{background:#fff;border:1px solid #e3e3e3;border-radius:4px;max-width:100%;height:auto}
.chart .grid{stroke:#eee}
.chart .rule{stroke:#c0392b;stroke-dasharray:4 3}
.chart text{font:11px system-ui,sans-serif;fill:#444}
.chart .ytick{text-anchor:end}.chart .xtick{text-anchor:middle}
.chart .xlabel{text-anchor:middle;font-size:12px}.chart .ylabel{text-anchor:middle;font-size:12px}
.chart .title{font-size:13px;font-weight:600;fill:#222}
.chart .band{text-anchor:middle;fill:#8a6d00}
.chart .rulelabel{text-anchor:end;fill:#c0392b}
.chart .barlabel{text-anchor:middle;font-size:10px}
.legend{font:12px system-ui,sans-serif;margin-top:4px}
.legend span{margin-right:14px;white-space:nowrap}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px;border-radius:2px}
`;
