/** The report's tables, built once from the results and rendered as Markdown and HTML. */
import { fmtInt, fmtMs } from '../lib/progress.js';
import { MIX_LABEL, type MixName } from '../load/workload.js';
import { TARGET_LABEL, TRACED_TARGETS, type TargetId } from '../targets/target.js';
import { ASSUMPTIONS, capacityInputs, capacityModel } from './capacity.js';
import type { BenchResults, OpenLoopRecord, ProfileRecord } from './results.js';

export interface Table {
  readonly id: string;
  readonly title: string;
  readonly intro?: string;
  readonly head: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
}

const label = (id: TargetId): string => TARGET_LABEL[id];
const pct = (x: number | null | undefined): string => (x === null || x === undefined ? '–' : `${Math.round(x)} %`);
const gcCell = (gc: OpenLoopRecord['gc']): string =>
  gc ? `${gc.majorCount} (${gc.majorOver100ms}) / ${fmtInt(gc.majorMs)} ms, ${fmtInt(gc.heapUsedMiB)} MiB` : '–';

/** Other work on the machine above this (% of one core) makes a measurement suspect: marked ⚠. */
const CONTENDED = 50;
const cpuCell = (cpu: OpenLoopRecord['cpu']): string =>
  cpu
    ? `${pct(cpu.perRole['server'])} / ${pct(cpu.perRole['store'])} / ${pct(cpu.perRole['load generator (wrk)'] ?? cpu.generatorSelf)} / ${pct(cpu.other)}${(cpu.other ?? 0) > CONTENDED ? ' ⚠' : ''}`
    : '–';

export const CPU_NOTE =
  'CPU columns: server / store / load generator / everything else on the machine, each in % of one core (this machine has %CORES% cores, so 100 % = one full core). "Everything else" is other work sharing the machine during the phase; ⚠ marks phases where it took over half a core, whose figures are suspect.';

