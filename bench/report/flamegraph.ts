/**
 * A classic flame graph (root at the bottom, width = inclusive time) of a V8
 * `.cpuprofile`, as one self-contained SVG: no scripts, no fonts to fetch, a
 * <title> tooltip per frame. Frames with the same path from the root are merged;
 * siblings are sorted widest first; frames under `minPercent` of the busy time
 * are dropped (with everything above them); colours follow `areaOf` (Tessera's
 * src/ folders, node_modules packages, Node internals, native, GC).
 *
 * `(idle)` samples are left out of the total, so widths are shares of the
 * server's busy time, as in the profile tables; `(program)` (V8 outside
 * JavaScript) stays in, greyed.
 *
 * Used by bench/run.ts (`--profile`) and by `npm run flamegraph -- <file.cpuprofile>`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { areaOf, trimStart, type Profile, type ProfileNode } from '../lib/cpu-profile.js';

export interface FlameGraphOptions {
  readonly title?: string;
  /** Ignore the first milliseconds of the profile (start-up, warm-up), as summarizeProfile does. */
  readonly skipMs?: number;
  /** Drop frames narrower than this share of the busy time, in percent (default 0.1). */
  readonly minPercent?: number;
  /** Total width of the SVG in px (default 1200). */
  readonly width?: number;
}

export interface FlameFrame {
  readonly name: string;
  /** `src/store/x.js:12`, `node_modules/fastify/lib/route.js:3`, `node:internal/…:7`, or '' for native frames. */
  readonly where: string;
  readonly area: string;
  /** Microseconds of samples with this frame on the stack (inclusive) and on top of it (self). */
  total: number;
  self: number;
  readonly children: FlameFrame[];
}

export interface FlameTree {
  /** `(root)`: total = the busy (non-idle) time. */
  readonly root: FlameFrame;
  readonly busyUs: number;
  readonly idleUs: number;
  /** Busy (non-idle) samples. */
  readonly samples: number;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function whereOf(url: string, lineNumber: number): string {
  if (!url) return '';
  const nm = url.lastIndexOf('/node_modules/');
  const src = url.lastIndexOf('/src/');
  const path = nm >= 0 ? url.slice(nm + 1) : src >= 0 ? url.slice(src + 1) : url.replace(/^file:\/\//, '');
  return `${path}:${lineNumber + 1}`;
}

/** Builds the merged call tree of the profile's busy samples. */
export function buildFlameTree(raw: Profile, skipMs = 0): FlameTree {
  const profile = skipMs > 0 ? trimStart(raw, skipMs) : raw;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Microseconds per node, from the samples (timeDeltas[i] is the time up to sample i, as in summarizeProfile).
  const selfUs = new Map<number, number>();
  let idleUs = 0;
  let samples = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const us = Math.max(0, profile.timeDeltas[i] ?? 0);
    if (byId.get(id)?.callFrame.functionName === '(idle)') {
      idleUs += us;
    } else {
      selfUs.set(id, (selfUs.get(id) ?? 0) + us);
      samples++;
    }
  }
  const frameOf = (n: ProfileNode): FlameFrame => {
    const { functionName, url, lineNumber } = n.callFrame;
    return { name: functionName || '(anonymous)', where: whereOf(url, lineNumber), area: areaOf(url, functionName), total: 0, self: 0, children: [] };
  };
  const rootNode = profile.nodes.find((n) => !parent.has(n.id));
  const root: FlameFrame = rootNode ? { ...frameOf(rootNode), name: '(root)', area: 'root' } : { name: '(root)', where: '', area: 'root', total: 0, self: 0, children: [] };
  // Each profile node's merged frame: the same function at the same place under the same merged parent is one frame.
  const merged = new Map<number, FlameFrame>();
  const keys = new Map<FlameFrame, Map<string, FlameFrame>>();
  const mergedOf = (id: number): FlameFrame => {
    const known = merged.get(id);
    if (known) return known;
    const node = byId.get(id)!;
    const up = parent.get(id);
    if (up === undefined) {
      merged.set(id, root);
      return root;
    }
    const into = mergedOf(up);
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    const key = `${functionName}\u0000${url}\u0000${lineNumber}\u0000${columnNumber ?? -1}`;
    let siblings = keys.get(into);
    if (!siblings) keys.set(into, (siblings = new Map()));
    let frame = siblings.get(key);
    if (!frame) {
      frame = frameOf(node);
      siblings.set(key, frame);
      into.children.push(frame);
    }
    merged.set(id, frame);
    return frame;
  };
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    busyUs += us;
    const top = mergedOf(id);
    top.self += us;
    // Add to every frame on the path; nodes do not repeat on one path, so neither do merged frames.
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) merged.get(at)!.total += us;
  }
  return { root, busyUs, idleUs, samples };
}

interface Paint {
  readonly fill: string;
  readonly text: string;
}

