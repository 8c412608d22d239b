/**
 * Child processes of the simulation and what keeps them from outliving it:
 * every process started here is registered, and killed (SIGKILL) when this
 * process exits or is stopped by SIGINT, SIGTERM or SIGHUP (Redis servers are
 * killed by test/support/redis-harness.ts's own exit handler, which runs on
 * those signals too: `exitOnStopSignals`). A SIGKILL of this
 * process cannot be caught: then the children stay, in their temporary folders.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const HOST = '127.0.0.1';
const live = new Set<ChildProcess>();
let handlersInstalled = false;
let signalsInstalled = false;

const STOP_SIGNALS = [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const;

function killAllNow(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

/**
 * SIGINT, SIGTERM and SIGHUP end this process through exit(), with the code the signal would have
 * given, unless the program handles the signal itself: Node's default ends the process without
 * running its 'exit' handlers, which are what kill the servers a test or simulation started.
 * (A test runner that is stopped passes the signal on to its test files.)
 */
export function exitOnStopSignals(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const [signal, number] of STOP_SIGNALS) {
    const onSignal = (): void => {
      // The simulation's processes go at once, even where the program handles the signal itself.
      if (handlersInstalled) killAllNow();
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.exit(128 + number);
    };
    process.on(signal, onSignal);
  }
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once('exit', killAllNow);
  exitOnStopSignals();
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A child process whose output goes to a log file. */
export class LoggedProcess {
  #child: ChildProcess | null = null;
  #exited: Promise<Exit> = Promise.resolve({ code: null, signal: null });
  #exit: Exit | null = null;

  constructor(
    readonly label: string,
    private readonly command: string,
    private readonly args: readonly string[],
    readonly logPath: string,
    private readonly options: Omit<SpawnOptions, 'stdio'> = {},
  ) {}

  get running(): boolean {
    return this.#child !== null && this.#exit === null;
  }

  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined;
  }

  /** How the last run ended, or null while running (or never started). */
  get exit(): Exit | null {
    return this.#exit;
  }

  start(): void {
    if (this.running) throw new Error(`${this.label} is already running`);
    installExitHandlers();
    const log = openSync(this.logPath, 'a');
    const child = spawn(this.command, [...this.args], { ...this.options, stdio: ['ignore', log, log] });
    closeSync(log);
    this.#child = child;
    this.#exit = null;
    live.add(child);
    this.#exited = new Promise((resolve) => {
      const done = (exit: Exit): void => {
        live.delete(child);
        this.#exit = exit;
        resolve(exit);
      };
      child.once('exit', (code, signal) => done({ code, signal }));
      child.once('error', () => done({ code: -1, signal: null }));
    });
  }

  /** Sends `signal` (default SIGKILL) and waits for the process to end. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.#child!.kill(signal);
    const timer = signal === 'SIGKILL' ? null : setTimeout(() => this.#child?.kill('SIGKILL'), 10_000);
    await this.#exited;
    if (timer) clearTimeout(timer);
  }

  logTail(lines = 20): string {
    try {
      return readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

/**
 * The first port of the kernel's ephemeral range (Linux: 32768 unless set otherwise), from which
 * every outgoing connection takes its local port.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Above the ports machines' own services use (Postgres, Redis, NATS, RabbitMQ, MariaDB, Mosquitto: all under 10000). */
const FIRST_PORT = 10_000;

/** A server listening on `port`, or null when the port is taken (or not ours to take). */
function listenOn(port: number): Promise<Server | null> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' || error.code === 'EACCES' ? resolve(null) : reject(error)));
    server.listen(port, HOST, () => resolve(server));
  });
}

/**
 * Ports that were free a moment ago, for servers started next (nats-server, redis-server,
 * HAProxy), all held at once so that none is handed out twice. They are drawn at random below
 * the ephemeral range: a port the kernel picks for port 0 comes from that range, where any
 * process's next outgoing connection may take it before the server binds it (the server then
 * fails with EADDRINUSE). Below it, only another server picking the same port can, and those
 * are drawn from over 20,000 ports. Where the range starts too low to leave room, port 0 it is.
 */
export async function freePorts(count: number): Promise<number[]> {
  const high = ephemeralLow() - 1;
  const servers: Server[] = [];
  try {
    for (let tries = 0; servers.length < count; tries += 1) {
      const port = high - FIRST_PORT < 1_000 || tries > 100 * count ? 0 : FIRST_PORT + Math.floor(Math.random() * (high - FIRST_PORT + 1));
      const server = await listenOn(port);
      if (server !== null) servers.push(server);
    }
    return servers.map((server) => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no TCP address');
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/**
 * Polls `problem` until it returns null (done); it returns what is still
 * missing as text, or throws. After `timeoutMs`, throws with the last reason.
 */
export async function waitUntil(what: string, timeoutMs: number, problem: () => Promise<string | null>, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let reason = 'not checked yet';
  for (;;) {
    try {
      const found = await problem();
      if (found === null) return;
      reason = found;
    } catch (error) {
      reason = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (${reason})`);
    await sleep(intervalMs);
  }
}

/** GET `url` and parse JSON; rejects on a non-2xx status or after `timeoutMs`. */
export async function getJson<T = any>(url: string, timeoutMs = 2000): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return (await response.json()) as T;
}
