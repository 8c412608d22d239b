/**
 * One open-loop load-generator thread.
 *
 * Requests are sent on a fixed schedule (a uniform arrival rate per step) and
 * each latency is measured from the request's INTENDED send time, not from when
 * it actually left: if the server (or this thread) falls behind, the waiting
 * counts against the latency, so there is no coordinated omission. How late the
 * generator itself was is recorded separately (`lag`) to show whether it kept up.
 *
 * A warm-up at the first step's rate runs before the measured schedule; nothing
 * intended during the warm-up is recorded.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { encode, newHistogram, recordMs, type Histogram } from '../lib/histogram.js';
import { Rng } from '../lib/rng.js';
import { RawHttpPool } from './raw-http.js';
import { OP_CLASS, WorkloadSampler, type OpClass } from './workload.js';
import type { FromWorker, RateStep, ToWorker, WorkerSetup } from './open-loop-protocol.js';

const setup = workerData as WorkerSetup;
const port = parentPort!;
const clock = (): number => performance.timeOrigin + performance.now();
const post = (message: FromWorker): void => port.postMessage(message);

const sampler = new WorkloadSampler(setup.workload, new Rng(setup.rngSeed));
const pool = new RawHttpPool(setup.origin, setup.connections);

const total = newHistogram();
const lag = newHistogram();
const recent = newHistogram();
const byClass = new Map<OpClass, Histogram>();
const measuredMs = setup.steps.reduce((sum, step) => sum + step.durationMs, 0);
const windows = Array.from({ length: Math.ceil(measuredMs / setup.windowMs) }, () => ({ histogram: newHistogram(), errors: 0 }));
const errorsByKind: Record<string, number> = {};
let sent = 0;
let completed = 0;
let errors = 0;
let dropped = 0;
let inFlight = 0;
let measureFrom = Infinity;

function countError(kind: string, intendedAt: number): void {
  if (intendedAt < measureFrom) return;
  errors++;
  errorsByKind[kind] = (errorsByKind[kind] ?? 0) + 1;
  const w = windows[Math.floor((intendedAt - measureFrom) / setup.windowMs)];
  if (w) w.errors++;
}

function fire(intendedAt: number): void {
  if (inFlight >= setup.maxInFlight) {
    dropped++;
    countError('not sent: over 4 s of backlog (server overloaded)', intendedAt);
    return;
  }
  const spec = sampler.next();
  const cls = OP_CLASS[spec.op];
  if (intendedAt >= measureFrom) {
    recordMs(lag, clock() - intendedAt);
    sent++;
  }
  inFlight++;
  pool.request(pool.serialize(spec.method, spec.path, spec.headers, spec.body), (error, status) => {
    const latency = clock() - intendedAt;
    inFlight--;
    if (intendedAt < measureFrom) return;
    completed++;
    if (error) {
      countError((error as { code?: string }).code ?? error.message, intendedAt);
      return;
    }
    if (status >= 400) {
      countError(`HTTP ${status}`, intendedAt);
      return;
    }
    recordMs(total, latency);
    recordMs(recent, latency);
    let h = byClass.get(cls);
    if (!h) byClass.set(cls, (h = newHistogram()));
    recordMs(h, latency);
    const w = windows[Math.floor((intendedAt - measureFrom) / setup.windowMs)];
    if (w) recordMs(w.histogram, latency);
  });
}

function run(startAt: number): void {
  const steps: RateStep[] = [...setup.steps];
  if (setup.warmupMs > 0) steps.unshift({ durationMs: setup.warmupMs, rate: setup.steps[0]!.rate });
  measureFrom = startAt + setup.warmupMs;
  let eluStart = performance.eventLoopUtilization();
  let step = 0;
  let stepEnd = startAt + steps[0]!.durationMs;
  let interval = (1000 * setup.workerCount) / steps[0]!.rate;
  // Stagger the workers so their schedules interleave instead of coinciding.
  let nextAt = startAt + (interval * setup.workerIndex) / setup.workerCount;
  let finished = false;
  let measuring = false;

  const progress = setInterval(() => {
    post({ type: 'progress', sent, completed, errors, inFlight, recent: encode(recent) });
    recent.reset();
  }, 500);

  const tick = (): void => {
    const now = clock();
    if (!measuring && now >= measureFrom) {
      measuring = true;
      eluStart = performance.eventLoopUtilization();
    }
    while (nextAt <= now) {
      if (nextAt >= stepEnd) {
        if (++step >= steps.length) {
          finished = true;
          break;
        }
        const stepStart = stepEnd;
        stepEnd = stepStart + steps[step]!.durationMs;
        interval = (1000 * setup.workerCount) / steps[step]!.rate;
        nextAt = stepStart + (interval * setup.workerIndex) / setup.workerCount;
        continue;
      }
      fire(nextAt);
      nextAt += interval;
    }
    if (finished) void drain(progress, eluStart);
    else setTimeout(tick, Math.max(0, nextAt - clock() - 0.3));
  };
  setTimeout(tick, Math.max(0, startAt - clock()));
}

async function drain(progress: NodeJS.Timeout, eluStart: ReturnType<typeof performance.eventLoopUtilization>): Promise<void> {
  const elu = performance.eventLoopUtilization(eluStart).utilization;
  const deadline = clock() + setup.timeoutMs;
  while (inFlight > 0 && clock() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  if (inFlight > 0) errorsByKind['timeout'] = (errorsByKind['timeout'] ?? 0) + inFlight;
  errors += inFlight;
  clearInterval(progress);
  const classes: Partial<Record<OpClass, string>> = {};
  for (const [cls, h] of byClass) classes[cls] = encode(h);
  post({
    type: 'done',
    total: encode(total),
    byClass: classes,
    lag: encode(lag),
    windows: windows.map((w) => ({ histogram: encode(w.histogram), errors: w.errors })),
    sent,
    completed,
    dropped,
    errorsByKind,
    elu,
  });
  pool.close();
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'start') run(message.startAt);
});
post({ type: 'ready' });
