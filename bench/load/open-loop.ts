/**
 * Open-loop load at a fixed arrival rate (or a schedule of rates), spread over
 * worker threads. Returns merged HdrHistograms: overall, per operation class,
 * per time window (for the Black-Friday step), and the generator's own lag.
 */
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { decode, mergeEncoded, newHistogram, summarize, type Histogram, type LatencySummary } from '../lib/histogram.js';
import type { FromWorker, RateStep, WorkerSetup } from './open-loop-protocol.js';
import { CpuMeter, type CpuReport } from '../lib/proc.js';
import type { OpClass, WorkloadConfig } from './workload.js';

export interface OpenLoopOptions {
  readonly origin: string;
  readonly steps: readonly RateStep[];
  readonly workload: WorkloadConfig;
  readonly workers: number;
  /** Connections per worker. */
  readonly connections: number;
  readonly windowMs?: number;
  /** Unrecorded warm-up at the first step's rate. @default 0 */
  readonly warmupMs?: number;
  readonly timeoutMs?: number;
  readonly rngSeed: number;
  /** Processes whose CPU use is measured over the recorded part of the run, by role. */
  readonly pids?: ReadonlyMap<string, readonly number[]>;
  /** Called about twice a second with what completed since the last call. */
  readonly onProgress?: (p: OpenLoopProgress) => void;
}

export interface OpenLoopProgress {
  readonly elapsedMs: number;
  readonly totalMs: number;
  readonly sent: number;
  readonly completed: number;
  readonly errors: number;
  readonly inFlight: number;
  readonly recentP99Ms: number;
}

export interface OpenLoopResult {
  readonly durationMs: number;
  readonly offeredRate: number;
  readonly sent: number;
  readonly completed: number;
  readonly dropped: number;
  readonly errors: number;
  readonly errorsByKind: Record<string, number>;
  /** Successful responses per second. */
  readonly achievedRate: number;
  readonly total: Histogram;
  readonly byClass: Partial<Record<OpClass, Histogram>>;
  /** How late the generator sent, relative to the schedule. */
  readonly lag: Histogram;
  readonly windows: ReadonlyArray<{ readonly startMs: number; readonly histogram: Histogram; readonly errors: number }>;
  /** Mean event-loop utilisation of the generator threads, 0–1. */
  readonly generatorElu: number;
  /** CPU use over the recorded part (warm-up excluded). */
  readonly cpu: CpuReport | null;
}

const WORKER_URL = new URL('./open-loop-worker.ts', import.meta.url);
/** Registers tsx in the worker (Node 20 workers do not inherit the loader hooks). */
const BOOTSTRAP_URL = new URL('./ts-worker.mjs', import.meta.url);

