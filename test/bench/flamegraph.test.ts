import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monotonicUs, skipBefore, summarizeProfile, type Profile } from '../../bench/lib/cpu-profile.js';
import { buildFlameTree, fitLabel, renderFlameGraph } from '../../bench/report/flamegraph.js';

interface NodeSpec {
  readonly id: number;
  readonly name: string;
  readonly url?: string;
  readonly line?: number;
  readonly children?: readonly number[];
}

/** A .cpuprofile as `node --cpu-prof` writes it; every sample 1 ms after the one before. */
function cpuprofile(nodes: readonly NodeSpec[], samples: readonly number[]): Profile {
  return {
    nodes: nodes.map((n) => ({
      id: n.id,
      callFrame: { functionName: n.name, url: n.url ?? '', lineNumber: n.line ?? -1, columnNumber: n.url ? 4 : -1 },
      ...(n.children ? { children: n.children } : {}),
    })),
    samples,
    timeDeltas: samples.map(() => 1000),
    startTime: 1_000_000,
    endTime: 1_000_000 + samples.length * 1000,
  };
}

interface DrawnFrame {
  readonly name: string;
  readonly tooltip: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly fill: string;
  readonly label: string | undefined;
  readonly inclusive: number;
}

function frames(svg: string): DrawnFrame[] {
  const re = /<g class="fg-frame" data-inclusive="([\d.]+)" data-self="[\d.]+"><title>([^<]*)<\/title><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="\d+" rx="[\d.]+" fill="([^"]+)"\/>(?:<text [^>]*>([^<]*)<\/text>)?<\/g>/g;
  return [...svg.matchAll(re)].map((m) => ({
    inclusive: Number(m[1]),
    tooltip: m[2]!,
    name: m[2]!.split(/ — |\n/)[0]!,
    x: Number(m[3]),
    y: Number(m[4]),
    width: Number(m[5]),
    fill: m[6]!,
    label: m[7],
  }));
}

const byName = (all: readonly DrawnFrame[], name: string): DrawnFrame => {
  const found = all.filter((f) => f.name === name);
  assert.equal(found.length, 1, `one frame named ${name}, got ${found.length}`);
  return found[0]!;
};