export function buildTables(r: BenchResults): Table[] {
  const tables: Table[] = [];
  const targets = r.targets.filter((t) => t.status === 'ok').map((t) => t.id);
  const cpuNote = CPU_NOTE.replace('%CORES%', String(r.environment.cpus));

  tables.push({
    id: 'checks',
    title: 'Goals of issue 5',
    head: ['check', 'measured', 'goal', ''],
    rows: r.checks.map((c) => [c.name, `${c.unit === '×' ? `${c.value}×` : `${c.value}${c.unit ? ` ${c.unit}` : ''}`}`, c.goal, c.met ? '✅ met' : '❌ missed']),
  });

  const mixes: MixName[] = ['reads', 'read-heavy', 'mutations', 'login'];
  tables.push({
    id: 'peaks',
    title: 'Closed-loop peak throughput (successful req/s)',
    intro: `wrk, ${r.settings.closedLoopConnections} connections, 1 thread; ${r.mode === 'quick' ? 'short' : `${(r.settings.profile as { peakS: number }).peakS} s`} per cell after a warm-up. ⚠: other work took over half a core during the cell. Mixes: ${mixes.map((m) => `**${m}** = ${MIX_LABEL[m]}`).join('; ')}.`,
    head: ['target', ...mixes, 'CPU during reads (server / store / wrk / other)'],
    rows: targets.map((t) => {
      const reads = r.peaks.find((p) => p.target === t && p.mix === 'reads');
      return [
        label(t),
        ...mixes.map((m) => {
          const p = r.peaks.find((x) => x.target === t && x.mix === m);
          return p ? `${fmtInt(p.rps)}${p.errors ? ` (${fmtInt(p.errors)} err)` : ''}${(p.cpu?.other ?? 0) > CONTENDED ? ' ⚠' : ''}` : '–';
        }),
        cpuCell(reads?.cpu ?? null),
      ];
    }),
  });

  tables.push({
    id: 'cost',
    title: 'CPU time per request at peak (µs of one core) — the per-core figures',
    intro:
      'Server and store CPU (from /proc) divided by the successful requests in the same closed-loop window. Unlike req/s, this barely moves when other work competes for the cores, so it is what the capacity model in docs/PERFORMANCE.md uses (1 core ≈ 1,000,000 / µs requests/s). "× hello" compares the server cost with the Fastify hello-world on the same mix.',
    head: ['target', ...mixes.flatMap((m) => [`${m}: server`, `${m}: store`]), 'reads: server cost × hello', 'mutations: server cost × hello'],
    rows: targets.map((t) => {
      const per = (m: MixName, role: string): number | null => {
        const p = r.peaks.find((x) => x.target === t && x.mix === m);
        const cpu = p?.cpu?.perRole[role];
        return p && cpu !== undefined && p.rps > 0 ? (cpu / 100) * (1e6 / p.rps) : null;
      };
      const times = (m: MixName): string => {
        const mine = per(m, 'server');
        const hello = r.peaks.find((x) => x.target === 'fastify-hello' && x.mix === m);
        const base = hello?.cpu?.perRole['server'] !== undefined && hello.rps > 0 ? (hello.cpu.perRole['server']! / 100) * (1e6 / hello.rps) : null;
        return mine !== null && base ? `${(mine / base).toFixed(1)}×` : '–';
      };
      const us = (v: number | null): string => (v === null ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
      return [label(t), ...mixes.flatMap((m) => [us(per(m, 'server')), us(per(m, 'store'))]), times('reads'), times('mutations')];
    }),
  });

  const withCommands = r.peaks.filter((p) => p.storeCommands && p.storeCommands.length > 0 && (p.mix === 'reads' || p.mix === 'mutations' || p.mix === 'login'));
  if (withCommands.length > 0) {
    tables.push({
      id: 'redis-commands',
      title: 'Inside Redis: execution time per API request (INFO commandstats)',
      intro:
        'Time Redis spent executing commands (socket I/O and parsing excluded), per API request of the measured closed-loop run. Commands a Lua script runs are counted inside the script’s time and also on their own line, so the total counts scripts plus commands sent directly. Redis runs one command at a time per shard: this bounds what one shard can serve.',
      head: ['target', 'mix', 'Redis µs / API request', 'Redis calls / API request (incl. inside scripts)', 'top commands (µs per call)'],
      rows: withCommands.map((p) => {
        const stats = p.storeCommands!.filter((c) => !c.command.startsWith('config'));
        const scripts = stats.filter((c) => /^(evalsha|eval|fcall|evalsha_ro|eval_ro|fcall_ro)$/.test(c.command));
        const direct = scripts.length > 0 ? scripts : stats;
        const usec = direct.reduce((a, c) => a + c.usec, 0);
        const calls = stats.reduce((a, c) => a + c.calls, 0);
        const requests = Math.max(1, p.requests);
        return [
          label(p.target),
          p.mix,
          (usec / requests).toFixed(1),
          (calls / requests).toFixed(2),
          stats.slice(0, 4).map((c) => `${c.command} ${(c.usec / Math.max(1, c.calls)).toFixed(1)}`).join(', '),
        ];
      }),
    });
  }

  const ratioTargets = (['tessera-redis', 'tessera-cluster', 'tessera-sqlite'] as const).filter((t) => r.ratios.some((x) => x.numerator === t));
  tables.push({
    id: 'ratios',
    title: 'Ratios (same run, same workload, same machine)',
    intro: 'Tessera throughput divided by the baseline throughput for the same mix. Goals (issue 5, Tessera on Redis): reads ≥ 0.7× hello-world and ≥ 5× express-session; mutations ≥ 0.5× hello-world.',
    head: ['Tessera engine', ...mixes.flatMap((m) => [`${m} ÷ hello`, `${m} ÷ express`])],
    rows: ratioTargets.map((t) => [
      label(t),
      ...mixes.flatMap((m) =>
        (['fastify-hello', 'express-session'] as const).map((d) => {
          const x = r.ratios.find((q) => q.numerator === t && q.denominator === d && q.mix === m);
          if (!x) return '–';
          const mark = x.goal === undefined ? '' : x.value >= x.goal ? ' ✅' : ` ❌ (goal ${x.goal})`;
          return `${x.value.toFixed(2)}×${mark}`;
        }),
      ),
    ]),
  });

  const traced = targets.filter((t) => TRACED_TARGETS[t] !== undefined && targets.includes(TRACED_TARGETS[t]!));
  if (traced.length > 0) {
    const serverUs = (t: TargetId, m: MixName): number | null => {
      const p = r.peaks.find((x) => x.target === t && x.mix === m);
      const cpu = p?.cpu?.perRole['server'];
      return p && cpu !== undefined && p.rps > 0 ? (cpu / 100) * (1e6 / p.rps) : null;
    };
    tables.push({
      id: 'tracing',
      title: 'Cost of tracing (on at 1 % sampling ÷ off, same engine, same run)',
      intro:
        'Peak req/s of the traced target divided by that of the same engine untraced (1.00 = no cost), and the server CPU per request of each (µs of one core, traced / untraced). Tracing off is the untraced target itself: no SDK is loaded and no hook is registered.',
      head: ['target', ...mixes.map((m) => `${m}: req/s ratio`), ...mixes.map((m) => `${m}: server µs traced / off`)],
      rows: traced.map((t) => {
        const off = TRACED_TARGETS[t]!;
        return [
          label(t),
          ...mixes.map((m) => {
            const on = r.peaks.find((x) => x.target === t && x.mix === m);
            const base = r.peaks.find((x) => x.target === off && x.mix === m);
            return on && base && base.rps > 0 ? `${(on.rps / base.rps).toFixed(2)}×` : '–';
          }),
          ...mixes.map((m) => {
            const on = serverUs(t, m);
            const base = serverUs(off, m);
            return on !== null && base !== null ? `${on.toFixed(0)} / ${base.toFixed(0)}` : '–';
          }),
        ];
      }),
    });
  }

  const floorPeak = (m: MixName) => r.peaks.find((p) => p.target === 'redis-floor' && p.mix === m);
  const helloPeak = (m: MixName) => r.peaks.find((p) => p.target === 'fastify-hello' && p.mix === m);
  if (floorPeak('reads')) {
    tables.push({
      id: 'floor',
      title: 'Against the floor of a Redis-backed service',
      intro:
        'The floor is Fastify plus one Redis command per request (a read GETs a pre-rendered JSON string and sends it unparsed; a write is one HSET): the least any Redis-backed session service does. Its own ratio to the hello-world bounds what a Redis round trip per request allows.',
      head: ['throughput ratio', ...mixes],
      rows: [
        ...targets
          .filter((t) => t !== 'redis-floor' && t !== 'fastify-hello')
          .map((t) => [
            `${label(t)} ÷ floor`,
            ...mixes.map((m) => {
              const a = r.peaks.find((p) => p.target === t && p.mix === m);
              const f = floorPeak(m);
              return a && f && f.rps > 0 ? `${(a.rps / f.rps).toFixed(2)}×` : '–';
            }),
          ]),
        [
          'floor ÷ Fastify hello-world',
          ...mixes.map((m) => {
            const f = floorPeak(m);
            const h = helloPeak(m);
            return f && h && h.rps > 0 ? `${(f.rps / h.rps).toFixed(2)}×` : '–';
          }),
        ],
      ],
    });
  }

  const levels = r.openLoop.filter((l) => l.mix === 'read-heavy' && l.fraction !== null);
  tables.push({
    id: 'latency',
    title: 'Open-loop latency, read-heavy mix, at fractions of each target’s own peak',
    intro: `Fixed arrival rate; latency measured from each request’s intended send time (no coordinated omission), HdrHistogram. ${r.settings.openLoopWorkers} generator threads, ${r.settings.openLoopConnections} connections. "gen lag p99" is how late the generator itself sent (it is included in the latencies). "server µs/request" is the server's CPU per request at that load: higher than at the closed-loop peak, where requests share system calls and event-loop turns. ${cpuNote}`,
    head: ['target', 'load', 'offered/s', 'done/s', 'p50', 'p90', 'p99', 'p99.9', 'max', 'read p99', 'write p99', 'errors', 'gen lag p99', 'CPU', 'server µs/request', 'server GC: major (>100 ms) / ms, heap'],
    rows: targets.flatMap((t) =>
      levels
        .filter((l) => l.target === t)
        .map((l) => [
          label(t),
          l.label,
          fmtInt(l.offeredRate),
          fmtInt(l.achievedRate),
          fmtMs(l.latency.p50),
          fmtMs(l.latency.p90),
          fmtMs(l.latency.p99),
          fmtMs(l.latency.p999),
          fmtMs(l.latency.max),
          l.byClass.read ? fmtMs(l.byClass.read.p99) : '–',
          l.byClass.write ? fmtMs(l.byClass.write.p99) : '–',
          l.errors ? `${fmtInt(l.errors)} (${Object.entries(l.errorsByKind).map(([k, v]) => `${k}: ${v}`).join(', ')})` : '0',
          fmtMs(l.lag.p99),
          cpuCell(l.cpu),
          l.cpu?.perRole['server'] !== undefined && l.achievedRate > 0 ? fmtInt((l.cpu.perRole['server'] / 100) * (1e6 / l.achievedRate)) : '–',
          gcCell(l.gc),
        ]),
    ),
  });

  const waited = r.openLoop.filter((l) => l.waits !== undefined && l.mix !== 'login');
  if (waited.length > 0) {
    const share = (x: number | null): string => (x === null ? '–' : `${(x * 100).toFixed(2)} %`);
    tables.push({
      id: 'waits',
      title: `Where the slow requests waited: share of requests over ${waited[0]!.waits!.slowMs} ms on each side of the socket`,
      intro: `"seen by the generator": from each request's intended send time to its last byte read. "timed by Tessera": from Fastify's parsed request to the reply sent (its request-duration histogram, every route, the phase's warm-up included). "Redis calls": Tessera's calls to its store, retries included. A share the generator sees but Tessera does not was spent before Tessera's handler or after it: in the sockets, in the kernel's queues, or in a generator or server that did not get a core. "loop delay max": the server's event loop's largest delay during the phase (monitorEventLoopDelay at a 10 ms resolution: Tessera's /metrics, the baselines' probe).`,
      head: ['target', 'load', 'p99', 'seen by the generator', 'timed by Tessera', 'Redis calls', 'loop delay max', 'server GC: major (>100 ms) / ms, heap'],
      rows: waited.map((l) => [
        label(l.target),
        l.label,
        fmtMs(l.latency.p99),
        share(l.waits!.client),
        share(l.waits!.server),
        share(l.waits!.store),
        l.waits!.loopDelayMaxMs === null ? '–' : `${fmtMs(l.waits!.loopDelayMaxMs)} ms`,
        gcCell(l.gc),
      ]),
    });
  }

  const common = r.openLoop.filter((l) => l.label === 'common');
  if (common.length > 0) {
    tables.push({
      id: 'common',
      title: `Same offered load for everyone: ${fmtInt(common[0]!.offeredRate)} req/s (half the slowest target’s peak)`,
      head: ['target', 'p50', 'p90', 'p99', 'p99.9', 'read p99', 'write p99', 'errors', 'CPU', 'server GC: major (>100 ms) / ms, heap'],
      rows: common.map((l) => [
        label(l.target),
        fmtMs(l.latency.p50),
        fmtMs(l.latency.p90),
        fmtMs(l.latency.p99),
        fmtMs(l.latency.p999),
        l.byClass.read ? fmtMs(l.byClass.read.p99) : '–',
        l.byClass.write ? fmtMs(l.byClass.write.p99) : '–',
        fmtInt(l.errors),
        cpuCell(l.cpu),
        gcCell(l.gc),
      ]),
    });
  }

  const logins = r.openLoop.filter((l) => l.mix === 'login');
  if (logins.length > 0) {
    tables.push({
      id: 'login',
      title: 'Login burst (open loop, new users signing in at a fixed rate)',
      head: ['target', 'rate/s', 'p50', 'p90', 'p99', 'p99.9', 'errors', 'CPU', 'server GC: major (>100 ms) / ms, heap'],
      rows: logins.map((l) => [label(l.target), `${fmtInt(l.offeredRate)} (${pct((l.fraction ?? 0) * 100)} of peak)`, fmtMs(l.latency.p50), fmtMs(l.latency.p90), fmtMs(l.latency.p99), fmtMs(l.latency.p999), fmtInt(l.errors), cpuCell(l.cpu), gcCell(l.gc)]),
    });
  }

  if (r.steps.length > 0) {
    const s0 = r.steps[0]!;
    tables.push({
      id: 'step',
      title: `Black-Friday step: read-heavy mix at ${pct(((r.settings.profile as { step: { baseFraction: number } }).step.baseFraction) * 100)} of peak, ×10 for ${s0.spikeS} s, then back`,
      intro: `${s0.beforeS} s before, ${s0.spikeS} s spike, ${s0.afterS} s after; open loop. Recovery: seconds after the spike until a 1-s window’s p99 is back under 2× the before-spike p99.`,
      head: ['target', 'rate before → during', 'p99 before', 'p99 during', 'p99.9 during', 'p99 after', 'recovery', 'errors (before / during / after)', 'CPU', 'server GC: major (>100 ms) / ms, heap'],
      rows: r.steps.map((s) => [
        label(s.target),
        `${fmtInt(s.baseRate)} → ${fmtInt(s.spikeRate)}`,
        `${fmtMs(s.before.latency.p99)} ms`,
        `${fmtMs(s.during.latency.p99)} ms`,
        `${fmtMs(s.during.latency.p999)} ms`,
        `${fmtMs(s.after.latency.p99)} ms`,
        s.recoveryS === null ? 'not within the run' : `${s.recoveryS} s`,
        `${s.before.errors} / ${s.during.errors} / ${s.after.errors}`,
        cpuCell(s.cpu),
        gcCell(s.gc),
      ]),
    });
  }

  tables.push({
    id: 'data',
    title: 'Data set and store footprint',
    intro: `Sessions of 2–8 KiB in the public JSON shape (cart 1–20 lines with storefront attributes, preferences, up to 100 viewed products, 1–3 devices), seeded through each target’s API; popularity Zipf(s = ${r.settings.zipfS}) — the hottest session gets ${pct(r.settings.hottestShare * 100)} of session requests.`,
    head: ['target', 'sessions', 'seeded by', 'mean JSON size', 'store footprint', 'bytes / session in the store'],
    rows: r.targets
      .filter((t) => t.seed)
      .map((t) => {
        const s = t.seed!;
        return [
          label(t.id),
          fmtInt(s.sessions),
          s.fromSnapshot ? 'snapshot of an earlier API seeding' : s.requests > 0 ? `${fmtInt(s.requests)} API requests in ${(s.elapsedMs / 1000).toFixed(0)} s (${fmtInt(s.requests / Math.max(0.001, s.elapsedMs / 1000))}/s)` : '–',
          s.meanSessionBytes ? `${fmtInt(s.meanSessionBytes)} B` : '–',
          s.footprintBytes === null ? '–' : `${(s.footprintBytes / 2 ** 20).toFixed(1)} MiB (${s.footprintWhat})`,
          s.bytesPerSession === null ? '–' : `${fmtInt(s.bytesPerSession)} B`,
        ];
      }),
  });

  const inputs = capacityInputs(r);
  if (inputs) {
    const c = capacityModel(inputs);
    const a = ASSUMPTIONS;
    const gib = (b: number): string => `${(b / 2 ** 40).toFixed(1)} TiB`;
    tables.push({
      id: 'capacity',
      title: 'Capacity model for 500 M sessions, 1 M req/s peak (from this run’s per-core figures)',
      intro:
        `Inputs (Tessera · Redis, ${inputs.source}): API ${inputs.apiUs.reads.toFixed(0)} / ${inputs.apiUs.mutations.toFixed(0)} / ${inputs.apiUs.logins.toFixed(0)} µs of CPU per read / mutation / sign-in; ` +
        `Redis ${inputs.redisUs.reads.toFixed(0)} / ${inputs.redisUs.mutations.toFixed(0)} / ${inputs.redisUs.logins.toFixed(0)} µs; ${fmtInt(inputs.bytesPerSession)} B per session in Redis. ` +
        `Mix ${a.mix.reads * 100} % reads, ${a.mix.mutations * 100} % mutations, ${a.mix.logins * 100} % sign-ins → ${c.apiUsPerRequest} µs API and ${c.redisUsPerRequest} µs Redis per request; one API core serves ${fmtInt(c.perCoreRps)} req/s at 100 %. ` +
        `Assumptions: ${a.regions} regions with ${a.regionShares.map((x) => `${x * 100} %`).join(' / ')} of the traffic, each holding every session (global mode) and applying the others’ writes; ` +
        `API at ≤ ${a.apiUtilisation * 100} % CPU at peak, ≤ ${a.apiUtilisationDegraded * 100} % with the worst region lost, ${a.apiOverhead * 100} % of each core kept for TLS/agents; ` +
        `Redis main thread ≤ ${a.redisUtilisation * 100} %, ≤ ${a.redisDataPerMasterBytes / 2 ** 30} GiB of data per master, ${a.redisCopies} copies per shard, memory filled to ≤ ${a.redisMemoryFill * 100} %. ` +
        `Normal load (${fmtInt(a.normalRps)} req/s) needs ${fmtInt(c.totals.normalApiCores)} API cores in all.`,
      head: ['region', 'peak req/s (worst region lost)', 'API cores', 'Redis ops/s incl. applied remote writes', 'masters for CPU', 'masters for memory', 'Redis nodes (masters + replicas)', 'Redis memory'],
      rows: [
        ...c.regions.map((x, i) => [
          `region ${i + 1} (${x.share * 100} %)`,
          `${fmtInt(x.peakRps)} (${fmtInt(x.degradedRps)})`,
          fmtInt(x.apiCores),
          fmtInt(x.redisOpsPerS),
          fmtInt(x.mastersForCpu),
          fmtInt(x.mastersForMemory),
          fmtInt(x.redisNodes),
          gib(x.redisMemoryBytes),
        ]),
        ['all regions', fmtInt(a.peakRps), fmtInt(c.totals.apiCores), '', '', '', fmtInt(c.totals.redisNodes), gib(c.totals.redisMemoryBytes)],
      ],
    });
  }

  const failed = r.targets.filter((t) => t.status === 'failed');
  if (failed.length > 0) {
    tables.push({ id: 'failed', title: 'Targets that failed', head: ['target', 'error'], rows: failed.map((t) => [label(t.id), (t.error ?? '').split('\n')[0]!]) });
  }

  for (const p of r.profiles) {
    const rows = Math.max(p.areas.length, p.functions.length, p.inclusive.length);
    tables.push({
      id: profileTableId(p),
      title: `CPU profile: ${label(p.target)}, closed-loop ${p.mix}`,
      intro: `\`node --cpu-prof\` over the measured window only (${p.file}); % of the server's busy time (idle ${p.idlePercent} %). Self time by area and by function, and Tessera's own functions by inclusive time (synchronous part only: async continuations start new stacks).`,
      head: ['area (self)', '%', 'function (self)', '%', 'src/ function (inclusive)', '%'],
      rows: Array.from({ length: rows }, (_, i) => {
        const a = p.areas[i];
        const f = p.functions[i];
        const c = p.inclusive[i];
        return [a?.area ?? '', a ? `${a.percent}` : '', f ? `${f.name} ${f.where}` : '', f ? `${f.percent}` : '', c ? `${c.name} ${c.where}` : '', c ? `${c.percent}` : ''];
      }),
    });
  }
  return tables;
}

export const profileTableId = (p: ProfileRecord): string => `profile-${p.target}-${p.mix}`;

/**
 * The flame graph's path relative to the Markdown and HTML reports: they and the
 * profiles-<timestamp>/ folder are written side by side in the results folder.
 */
export function flameGraphHref(p: ProfileRecord): string | undefined {
  if (!p.flamegraph) return undefined;
  const path = p.flamegraph.replace(/\\/g, '/');
  return /(?:^|\/)(profiles-[^/]+\/[^/]+\/[^/]+)$/.exec(path)?.[1] ?? path;
}

export function environmentLines(r: BenchResults): string[] {
  const e = r.environment;
  return [
    `Command: \`${r.command}\` (${r.mode} run), ${r.startedAt.replace('T', ' ').replace(/\..*/, '')} UTC → ${r.finishedAt.replace(/.*T/, '').replace(/\..*/, '')}`,
    `Machine: ${e.cpus} × ${e.cpuModel}, ${e.memoryGiB} GiB, ${e.os}; Node ${e.node}; Redis ${e.redis}; ${e.wrk ?? 'autocannon (wrk not installed)'}`,
    `Tessera: ${e.tesseraCommand} at commit ${e.gitCommit}${e.gitDirty ? ' (src/ had uncommitted changes)' : ''}`,
    `Redis (every Redis-backed target): ${e.redisSettings ?? 'harness defaults'}`,
    `Servers, Redis and the load generator all share these ${e.cpus} cores (load average ${e.loadAverageAtStart} at the start: other work was running too). Absolute numbers drift up to 2× between runs; compare the ratios.`,
  ];
}