export async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const windowMs = options.windowMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const totalMs = options.steps.reduce((sum, s) => sum + s.durationMs, 0);
  const expected = options.steps.reduce((sum, s) => sum + (s.rate * s.durationMs) / 1000, 0);
  if (options.steps.some((s) => !(s.rate > 0) || !(s.durationMs > 0))) throw new Error('every rate step needs rate > 0 and durationMs > 0');
  const workers: Worker[] = [];
  const ready: Promise<void>[] = [];
  const done: Promise<Extract<FromWorker, { type: 'done' }>>[] = [];
  const progress = new Map<number, Extract<FromWorker, { type: 'progress' }>>();
  let recent = newHistogram();
  let startAt = 0;

  for (let i = 0; i < options.workers; i++) {
    const setup: WorkerSetup = {
      origin: options.origin,
      connections: options.connections,
      workerIndex: i,
      workerCount: options.workers,
      steps: options.steps,
      windowMs,
      warmupMs: options.warmupMs ?? 0,
      timeoutMs,
      // Four seconds of backlog at the highest rate; beyond that the server is overloaded and requests are counted as not sent.
      maxInFlight: Math.max(2_000, Math.ceil((Math.max(...options.steps.map((s) => s.rate)) * 4) / options.workers)),
      workload: { ...options.workload, loginPrefix: `${options.workload.loginPrefix}-w${i}` },
      rngSeed: options.rngSeed * 31 + i,
    };
    const worker = new Worker(BOOTSTRAP_URL, { workerData: { ...setup, entry: WORKER_URL.href } });
    workers.push(worker);
    let onReady!: () => void;
    ready.push(new Promise<void>((resolve) => (onReady = resolve)));
    done.push(
      new Promise((resolve, reject) => {
        worker.on('error', reject);
        worker.on('exit', (code) => reject(new Error(`load worker ${i} exited with code ${code} before finishing`)));
        worker.on('message', (message: FromWorker) => {
          if (message.type === 'ready') onReady();
          else if (message.type === 'progress') {
            progress.set(i, message);
            recent.add(decode(message.recent));
          } else if (message.type === 'done') resolve(message);
        });
      }),
    );
  }

  const ticker = setInterval(() => {
    if (!options.onProgress || startAt === 0) return;
    let sent = 0, completed = 0, errors = 0, inFlight = 0;
    for (const p of progress.values()) {
      sent += p.sent;
      completed += p.completed;
      errors += p.errors;
      inFlight += p.inFlight;
    }
    const recentP99Ms = recent.totalCount > 0 ? recent.getValueAtPercentile(99) / 1000 : 0;
    recent = newHistogram();
    const elapsedMs = performance.timeOrigin + performance.now() - startAt - (options.warmupMs ?? 0);
    options.onProgress({ elapsedMs, totalMs, sent, completed, errors, inFlight, recentP99Ms });
  }, 500);

  try {
    await Promise.all(ready);
    startAt = performance.timeOrigin + performance.now() + 50;
    for (const worker of workers) worker.postMessage({ type: 'start', startAt });
    let meter: CpuMeter | null = null;
    let cpu: CpuReport | null = null;
    const measureFrom = startAt + (options.warmupMs ?? 0) - (performance.timeOrigin + performance.now());
    const meterStart = setTimeout(() => (meter = new CpuMeter(options.pids ?? new Map())), measureFrom);
    const meterStop = setTimeout(() => (cpu = meter?.stop() ?? null), measureFrom + totalMs);
    const results = await Promise.all(done);
    clearTimeout(meterStart);
    clearTimeout(meterStop);
    cpu ??= (meter as CpuMeter | null)?.stop() ?? null;
    const windowCount = Math.ceil(totalMs / windowMs);
    const windows = Array.from({ length: windowCount }, (_, w) => ({
      startMs: w * windowMs,
      histogram: mergeEncoded(results.map((r) => r.windows[w]?.histogram).filter((h): h is string => h !== undefined)),
      errors: results.reduce((sum, r) => sum + (r.windows[w]?.errors ?? 0), 0),
    }));
    const byClass: Partial<Record<OpClass, Histogram>> = {};
    for (const cls of ['read', 'write', 'login'] as const) {
      const parts = results.map((r) => r.byClass[cls]).filter((h): h is string => h !== undefined);
      if (parts.length > 0) byClass[cls] = mergeEncoded(parts);
    }
    const errorsByKind: Record<string, number> = {};
    for (const r of results) for (const [k, v] of Object.entries(r.errorsByKind)) errorsByKind[k] = (errorsByKind[k] ?? 0) + v;
    const total = mergeEncoded(results.map((r) => r.total));
    return {
      durationMs: totalMs,
      offeredRate: (expected * 1000) / totalMs,
      sent: results.reduce((s, r) => s + r.sent, 0),
      completed: results.reduce((s, r) => s + r.completed, 0),
      dropped: results.reduce((s, r) => s + r.dropped, 0),
      errors: Object.values(errorsByKind).reduce((s, v) => s + v, 0),
      errorsByKind,
      achievedRate: (total.totalCount * 1000) / totalMs,
      total,
      byClass,
      lag: mergeEncoded(results.map((r) => r.lag)),
      windows,
      generatorElu: results.reduce((s, r) => s + r.elu, 0) / results.length,
      cpu,
    };
  } finally {
    clearInterval(ticker);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

export function summarizeOpenLoop(result: OpenLoopResult): {
  total: LatencySummary;
  byClass: Partial<Record<OpClass, LatencySummary>>;
  lag: LatencySummary;
} {
  const byClass: Partial<Record<OpClass, LatencySummary>> = {};
  for (const [cls, h] of Object.entries(result.byClass) as Array<[OpClass, Histogram]>) byClass[cls] = summarize(h);
  return { total: summarize(result.total), byClass, lag: summarize(result.lag) };
}
