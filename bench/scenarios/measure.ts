/**
 * One measurement each: a closed-loop peak, an open-loop level, the
 * Black-Friday step. Each turns the raw generator output into a result record.
 */
import { shareOverMs, spectrum, summarize, newHistogram, type Histogram, type LatencySummary } from '../lib/histogram.js';
import { bar, fmtInt, fmtMs, type Progress } from '../lib/progress.js';
import { runClosedLoop } from '../load/closed-loop.js';
import { runOpenLoop, type OpenLoopProgress } from '../load/open-loop.js';
import type { MixName, WorkloadConfig } from '../load/workload.js';
import type { GcRecord, OpenLoopRecord, PeakRecord, StepPart, StepRecord, StepWindow, WaitRecord } from '../report/results.js';
import { SLOW_MS, type RuntimeStats, type Target } from '../targets/target.js';
import type { Options } from '../lib/options.js';

export interface RunContext {
  readonly options: Options;
  readonly apiKey: string;
  readonly progress: Progress;
  /** Credentials per target, from seeding. */
  readonly credentials: ReadonlyMap<string, readonly string[]>;
  /** Distinguishes the user ids of one run's logins from another's. */
  readonly runTag: string;
  nextSeed(): number;
}

function workload(ctx: RunContext, target: Target, mix: MixName, tag: string): WorkloadConfig {
  return {
    mix,
    apiKey: ctx.apiKey,
    credentialHeader: target.credentialHeader,
    credentials: ctx.credentials.get(target.id) ?? [],
    zipfS: ctx.options.zipfS,
    popularitySeed: ctx.options.dataSeed,
    loginPrefix: `bench-${ctx.runTag}-${tag}`,
  };
}

/** `onMeasureStart` runs when the warm-up ends and the measured window begins. */
export async function measurePeak(
  ctx: RunContext,
  target: Target,
  mix: MixName,
  warmup = true,
  onMeasureStart?: () => void,
): Promise<PeakRecord> {
  const { profile } = ctx.options;
  const started = Date.now();
  const warmupS = warmup ? profile.peakWarmupS : 0;
  const total = warmupS + profile.peakS;
  const timer = setInterval(() => {
    const s = (Date.now() - started) / 1000;
    ctx.progress.status(`closed-loop ${mix} · ${target.id} ${bar(s / total)} ${s.toFixed(0)}/${total} s${s < warmupS ? ' (warm-up)' : ''}`);
  }, 250);
  try {
    const result = await runClosedLoop({
      onMeasureStart: async () => {
        onMeasureStart?.();
        await target.commandStats?.reset();
      },
      origin: target.origin,
      workload: workload(ctx, target, mix, `peak-${mix}-${target.id}`),
      durationS: profile.peakS,
      warmupS,
      connections: ctx.options.connections,
      threads: 1,
      rngSeed: ctx.nextSeed(),
      pids: target.pids,
      forceAutocannon: ctx.options.forceAutocannon,
    });
    const storeCommands = await target.commandStats?.read();
    return { target: target.id, mix, connections: ctx.options.connections, ...result, ...(storeCommands ? { storeCommands: storeCommands.slice(0, 8) } : {}) };
  } finally {
    clearInterval(timer);
  }
}

function showOpenLoop(ctx: RunContext, title: string, p: OpenLoopProgress): void {
  const warm = p.elapsedMs < 0;
  const s = Math.max(0, p.elapsedMs) / 1000;
  ctx.progress.status(
    `${title} ${bar(s / (p.totalMs / 1000))} ${warm ? 'warm-up' : `${s.toFixed(0)}/${(p.totalMs / 1000).toFixed(0)} s`} · sent ${fmtInt(p.sent)} · in flight ${fmtInt(p.inFlight)} · p99 ${fmtMs(p.recentP99Ms)} ms · errors ${fmtInt(p.errors)}`,
  );
}

export async function measureLevel(
  ctx: RunContext,
  target: Target,
  mix: MixName,
  rate: number,
  fraction: number | null,
  label: string,
): Promise<OpenLoopRecord> {
  const { profile } = ctx.options;
  const durationS = mix === 'login' ? profile.loginS : profile.levelS;
  const title = `open-loop ${mix} ${label} · ${target.id} @ ${fmtInt(rate)}/s`;
  const { result, gc, runtime, loopDelayMs } = await withServerStats(target, () => runOpenLoop({
    origin: target.origin,
    steps: [{ durationMs: durationS * 1000, rate }],
    warmupMs: profile.levelWarmupS * 1000,
    workload: workload(ctx, target, mix, `level-${label}-${target.id}`),
    workers: ctx.options.workers,
    connections: ctx.options.workerConnections,
    rngSeed: ctx.nextSeed(),
    pids: target.pids,
    onProgress: (p) => showOpenLoop(ctx, title, p),
  }));
  const byClass: OpenLoopRecord['byClass'] = {};
  for (const [cls, h] of Object.entries(result.byClass)) byClass[cls as 'read' | 'write' | 'login'] = summarize(h);
  return {
    target: target.id,
    mix,
    fraction,
    label,
    offeredRate: Math.round(result.offeredRate),
    achievedRate: Math.round(result.achievedRate),
    sent: result.sent,
    errors: result.errors,
    errorsByKind: result.errorsByKind,
    latency: summarize(result.total),
    byClass,
    lag: summarize(result.lag),
    spectrum: spectrum(result.total),
    cpu: result.cpu,
    generatorElu: Math.round(result.generatorElu * 1000) / 1000,
    ...(gc ? { gc } : {}),
    waits: waitsOf(result.total, runtime, loopDelayMs ?? null),
  };
}

