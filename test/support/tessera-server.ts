/**
 * Starts a real Tessera in-process on a free port, on a fresh SQLite file, and
 * gives tests a small HTTP client for it. Nothing is mocked: requests cross a
 * real socket into the real app, service and engine.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { Logger } from 'pino';
import { createLogger } from '../../src/logging.js';
import { createTessera, type Tessera } from '../../src/tessera.js';

export const APP_KEY = 'app-key-0123456789abcdef';
export const ADMIN_KEY = 'ops-key-0123456789abcdef';

export interface Reply<T = any> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

export interface RequestOptions {
  readonly token?: string;
  readonly body?: unknown;
  /** Raw body text, sent as is. */
  readonly raw?: string;
  readonly headers?: Record<string, string>;
  /** API key to send; `null` sends none. @default APP_KEY */
  readonly key?: string | null;
  /** Send to the management listener (`/metrics`, `/openapi.json`, `/docs`) instead of the API. */
  readonly admin?: boolean;
}

export interface TestServer {
  readonly url: string;
  /** The management listener (`/metrics`, `/openapi.json`, `/docs`). */
  readonly adminUrl: string;
  readonly tessera: Tessera;
  readonly config: Config;
  readonly dir: string;
  /** Every log line written so far (JSON text). */
  readonly logs: string[];
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<Reply<T>>;
  /** Signs in (or starts a guest session) and returns token, csrfToken and session. */
  signIn(body?: Record<string, unknown>): Promise<{ token: string; csrfToken: string; session: any }>;
  close(): Promise<void>;
}

export async function startTessera(env: Record<string, string> = {}, options: { dir?: string; now?: () => number } = {}): Promise<TestServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tessera-test-'));
  const config = loadConfig({
    TESSERA_PORT: '0',
    TESSERA_HOST: '127.0.0.1',
    TESSERA_ADMIN_PORT: '0',
    TESSERA_SQLITE_PATH: join(dir, 'tessera.db'),
    TESSERA_API_KEYS: `app:${APP_KEY},ops:${ADMIN_KEY}:admin`,
    TESSERA_LOG_LEVEL: 'trace',
    TESSERA_SHUTDOWN_DELAY: '0s',
    ...env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const tessera = await createTessera(config, { logger: createLogger(config.logLevel, sink, { traceIds: config.tracing !== null }), ...(options.now ? { now: options.now } : {}) });
  const url = await tessera.listen();

  async function request<T = any>(method: string, path: string, opts: RequestOptions = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    const key = opts.key === undefined ? APP_KEY : opts.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (opts.token !== undefined) headers['tessera-token'] = opts.token;
    let body: string | undefined = opts.raw;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const base = opts.admin === true ? tessera.adminAddress! : url;
    const response = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  return {
    url,
    adminUrl: tessera.adminAddress!,
    tessera,
    config,
    dir,
    logs,
    request,
    async signIn(body = {}) {
      const reply = await request('POST', '/v1/sessions', { body });
      if (reply.status !== 201) throw new Error(`sign-in failed: ${reply.status} ${reply.text}`);
      return reply.body;
    },
    async close() {
      await tessera.close();
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Why a start that must fail failed: the error `createTessera` rejected with. A start that
 * succeeds is closed, and fails the test with `what` ("started …").
 */
export async function startFailure(config: Config, what: string, logger: Logger = createLogger('silent')): Promise<unknown> {
  return createTessera(config, { logger }).then(
    async (tessera) => {
      await tessera.close();
      return assert.fail(`started ${what}`);
    },
    (error: unknown) => error,
  );
}
