/**
 * Child processes for the benchmark (servers, wrk) and CPU accounting read from
 * /proc, so the report can show who used the two cores during each phase.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { freePorts } from '../../sim/processes.js';
import { cpus } from 'node:os';

export async function freePort(): Promise<number> {
  // Drawn below the ephemeral range, where no outgoing connection takes it before the server binds it.
  const [port] = await freePorts(1);
  return port!;
}

export interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** The last lines the process printed, for error messages. */
  output(): string;
  /** Null while running; else how it ended and its last output. */
  exitReport(): string | null;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Record<string, string>;
  readonly cwd?: string;
}

/** Children still running; killed if the runner exits without stopping them (crash, Ctrl-C). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export function spawnService(options: SpawnOptions): Service {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  if (child.pid === undefined) throw new Error(`could not start ${options.name} (${options.command})`);
  running.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  return {
    name: options.name,
    child,
    pid: child.pid,
    output: () => lines.join('\n'),
    exitReport: () =>
      child.exitCode === null && child.signalCode === null
        ? null
        : `${options.name} exited (${child.exitCode !== null ? `code ${child.exitCode}` : child.signalCode}); its last output:\n${lines.slice(-15).join('\n')}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `url` until it answers 2xx, the process dies, or the timeout passes. */
export async function waitForHttp(url: string, service: Service, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null) {
      throw new Error(`${service.name} exited with code ${service.child.exitCode} before ${url} answered:\n${service.output()}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${service.name} did not answer ${url} within ${timeoutMs} ms (last: ${last}):\n${service.output()}`);
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU time (user + system) a process has used, in ms; null if it is gone or /proc is missing. */
export function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces; fields resume after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / clockTicks();
  } catch {
    return null;
  }
}

/** Whole-machine busy and total jiffies. */
function systemTimes(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.reduce((a, b) => a + b, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}


export interface CpuReport {
  /** CPU of each role's processes, in % of one core (200 = both cores of a 2-core machine). */
  readonly perRole: Record<string, number>;
  /** This process: the bench runner with its load-generator threads. */
  readonly generatorSelf: number;
  /** Whole machine busy, in % of all cores; includes anything else running. */
  readonly machineBusy: number | null;
  /** Busy CPU not accounted to the roles or the runner (other work on the machine), % of one core. */
  readonly other: number | null;
}

/** Measures the CPU each named process used over an interval, in % of one core. */
export class CpuMeter {
  private readonly start = new Map<string, number>();
  private readonly startedAt = process.hrtime.bigint();
  private readonly selfStart = process.cpuUsage();
  private readonly systemStart = systemTimes();

  constructor(private readonly pids: ReadonlyMap<string, readonly number[]>) {
    for (const [role, list] of pids) this.start.set(role, sum(list.map(processCpuMs)));
  }

  stop(): CpuReport {
    const wallMs = Number(process.hrtime.bigint() - this.startedAt) / 1e6;
    const perRole: Record<string, number> = {};
    for (const [role, list] of this.pids) {
      perRole[role] = round1(((sum(list.map(processCpuMs)) - (this.start.get(role) ?? 0)) / wallMs) * 100);
    }
    const self = process.cpuUsage(this.selfStart);
    const system = systemTimes();
    const machineBusy =
      system && this.systemStart ? round1(((system.busy - this.systemStart.busy) / Math.max(1, system.total - this.systemStart.total)) * 100) : null;
    const generatorSelf = round1(((self.user + self.system) / 1000 / wallMs) * 100);
    const ours = Object.values(perRole).reduce((a, b) => a + b, 0) + generatorSelf;
    const other = machineBusy === null ? null : Math.max(0, round1(machineBusy * cpus().length - ours));
    return { perRole, generatorSelf, machineBusy, other };
  }
}

function sum(values: ReadonlyArray<number | null>): number {
  return values.reduce<number>((a, b) => a + (b ?? 0), 0);
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
