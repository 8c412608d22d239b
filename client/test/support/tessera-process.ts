/**
 * Runs a real Tessera as a child process (`node --import tsx src/main.ts`) on a
 * free port and a fresh SQLite file, as the SDK's users would run it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const APP_KEY = 'app-secret-0123456789abcdef';
export const ADMIN_KEY = 'ops-secret-0123456789abcdef';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface TesseraProcess {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** The child's process id, for signals a test sends itself (SIGSTOP to freeze it). */
  readonly pid: number;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** Stops it and removes its data folder. */
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Children still running: killed when the test process exits, whatever happened. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
// Stopped by a signal (a test run stopped), exit through exit(), so that the handler above runs:
// Node's default for these signals ends the process without it.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
  process.once(signal, () => process.exit(code));
}

export interface StartOptions {
  readonly dir?: string;
  readonly env?: Record<string, string>;
  readonly port?: number;
}

export async function startTesseraProcess(options: StartOptions = {}): Promise<TesseraProcess> {
  // Another process may take the free port before Tessera binds it: try another one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (options.port !== undefined || attempt >= 3 || !String(error).includes('EADDRINUSE')) throw error;
    }
  }
}

async function startOnce(options: StartOptions): Promise<TesseraProcess> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tessera-sdk-'));
  const port = options.port ?? (await freePort());
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      TESSERA_PORT: String(port),
      TESSERA_HOST: '127.0.0.1',
      // The management listener (metrics, docs) on any free port: SDK tests do not read it.
      TESSERA_ADMIN_PORT: '0',
      TESSERA_SQLITE_PATH: join(dir, 't.db'),
      TESSERA_API_KEYS: `app:${APP_KEY},ops:${ADMIN_KEY}:admin`,
      TESSERA_LOG_LEVEL: 'silent',
      TESSERA_SHUTDOWN_DELAY: '0s',
      ...options.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  live.add(child);
  // A test that fails before stopping its server must not keep the runner alive.
  child.unref();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((done) =>
    child.once('exit', () => {
      live.delete(child);
      done();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
      throw new Error(`Tessera exited with ${child.exitCode}: ${stderr}`);
    }
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Tessera did not become ready on ${url} within 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  return {
    url,
    port,
    dir,
    pid: child.pid!,
    stop,
    close: async () => {
      await stop();
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}