/** Shares of slow requests on each side of the socket, and of slow store calls, over one phase. */
function waitsOf(total: Histogram, runtime: { before: RuntimeStats; after: RuntimeStats } | undefined, loopDelayMs: number | null): WaitRecord {
  const share = (a: { count: number; slow: number }, b: { count: number; slow: number }): number | null =>
    b.count > a.count ? (b.slow - a.slow) / (b.count - a.count) : null;
  const client = shareOverMs(total, SLOW_MS);
  if (runtime === undefined) return { slowMs: SLOW_MS, client, server: null, store: null, loopDelayMaxMs: loopDelayMs === null ? null : round1(loopDelayMs) };
  const { before, after } = runtime;
  return {
    slowMs: SLOW_MS,
    client,
    server: share(before.requests, after.requests),
    store: share(before.storeCalls, after.storeCalls),
    loopDelayMaxMs: round1(after.loopDelayMaxSeconds * 1000),
  };
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

export async function measureStep(ctx: RunContext, target: Target, peakRps: number): Promise<StepRecord> {
  const { step } = ctx.options.profile;
  const baseRate = Math.max(20, Math.round(peakRps * step.baseFraction));
  const spikeRate = baseRate * step.factor;
  const title = `Black-Friday step · ${target.id} ${fmtInt(baseRate)} → ${fmtInt(spikeRate)}/s`;
  const { result, gc } = await withServerStats(target, () => runOpenLoop({
    origin: target.origin,
    steps: [
      { durationMs: step.beforeS * 1000, rate: baseRate },
      { durationMs: step.spikeS * 1000, rate: spikeRate },
      { durationMs: step.afterS * 1000, rate: baseRate },
    ],
    warmupMs: ctx.options.profile.levelWarmupS * 1000,
    windowMs: 1000,
    workload: workload(ctx, target, 'read-heavy', `step-${target.id}`),
    workers: ctx.options.workers,
    connections: ctx.options.workerConnections,
    rngSeed: ctx.nextSeed(),
    pids: target.pids,
    onProgress: (p) => showOpenLoop(ctx, title, p),
  }));
  const spikeFrom = step.beforeS;
  const spikeTo = step.beforeS + step.spikeS;
  const windows: StepWindow[] = result.windows.map((w) => {
    const s = summarize(w.histogram);
    const startS = w.startMs / 1000;
    return {
      startS,
      offeredRate: startS >= spikeFrom && startS < spikeTo ? spikeRate : baseRate,
      completed: s.count,
      errors: w.errors,
      p50: s.p50,
      p99: s.p99,
      p999: s.p999,
      max: s.max,
    };
  });
  const part = (from: number, to: number): StepPart => {
    const h = newHistogram();
    let errors = 0;
    for (const w of result.windows) {
      const startS = w.startMs / 1000;
      if (startS >= from && startS < to) {
        h.add(w.histogram);
        errors += w.errors;
      }
    }
    return { latency: summarize(h), errors };
  };
  const before = part(0, spikeFrom);
  const threshold = Math.max(2 * before.latency.p99, before.latency.p99 + 1);
  const recovered = windows.find((w) => w.startS >= spikeTo && w.p99 > 0 && w.p99 <= threshold);
  return {
    target: target.id,
    baseRate,
    spikeRate,
    beforeS: step.beforeS,
    spikeS: step.spikeS,
    afterS: step.afterS,
    windows,
    before,
    during: part(spikeFrom, spikeTo),
    after: part(spikeTo, Infinity),
    recoveryS: recovered ? recovered.startS - spikeTo : null,
    errorsByKind: result.errorsByKind,
    cpu: result.cpu,
    ...(gc ? { gc } : {}),
  };
}

/** Runs a phase with the server's figures read around it: Tessera's GC and histograms from its /metrics, a baseline's loop delay from its probe. */
async function withServerStats<T>(
  target: Target,
  run: () => Promise<T>,
): Promise<{ result: T; gc?: GcRecord; runtime?: { before: RuntimeStats; after: RuntimeStats }; loopDelayMs?: number | null }> {
  if (!target.runtimeStats) {
    await target.loopDelayMaxMs?.();
    const result = await run();
    return target.loopDelayMaxMs ? { result, loopDelayMs: await target.loopDelayMaxMs() } : { result };
  }
  const before = await target.runtimeStats();
  const result = await run();
  const after = await target.runtimeStats();
  if (!before || !after) return { result };
  return {
    result,
    runtime: { before, after },
    gc: {
      heapUsedMiB: Math.round(after.heapUsedBytes / 2 ** 20),
      majorCount: after.gcMajorCount - before.gcMajorCount,
      majorOver100ms: after.gcMajorOver100ms - before.gcMajorOver100ms,
      majorMs: Math.round((after.gcMajorSeconds - before.gcMajorSeconds) * 1000),
      minorMs: Math.round((after.gcMinorSeconds - before.gcMinorSeconds) * 1000),
    },
  };
}

export function describeLatency(l: LatencySummary): string {
  return `p50 ${fmtMs(l.p50)} · p99 ${fmtMs(l.p99)} · p99.9 ${fmtMs(l.p999)} ms`;
}
