/**
 * Closed-loop peak throughput: a fixed number of connections, each sending its
 * next request as soon as the previous answer arrives. wrk (C, with a Lua
 * script) is used because it needs a fraction of the CPU a Node generator does;
 * autocannon is the fallback when wrk is not installed. Closed-loop latencies
 * suffer from coordinated omission, so only the throughput is reported.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../lib/rng.js';
import { CpuMeter, type CpuReport } from '../lib/proc.js';
import { WorkloadSampler, type WorkloadConfig } from './workload.js';

export interface ClosedLoopOptions {
  readonly origin: string;
  readonly workload: WorkloadConfig;
  readonly durationS: number;
  readonly connections: number;
  readonly threads: number;
  /** Unrecorded warm-up run first, in seconds. */
  readonly warmupS: number;
  readonly rngSeed: number;
  readonly pids?: ReadonlyMap<string, readonly number[]>;
  /** Called after the warm-up, just before the measured run. */
  readonly onMeasureStart?: () => Promise<void>;
  /** Use autocannon even if wrk is available. */
  readonly forceAutocannon?: boolean;
}

export interface ClosedLoopResult {
  readonly tool: 'wrk' | 'autocannon';
  readonly durationS: number;
  readonly requests: number;
  /** Requests answered with 4xx/5xx, plus socket errors and timeouts. */
  readonly errors: number;
  /** Successful requests per second. */
  readonly rps: number;
  readonly cpu: CpuReport | null;
}

const LUA_DIR = fileURLToPath(new URL('./wrk/', import.meta.url));
/** Requests pre-sampled for wrk's mix script; Zipf repeats hot sessions within it as in the open loop. */
const MIX_FILE_REQUESTS = 50_000;

let wrkPath: string | null | undefined;
export function findWrk(): string | null {
  if (wrkPath === undefined) {
    try {
      wrkPath = execFileSync('sh', ['-c', 'command -v wrk']).toString().trim() || null;
    } catch {
      wrkPath = null;
    }
  }
  return wrkPath;
}

/**
 * Writes requests pre-sampled from the workload, one per line —
 * `METHOD \t PATH \t BODY \t header \t value …` — for wrk's mix.lua (also
 * what `npm run bench:serve` hands to an outside load generator). Returns the file's path.
 */
export function writeMixFile(workload: WorkloadConfig, seed: number): string {
  const sampler = new WorkloadSampler(workload, new Rng(seed));
  const lines: string[] = [];
  for (let i = 0; i < MIX_FILE_REQUESTS; i++) {
    const spec = sampler.next();
    const fields = [spec.method, spec.path, spec.body ?? ''];
    for (const [name, value] of Object.entries(spec.headers)) fields.push(name, value);
    if (fields.some((f) => f.includes('\t') || f.includes('\n'))) throw new Error('request field with a tab or newline');
    lines.push(fields.join('\t'));
  }
  const file = join(mkdtempSync(join(tmpdir(), 'tessera-bench-')), 'requests.tsv');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

async function runWrkOnce(options: ClosedLoopOptions, durationS: number, scriptArgs: string[], script: string, measure: boolean): Promise<ClosedLoopResult> {
  // wrk takes whole seconds only.
  const args = ['-t', String(options.threads), '-c', String(options.connections), '-d', `${Math.max(1, Math.round(durationS))}s`, '--timeout', '10s', '-s', join(LUA_DIR, script), `${options.origin}/`, '--', ...scriptArgs];
  const child = spawn(findWrk()!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const pids = new Map(options.pids ?? []);
  if (child.pid !== undefined) pids.set('load generator (wrk)', [child.pid]);
  // Skip wrk's start-up (Lua init parsing the request file) before measuring CPU.
  let meter: CpuMeter | null = null;
  let cpu: CpuReport | null = null;
  const startTimer = measure ? setTimeout(() => (meter = new CpuMeter(pids)), 300) : undefined;
  const stopTimer = measure ? setTimeout(() => (cpu = meter?.stop() ?? null), durationS * 1000 - 100) : undefined;
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  clearTimeout(startTimer);
  clearTimeout(stopTimer);
  if (code !== 0) throw new Error(`wrk exited with ${code}:\n${output}`);
  const total = /(\d+) requests in ([\d.]+)(m?s)/.exec(output);
  if (!total) throw new Error(`could not read wrk output:\n${output}`);
  const requests = Number(total[1]);
  const seconds = Number(total[2]) / (total[3] === 'ms' ? 1000 : 1);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return {
    tool: 'wrk',
    durationS: seconds,
    requests,
    errors: non2xx + socketErrors,
    rps: Math.round((requests - non2xx) / seconds),
    cpu,
  };
}

export async function runClosedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  if (options.forceAutocannon || !findWrk()) return runAutocannon(options);
  let script: string;
  let args: (i: number) => string[];
  let requestFile: string | null = null;
  if (options.workload.mix === 'login') {
    script = 'login.lua';
    args = (i) => [options.workload.apiKey, `${options.workload.loginPrefix}-${i}`];
  } else {
    const file = writeMixFile(options.workload, options.rngSeed);
    requestFile = file;
    script = 'mix.lua';
    args = (i) => [file, String(i * 997)];
  }
  try {
    if (options.warmupS > 0) await runWrkOnce(options, options.warmupS, args(0), script, false);
    await options.onMeasureStart?.();
    return await runWrkOnce(options, options.durationS, args(1), script, true);
  } finally {
    if (requestFile) rmSync(dirname(requestFile), { recursive: true, force: true });
  }
}

async function runAutocannon(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const { default: autocannon } = await import('autocannon');
  const sampler = new WorkloadSampler(options.workload, new Rng(options.rngSeed));
  const once = async (durationS: number, measure: boolean): Promise<ClosedLoopResult> => {
    const meter = measure ? new CpuMeter(options.pids ?? new Map()) : null;
    const result = await autocannon({
      url: options.origin,
      connections: options.connections,
      duration: durationS,
      requests: [
        {
          setupRequest: (request: Record<string, unknown>) => {
            const spec = sampler.next();
            return { ...request, method: spec.method, path: spec.path, headers: spec.headers, body: spec.body };
          },
        },
      ],
    });
    const errors = result.non2xx + result.errors + result.timeouts;
    return {
      tool: 'autocannon',
      durationS: result.duration,
      requests: result.requests.total,
      errors,
      rps: Math.round((result.requests.total - result.non2xx) / result.duration),
      cpu: meter?.stop() ?? null,
    };
  };
  if (options.warmupS > 0) await once(options.warmupS, false);
  await options.onMeasureStart?.();
  return once(options.durationS, true);
}
