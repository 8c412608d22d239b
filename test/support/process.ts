/**
 * Runs Tessera as a real child process (`node --import tsx src/main.ts`), the
 * way operators start it, for start-up, shutdown and restart tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { exitOnStopSignals, freePorts } from '../../sim/processes.js';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A port that was free a moment ago (`sim/processes.ts`: drawn below the ephemeral range). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface TesseraProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The management listener (`/metrics`, `/openapi.json`, `/docs`): `http://127.0.0.1:<admin port>`. */
  readonly adminUrl: string;
  stdout(): string;
  stderr(): string;
  /** Parsed JSON log lines written so far (stdout). */
  logLines(): Array<Record<string, any>>;
  readonly exited: Promise<Exit>;
  /** Sends the signal and waits for the process to end. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
}

/** The parent's environment without any TESSERA_* variable, plus `env`. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TESSERA_')));
  return { ...base, TESSERA_LOG_LEVEL: 'info', TESSERA_SHUTDOWN_DELAY: '0s', ...env };
}

// Every process still running when the test file's process ends is killed, as the Redis harness
// does for its servers, also when a signal stops it (a stopped test run): a test that failed
// half-way through starting several must not leave one behind. (The runner's --test-force-exit
// ends a file whose tests are done but whose event loop is still held, by such a process for one;
// scripts/test.mjs.)
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
exitOnStopSignals();

function launch(env: Record<string, string>): { child: ChildProcess; out: string[]; err: string[]; exited: Promise<Exit> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const out: string[] = [];
  const err: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => err.push(chunk));
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, out, err, exited };
}

/**
 * Starts one process per environment, in parallel. When one fails to start, the others are killed
 * before the failure is thrown: a test whose start-up failed has no process to stop.
 */
export async function startTesseraProcesses(envs: ReadonlyArray<Record<string, string>>): Promise<TesseraProcess[]> {
  const started = await Promise.allSettled(envs.map((env) => startTesseraProcess(env)));
  const failure = started.find((result) => result.status === 'rejected');
  if (failure === undefined) return started.map((result) => (result as PromiseFulfilledResult<TesseraProcess>).value);
  await Promise.all(started.map((result) => (result.status === 'fulfilled' ? result.value.stop('SIGKILL') : undefined)));
  throw failure.reason;
}

/** Runs a process expected to stop by itself (e.g. on bad configuration). */
export async function runTessera(env: Record<string, string>, timeoutMs = 20_000): Promise<Exit & { stdout: string; stderr: string }> {
  const { child, out, err, exited } = launch(env);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exit = await exited;
  clearTimeout(timer);
  return { ...exit, stdout: out.join(''), stderr: err.join('') };
}

/**
 * Starts Tessera on free ports (API and management) and resolves once it logs
 * that it is listening. `TESSERA_PORT` and `TESSERA_ADMIN_PORT` in `env` override them.
 */
export async function startTesseraProcess(env: Record<string, string>, timeoutMs = 20_000): Promise<TesseraProcess> {
  // Port 0 (any free one, read back from the log) leaves no window for another process to take it,
  // as a port found free a moment before the child binds it does: an outgoing connection of another
  // test can take it in between, and the child stops with EADDRINUSE.
  const { child, out, err, exited } = launch({ TESSERA_PORT: '0', TESSERA_ADMIN_PORT: '0', ...env });
  const stdout = () => out.join('');
  const logLines = () =>
    stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, any>);
  const started = Date.now();
  let port = 0;
  let adminUrl = '';
  for (;;) {
    const listening = logLines().find((l) => l.msg === 'tessera listening');
    if (listening !== undefined) {
      port = Number(new URL(String(listening.address)).port);
      adminUrl = String(listening.admin);
      break;
    }
    const done = await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 25, null))]);
    if (done !== null) throw new Error(`tessera exited before listening (${JSON.stringify(done)}): ${err.join('')}${stdout()}`);
    if (Date.now() - started > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`tessera did not start within ${timeoutMs} ms: ${err.join('')}${stdout()}`);
    }
  }
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    adminUrl,
    stdout,
    stderr: () => err.join(''),
    logLines,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}
