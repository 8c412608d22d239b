/**
 * One Tessera node of the simulation, run from source as a child process
 * (`node --import tsx src/main.ts`): always the current code, no build step,
 * about 2 s to start (nodes start in parallel). Its output goes to
 * `<dir>/tessera.log`.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LoggedProcess, waitUntil } from './processes.js';

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 60_000;
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export class TesseraNode {
  readonly #process: LoggedProcess;
  readonly url: string;

  constructor(
    readonly id: string,
    readonly port: number,
    readonly dir: string,
    env: Readonly<Record<string, string>>,
    /** The node's wall clock this far ahead (negative: behind) of the machine's, by libfaketime; monotonic time is left alone. */
    clockOffsetMs = 0,
  ) {
    mkdirSync(dir, { recursive: true });
    this.url = `http://${HOST}:${port}`;
    // The parent's TESSERA_* variables (a developer's shell) must not leak into the simulated nodes.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TESSERA_')));
    // A skewed clock is libfaketime preloaded into node itself (not the `faketime` wrapper, whose
    // child a kill of the wrapper would leave running).
    const skew =
      clockOffsetMs === 0
        ? {}
        : {
            LD_PRELOAD: faketimeLibrary(),
            FAKETIME: `${clockOffsetMs > 0 ? '+' : '-'}${Math.abs(clockOffsetMs) / 1000}s`,
            FAKETIME_DONT_FAKE_MONOTONIC: '1',
          };
    this.#process = new LoggedProcess(`tessera ${id}`, process.execPath, ['--import', 'tsx', 'src/main.ts'], join(dir, 'tessera.log'), {
      cwd: REPO_ROOT,
      env: { ...inherited, ...env, TESSERA_PORT: String(port), TESSERA_NODE_ID: id, ...skew },
    });
  }

  get running(): boolean {
    return this.#process.running;
  }

  /**
   * Starts the node and resolves once `/readyz` answers 200 and, in global mode, says the node is
   * connected to NATS with its streams set up (a node serves before that, but its global writes answer 503).
   */
  async start(): Promise<void> {
    this.#process.start();
    try {
      await waitUntil(`${this.#process.label} to be ready`, START_TIMEOUT_MS, async () => {
        if (!this.#process.running) throw new Error(`exited ${JSON.stringify(this.#process.exit)}`);
        const response = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) });
        if (response.status !== 200) {
          await response.body?.cancel();
          return `/readyz answered ${response.status}`;
        }
        const { replication } = (await response.json()) as { replication?: string };
        return replication === undefined || replication === 'connected' ? null : `replication ${replication}`;
      }, 100);
    } catch (error) {
      await this.#process.kill();
      throw new Error(`${(error as Error).message}\n${this.#process.logTail()}`);
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.#process.kill(signal);
  }

  logTail(lines?: number): string {
    return this.#process.logTail(lines);
  }
}

/** libfaketime's multi-threaded library, as Debian's `faketime` package installs it. */
function faketimeLibrary(): string {
  const found = ['/usr/lib/x86_64-linux-gnu/faketime', '/usr/lib/aarch64-linux-gnu/faketime', '/usr/lib/faketime', '/usr/local/lib/faketime']
    .map((dir) => join(dir, 'libfaketimeMT.so.1'))
    .find((path) => existsSync(path));
  if (found === undefined) throw new Error('a skewed clock needs libfaketime: apt-get install faketime');
  return found;
}