/** Base hue, saturation, lightness of Tessera's own folders. */
const SRC_HSL: Record<string, readonly [number, number, number]> = {
  'src/http': [358, 70, 64],
  'src/store': [28, 85, 60],
  'src/cache': [47, 85, 58],
  'src/service': [112, 40, 58],
  'src/domain': [174, 38, 56],
  'src/tokens': [302, 38, 60],
};

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0) / 2 ** 32;
}

const hsl = (h: number, s: number, l: number): string => `hsl(${Math.round(h)} ${Math.round(s)}% ${Math.round(l)}%)`;

/** The legend's group of an area: each src/ folder on its own, the rest in families. */
export function areaFamily(area: string): string {
  if (area in SRC_HSL) return area;
  if (area.startsWith('src/') || area.startsWith('bench/')) return 'src/ (other)';
  if (area.startsWith('node:')) return 'Node internals (node:)';
  if (area === 'native') return 'native (V8 builtins, C++ bindings)';
  if (area === 'GC') return 'GC';
  if (area === 'V8/native (program)') return '(program)';
  if (area === 'root') return '(root)';
  return 'node_modules (a shade per package)';
}

function paint(frame: FlameFrame): Paint {
  const family = areaFamily(frame.area);
  // A little variation per function, so that neighbours of one area stay apart.
  const j = hash(`${frame.name} ${frame.where}`) - 0.5;
  const base = SRC_HSL[family];
  if (base) return { fill: hsl(base[0] + j * 10, base[1], base[2] + j * 10), text: '#111' };
  switch (family) {
    case 'src/ (other)':
      return { fill: hsl(330 + j * 10, 60, 74 + j * 8), text: '#111' };
    case 'Node internals (node:)':
      return { fill: hsl(40 + j * 8, 22, 76 + j * 8), text: '#111' };
    case 'native (V8 builtins, C++ bindings)':
      return { fill: hsl(272 + j * 8, 24, 80 + j * 8), text: '#111' };
    case 'GC':
      return { fill: hsl(215, 12, 40 + j * 6), text: '#fff' };
    case '(program)':
      return { fill: '#d4d4d4', text: '#555' };
    case '(root)':
      return { fill: '#bdbdbd', text: '#222' };
    default: {
      // node_modules: blues, a hue per package.
      const h = 192 + hash(frame.area) * 32;
      return { fill: hsl(h, 50, 70 + j * 10), text: '#111' };
    }
  }
}

const LEGEND_SWATCH: Record<string, string> = {
  ...Object.fromEntries(Object.entries(SRC_HSL).map(([k, v]) => [k, hsl(v[0], v[1], v[2])])),
  'src/ (other)': hsl(330, 60, 74),
  'node_modules (a shade per package)': hsl(208, 50, 70),
  'Node internals (node:)': hsl(40, 22, 76),
  'native (V8 builtins, C++ bindings)': hsl(272, 24, 80),
  GC: hsl(215, 12, 40),
  '(program)': '#d4d4d4',
};

const FRAME_H = 17;
const FONT_PX = 11;
/** Width of one character of the monospace label font, px (0.6 em, true of the common monospace fonts). */
const CHAR_PX = FONT_PX * 0.6;

const pct = (v: number): string => (v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3)).replace(/\.?0+$/, '') || '0';

/** A label that fits in `px`, truncated with an ellipsis, or '' when not even a few characters fit. */
export function fitLabel(text: string, px: number): string {
  const room = Math.floor((px - 6) / CHAR_PX);
  if (room >= text.length) return text;
  if (room < 4) return '';
  return `${text.slice(0, room - 1)}…`;
}

export interface FlameGraphSummary {
  readonly svg: string;
  readonly frames: number;
  readonly depth: number;
  readonly busyMs: number;
  readonly idlePercent: number;
}

