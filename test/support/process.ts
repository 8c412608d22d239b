/**
 * Runs Tessera as a real child process (`node --import tsx src/main.ts`), the
 * way operators start it, for start-up, shutdown and restart tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A port that was free a moment ago: bound on port 0, read, released. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
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

function launch(env: Record<string, string>): { child: ChildProcess; out: string[]; err: string[]; exited: Promise<Exit> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  const err: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => err.push(chunk));
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, out, err, exited };
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
  const port = env.TESSERA_PORT !== undefined ? Number(env.TESSERA_PORT) : await freePort();
  // Port 0 (any free one, read back from the log) leaves no window for another process to take it.
  const { child, out, err, exited } = launch({ TESSERA_PORT: String(port), TESSERA_ADMIN_PORT: '0', ...env });
  const stdout = () => out.join('');
  const logLines = () =>
    stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, any>);
  const started = Date.now();
  let adminUrl = '';
  for (;;) {
    const listening = logLines().find((l) => l.msg === 'tessera listening');
    if (listening !== undefined) {
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
