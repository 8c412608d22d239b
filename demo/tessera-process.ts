/**
 * Runs Tessera on its embedded store as a child process for the demo, on a
 * free loopback port with a throw-away API key, and waits until it is ready.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface EmbeddedTessera {
  readonly url: string;
  readonly apiKey: string;
  stop(): Promise<void>;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? done(address.port) : fail(new Error('no port'))));
    });
  });
}

export async function startEmbeddedTessera(sqlitePath: string): Promise<EmbeddedTessera> {
  const port = await freePort();
  const apiKey = randomBytes(24).toString('base64url');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      TESSERA_PORT: String(port),
      TESSERA_HOST: '127.0.0.1',
      // The demo reads no metrics: its management listener takes any free port.
      TESSERA_ADMIN_PORT: '0',
      TESSERA_SQLITE_PATH: sqlitePath,
      TESSERA_API_KEYS: `storefront:${apiKey}`,
      TESSERA_LOG_LEVEL: process.env.TESSERA_LOG_LEVEL ?? 'warn',
      // The demo's own Tessera: nothing balances load onto it, so stop at once.
      TESSERA_SHUTDOWN_DELAY: '0s',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while ((await fetch(`${url}/readyz`).then((r) => r.status, () => 0)) !== 200) {
    if (child.exitCode !== null) throw new Error(`Tessera exited with code ${child.exitCode}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Tessera did not become ready at ${url} within 30 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    apiKey,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