/** Renders the flame graph of a parsed `.cpuprofile`. */
export function renderFlameGraph(profile: Profile, options: FlameGraphOptions = {}): FlameGraphSummary {
  const tree = buildFlameTree(profile, options.skipMs ?? 0);
  const W = options.width ?? 1200;
  const minPercent = options.minPercent ?? 0.1;
  const m = { l: 10, r: 10 };
  const graphW = W - m.l - m.r;
  const total = tree.root.total;
  const minUs = (total * minPercent) / 100;

  // Lay the frames out: x offset in µs from the left, depth from the bottom.
  const placed: Array<{ frame: FlameFrame; x: number; depth: number }> = [];
  const place = (frame: FlameFrame, x: number, depth: number): void => {
    placed.push({ frame, x, depth });
    let at = x;
    for (const child of [...frame.children].sort((a, b) => b.total - a.total || a.name.localeCompare(b.name))) {
      if (child.total < minUs || child.total <= 0) break;
      place(child, at, depth + 1);
      at += child.total;
    }
  };
  if (total > 0) place(tree.root, 0, 0);
  const depth = placed.reduce((d, p) => Math.max(d, p.depth), 0);

  // Self time by legend family, % of busy time.
  const families = new Map<string, number>();
  const addSelf = (f: FlameFrame): void => {
    if (f.self > 0) families.set(areaFamily(f.area), (families.get(areaFamily(f.area)) ?? 0) + f.self);
    for (const c of f.children) addSelf(c);
  };
  addSelf(tree.root);
  const legend = [...families].filter(([k]) => k !== '(root)').sort((a, b) => b[1] - a[1]);

  const busyMs = Math.round(tree.busyUs / 1000);
  const idlePercent = tree.busyUs + tree.idleUs > 0 ? (tree.idleUs / (tree.busyUs + tree.idleUs)) * 100 : 0;
  const title = options.title ?? 'CPU flame graph';
  const caption = [
    `Width = inclusive time as % of the busy time: ${busyMs.toLocaleString('en-US')} ms over ${tree.samples.toLocaleString('en-US')} samples${options.skipMs ? `, after skipping the first ${(options.skipMs / 1000).toFixed(1)} s of the profile` : ''}.`,
    `(idle) is left out of the total (it was ${pct(idlePercent)} % of the window); (program), V8 outside JavaScript, is shown grey. Root at the bottom, callees above callers.`,
    `Same call path = one frame; siblings widest first; frames under ${minPercent} % dropped; labels where they fit. Hover a frame: function, file:line, inclusive and self %.`,
  ];

  // Legend rows: swatches laid out left to right, wrapping.
  let ly = 86;
  const legendItems: string[] = [`<text x="${m.l}" y="${ly}" class="fg-legend">self time:</text>`];
  let lx = m.l + 66;
  for (const [family, us] of legend) {
    const label = `${family} ${pct((us / Math.max(1, total)) * 100)} %`;
    const w = 16 + label.length * 6.4 + 18;
    if (lx + w > W - m.r) {
      lx = m.l;
      ly += 18;
    }
    legendItems.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" rx="2" fill="${LEGEND_SWATCH[family] ?? '#ccc'}"/><text x="${lx + 16}" y="${ly}" class="fg-legend">${esc(label)}</text>`);
    lx += w;
  }
  const top = ly + 16;
  const H = top + (depth + 1) * FRAME_H + 8;
  const xOf = (us: number): number => m.l + (us / Math.max(1, total)) * graphW;

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}" class="fg">`);
  parts.push(
    '<style>.fg text{font-family:system-ui,sans-serif;font-size:12px;fill:#333}.fg .fg-title{font-size:15px;font-weight:600;fill:#222}.fg .fg-legend{font-size:11.5px}' +
      `.fg .fg-frame text{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',monospace;font-size:${FONT_PX}px;pointer-events:none}` +
      '.fg .fg-frame rect{stroke:#fdfdfd;stroke-width:.6}.fg .fg-frame:hover rect{stroke:#000;stroke-width:1}</style>',
  );
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#fdfdfd"/>`);
  parts.push(`<text x="${m.l}" y="20" class="fg-title">${esc(title)}</text>`);
  caption.forEach((line, i) => parts.push(`<text x="${m.l}" y="${38 + i * 15}">${esc(line)}</text>`));
  parts.push(legendItems.join(''));
  if (total <= 0) parts.push(`<text x="${m.l}" y="${top + 14}">no busy samples in the profile</text>`);
  for (const { frame, x, depth: d } of placed) {
    const x1 = xOf(x);
    const w = xOf(x + frame.total) - x1;
    const y = H - 8 - (d + 1) * FRAME_H;
    const p = paint(frame);
    const inclusive = (frame.total / total) * 100;
    const self = (frame.self / total) * 100;
    const label = fitLabel(frame.name, w);
    const tip = `${frame.name}${frame.where ? ` — ${frame.where}` : ''}\ninclusive ${pct(inclusive)} % (${(frame.total / 1000).toFixed(1)} ms), self ${pct(self)} % (${(frame.self / 1000).toFixed(1)} ms)\narea: ${frame.area}`;
    parts.push(
      `<g class="fg-frame" data-inclusive="${inclusive.toFixed(3)}" data-self="${self.toFixed(3)}"><title>${esc(tip)}</title>` +
        `<rect x="${x1.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${FRAME_H - 1}" rx="1.5" fill="${p.fill}"/>` +
        (label ? `<text x="${(x1 + 3).toFixed(2)}" y="${y + FRAME_H - 5}" style="fill:${p.text}">${esc(label)}</text>` : '') +
        '</g>',
    );
  }
  parts.push('</svg>');
  return { svg: `${parts.join('\n')}\n`, frames: placed.length, depth, busyMs, idlePercent };
}

/** Reads `cpuprofile`, writes its flame graph to `svgFile`. */
export function writeFlameGraph(cpuprofile: string, svgFile: string, options: FlameGraphOptions = {}): FlameGraphSummary {
  const profile = JSON.parse(readFileSync(cpuprofile, 'utf8')) as Profile;
  const result = renderFlameGraph(profile, options);
  writeFileSync(svgFile, result.svg);
  return result;
}