describe('flame graph of a .cpuprofile', () => {
  // (root) ─┬─ handle (src/http/server.js:10) ─── load (src/store/redis.js:20)
  //         ├─ handle again: another V8 node for the same frame, merged with the first
  //         ├─ (program)
  //         └─ (idle)
  // Busy samples: load ×2, handle (self) ×1, program ×1 → handle = 3 of 4 busy samples. Idle ×4 is left out.
  const nodes: NodeSpec[] = [
    { id: 1, name: '(root)', children: [2, 4, 5, 6] },
    { id: 2, name: 'handle', url: 'file:///app/src/http/server.js', line: 9, children: [3] },
    { id: 3, name: 'load', url: 'file:///app/src/store/redis.js', line: 19 },
    { id: 4, name: 'handle', url: 'file:///app/src/http/server.js', line: 9 },
    { id: 5, name: '(program)' },
    { id: 6, name: '(idle)' },
  ];
  const profile = cpuprofile(nodes, [6, 3, 6, 4, 6, 3, 5, 6]);
  const { svg, frames: count, busyMs, idlePercent } = renderFlameGraph(profile, { width: 1000, title: 'test <graph>' });
  const drawn = frames(svg);

  test('draws one rectangle per merged frame, (idle) left out', () => {
    assert.equal(count, 4);
    assert.deepEqual(drawn.map((f) => f.name).sort(), ['(program)', '(root)', 'handle', 'load']);
    assert.equal(busyMs, 4);
    assert.equal(idlePercent, 50);
    assert.match(svg, /\(idle\) is left out of the total \(it was 50 % of the window\)/);
    assert.match(svg, /Width = inclusive time as % of the busy time: 4 ms over 4 samples\./);
  });

  test('the root spans the whole width: 100 %', () => {
    const root = byName(drawn, '(root)');
    assert.equal(root.x, 10);
    assert.equal(root.width, 980); // 1000 px less 10 px margins on each side
    assert.equal(root.inclusive, 100);
  });

  test('a child with 3 of 4 busy samples gets 75 % of the width, and sits on its parent', () => {
    const root = byName(drawn, '(root)');
    const handle = byName(drawn, 'handle');
    assert.equal(handle.inclusive, 75);
    assert.equal(handle.width, 735);
    assert.equal(handle.x, 10); // widest child first
    assert.equal(handle.y, root.y - 17);
    const load = byName(drawn, 'load');
    assert.equal(load.width, 490);
    assert.equal(load.y, handle.y - 17);
    const program = byName(drawn, '(program)');
    assert.equal(program.width, 245);
    assert.equal(program.x, 745);
  });

  test('tooltips give function, file:line, inclusive and self %', () => {
    assert.equal(byName(drawn, 'handle').tooltip, 'handle — src/http/server.js:10\ninclusive 75 % (3.0 ms), self 25 % (1.0 ms)\narea: src/http');
    assert.equal(byName(drawn, 'load').tooltip, 'load — src/store/redis.js:20\ninclusive 50 % (2.0 ms), self 50 % (2.0 ms)\narea: src/store');
    assert.equal(byName(drawn, '(root)').tooltip, '(root)\ninclusive 100 % (4.0 ms), self 0 % (0.0 ms)\narea: root');
  });

  test('labels name the frames; colours follow the area, (program) grey', () => {
    assert.equal(byName(drawn, 'handle').label, 'handle');
    assert.equal(byName(drawn, 'load').label, 'load');
    assert.equal(byName(drawn, '(program)').fill, '#d4d4d4');
    assert.match(byName(drawn, 'handle').fill, /^hsl\((35\d|36\d) /); // src/http: reds
    assert.match(byName(drawn, 'load').fill, /^hsl\((2\d|3\d) /); // src/store: oranges
    assert.match(svg, /<text x="10" y="20" class="fg-title">test &lt;graph&gt;<\/text>/);
  });

  test('frames under 0.1 % are dropped, with their callees; wider ones stay, unlabelled when too narrow', () => {
    // 2000 busy samples: busy ×1996 (self), rare ×3 (0.15 %), tiny ×1 (0.05 %) calling deeper.
    const big = cpuprofile(
      [
        { id: 1, name: '(root)', children: [2] },
        { id: 2, name: 'busy', url: 'file:///app/src/domain/merge.js', line: 1, children: [3, 4] },
        { id: 3, name: 'rare', url: 'file:///app/node_modules/pkg/index.js', line: 1 },
        { id: 4, name: 'tiny', url: 'file:///app/node_modules/pkg/index.js', line: 5, children: [5] },
        { id: 5, name: 'deeper', url: '' },
      ],
      [...Array.from({ length: 1996 }, () => 2), 3, 3, 3, 5],
    );
    const all = frames(renderFlameGraph(big, { width: 1000 }).svg);
    assert.deepEqual(all.map((f) => f.name), ['(root)', 'busy', 'rare']);
    const rare = byName(all, 'rare');
    assert.equal(rare.inclusive, 0.15);
    assert.equal(rare.width, 1.47);
    assert.equal(rare.label, undefined);
    assert.match(rare.tooltip, /^rare — node_modules\/pkg\/index\.js:2\ninclusive 0\.15 %/);
    // The threshold is an option.
    assert.deepEqual(frames(renderFlameGraph(big, { width: 1000, minPercent: 0.01 }).svg).map((f) => f.name), ['(root)', 'busy', 'rare', 'tiny', 'deeper']);
  });

  test('skipMs leaves out the start of the profile', () => {
    const tree = buildFlameTree(profile, 4.5); // drops the first four samples (idle, load, idle, handle)
    assert.equal(tree.busyUs, 2000);
    assert.equal(tree.samples, 2);
    assert.equal(tree.root.children.find((c) => c.name === 'handle')?.total, 1000);
  });

  test('labels are cut to fit, or left out', () => {
    assert.equal(fitLabel('handle', 200), 'handle');
    assert.equal(fitLabel('processTicksAndRejections', 60), 'process…'); // (60 − 6) / 6.6 → 8 characters
    assert.equal(fitLabel('handle', 20), '');
  });
});

describe('the measured window of a profiled process', () => {
  test('skipBefore drops what the process ran before a moment read by another process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-cpuprof-'));
    try {
      // The child sleeps, then spins; the moment it starts spinning is taken here, in the parent,
      // when the child says so — as the bench takes the start of its measured window. The spin is
      // long enough that a parent late to hear it (a loaded machine) still starts inside it.
      const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '-e', `
        setTimeout(() => {
          process.stdout.write('spin\\n');
          const until = Date.now() + 1000;
          while (Date.now() < until);
        }, 1500);`], { stdio: ['ignore', 'pipe', 'inherit'] });
      let spinFromUs = 0;
      child.stdout.once('data', () => (spinFromUs = monotonicUs()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 0);
      const file = join(dir, readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!);
      const skipMs = skipBefore(file, spinFromUs);
      assert.ok(skipMs >= 1400, `the sleep comes before the window: skipped ${skipMs} ms`);
      const whole = summarizeProfile(file);
      const window = summarizeProfile(file, 15, skipMs);
      assert.ok(whole.idlePercent > 40, `the whole profile is mostly the sleep: ${whole.idlePercent} % idle`);
      assert.ok(window.idlePercent < 25, `the window is the spin: ${window.idlePercent} % idle`);
      assert.ok(window.totalMs < whole.totalMs - 1200, `${window.totalMs} ms of ${whole.totalMs}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
