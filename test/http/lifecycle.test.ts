/**
 * Tessera as a process: configuration errors, graceful shutdown, restarts,
 * the generated API key, and expiry with the sweeper — with real timers.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { REPO_ROOT, runTessera, startTesseraProcess, type TesseraProcess } from '../support/process.js';
import { flip } from '../support/wrong-secrets.js';

const KEY = 'lifecycle-key-0123456789';
const dirs: string[] = [];
const running: TesseraProcess[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-lifecycle-'));
  dirs.push(dir);
  return dir;
}

async function start(env: Record<string, string>): Promise<TesseraProcess> {
  const proc = await startTesseraProcess({ TESSERA_API_KEYS: `app:${KEY}:admin`, ...env });
  running.push(proc);
  return proc;
}

async function call(
  server: TesseraProcess,
  method: string,
  path: string,
  { token, body, key = KEY }: { token?: string; body?: unknown; key?: string } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (token !== undefined) headers['tessera-token'] = token;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${server.url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text), headers: response.headers };
}

/** Whether a new TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.setTimeout(1_000);
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
  });
}

/**
 * A POST whose headers and first half of the body are sent now; `finish()`
 * sends the rest and resolves to the answer. Until then the request is in flight.
 */
function slowPost(server: TesseraProcess, path: string, token: string, body: unknown) {
  const text = JSON.stringify(body);
  const req = httpRequest(`${server.url}${path}`, {
    method: 'POST',
    agent: false,
    headers: {
      authorization: `Bearer ${KEY}`,
      'tessera-token': token,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    },
  });
  const answer = new Promise<{ status: number; body: any }>((resolve, reject) => {
    req.on('response', (res) => {
      let data = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (data += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data === '' ? undefined : JSON.parse(data) }));
    });
    req.on('error', reject);
  });
  req.flushHeaders();
  req.write(text.slice(0, Math.floor(text.length / 2)));
  return {
    answer,
    finish: () => {
      req.end(text.slice(Math.floor(text.length / 2)));
      return answer;
    },
  };
}

describe('Tessera as a process', () => {
  after(async () => {
    await Promise.all(running.map((p) => p.stop('SIGKILL')));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('a bad configuration value stops start-up with a non-zero exit and a message naming the variable', async () => {
    const dir = tempDir();
    const cases: Array<[Record<string, string>, string]> = [
      [{ TESSERA_IDLE_TIMEOUT: 'abc' }, 'TESSERA_IDLE_TIMEOUT'],
      [{ TESSERA_STORE: 'mongo' }, 'TESSERA_STORE'],
      [{ TESSERA_PORT: '99999' }, 'TESSERA_PORT'],
      [{ TESSERA_API_KEYS: 'no-secret-here' }, 'TESSERA_API_KEYS'],
      [{ TESSERA_ABSOLUTE_TIMEOUT: '-5d' }, 'TESSERA_ABSOLUTE_TIMEOUT'],
    ];
    const results = await Promise.all(
      cases.map(([env]) => runTessera({ TESSERA_API_KEYS: `app:${KEY}`, TESSERA_SQLITE_PATH: join(dir, 'never.db'), ...env })),
    );
    results.forEach((result, i) => {
      const [env, variable] = cases[i]!;
      assert.notEqual(result.code, 0, `${JSON.stringify(env)} exited 0`);
      assert.notEqual(result.code, null, `${JSON.stringify(env)} did not exit by itself`);
      assert.match(result.stderr, new RegExp(`${variable}\\b`), `${JSON.stringify(env)}: stderr was ${result.stderr}`);
      assert.doesNotMatch(result.stdout, /tessera listening/);
    });
    // The secret-less entry is not echoed back.
    assert.doesNotMatch(results[3]!.stderr, /no-secret-here/);
  });

  test('SIGTERM: the node keeps serving with readiness failing for the shutdown delay, then refuses connections, finishes in-flight requests and exits 0', async () => {
    const server = await start({ TESSERA_SQLITE_PATH: join(tempDir(), 'drain.db'), TESSERA_SHUTDOWN_DELAY: '1500ms' });
    const signedIn = await call(server, 'POST', '/v1/sessions', { body: { userId: 'u-drain' } });
    assert.equal(signedIn.status, 201);
    const { token } = signedIn.body;
    assert.equal((await call(server, 'GET', '/readyz')).status, 200);
    const inFlight = Array.from({ length: 5 }, (_, i) => slowPost(server, '/v1/session/cart/items', token, { sku: `IN-FLIGHT-${i}`, quantity: i + 1 }));
    await sleep(300);

    server.child.kill('SIGTERM');
    await sleep(300);
    // Inside the delay: balancers see the node as not ready; callers are still served, on connections that close.
    const ready = await call(server, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.type, '/problems/unavailable');
    const served = await call(server, 'GET', '/v1/session?parts=cart', { token });
    assert.equal(served.status, 200);
    assert.equal(served.headers.get('connection'), 'close');

    await sleep(1_500);
    // Past the delay, shutdown has begun while the five requests are still waiting for their bodies.
    assert.equal(server.child.exitCode, null, 'the process waits for in-flight requests');
    assert.equal(await accepts('127.0.0.1', server.port), false, 'new connections are refused while draining');

    const answers = await Promise.all(inFlight.map((r) => r.finish()));
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
    answers.forEach((a, i) => {
      const line = a.body.items.find((item: any) => item.sku === `IN-FLIGHT-${i}`);
      assert.equal(line?.quantity, i + 1, `answer ${i} shows its own line`);
    });
    const exit = await server.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(server.logLines().some((l) => l.msg === 'stopped'), 'logged a clean stop');

    // Everything the drained requests wrote is on disk.
    const db = new Database(join(dirs.at(-1)!, 'drain.db'), { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare('SELECT cart FROM sessions WHERE id = ?').get(signedIn.body.session.id) as { cart: string };
      for (let i = 0; i < 5; i++) assert.ok(row.cart.includes(`IN-FLIGHT-${i}`), `IN-FLIGHT-${i} was written`);
    } finally {
      db.close();
    }
  });

  test('a shutdown delay longer than the drain deadline still ends in a drain and exit 0 (regression: the 10 s deadline counted from SIGTERM and cut the delay off with exit 1)', async () => {
    const server = await start({ TESSERA_SQLITE_PATH: join(tempDir(), 'long-delay.db'), TESSERA_SHUTDOWN_DELAY: '11s' });
    const signedIn = await call(server, 'POST', '/v1/sessions', { body: { userId: 'u-long-delay' } });
    assert.equal(signedIn.status, 201);
    const exit = await server.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, server.stdout());
    assert.ok(server.logLines().some((l) => l.msg === 'stopped'), 'logged a clean stop');
    assert.ok(!server.logLines().some((l) => l.msg === 'shutdown deadline passed; exiting'));
  });

  test('data survives a restart: the same token reads the same cart, prefs and history from the same file', async () => {
    const path = join(tempDir(), 'restart.db');
    const first = await start({ TESSERA_SQLITE_PATH: path });
    const { token, session } = (await call(first, 'POST', '/v1/sessions', { body: { userId: 'u-restart' } })).body;
    assert.equal((await call(first, 'POST', '/v1/session/cart/items', { token, body: { sku: 'KEEP', quantity: 3 } })).status, 200);
    assert.equal((await call(first, 'POST', '/v1/session/history', { token, body: { productId: 'P-KEEP' } })).status, 200);
    const before = (await call(first, 'GET', '/v1/session?parts=cart,history,devices', { token })).body;
    assert.deepEqual(await first.stop('SIGTERM'), { code: 0, signal: null });

    const second = await start({ TESSERA_SQLITE_PATH: path });
    const after = await call(second, 'GET', '/v1/session?parts=cart,history,devices', { token });
    assert.equal(after.status, 200);
    assert.equal(after.body.session.id, session.id);
    assert.deepEqual(after.body.cart, before.cart);
    assert.deepEqual(after.body.cart.items.map((i: any) => [i.sku, i.quantity]), [['KEEP', 3]]);
    assert.deepEqual(after.body.history, before.history);
    assert.deepEqual(after.body.versions, before.versions);
    // Signing in as the same user joins the surviving session.
    const joined = await call(second, 'POST', '/v1/sessions', { body: { userId: 'u-restart' } });
    assert.equal(joined.body.session.id, session.id);
    assert.deepEqual(await second.stop('SIGTERM'), { code: 0, signal: null });
  });

  test('without TESSERA_API_KEYS a generated admin key is printed once, works, and the server listens on loopback only', async () => {
    const server = await startTesseraProcess({ TESSERA_SQLITE_PATH: join(tempDir(), 'nokeys.db'), TESSERA_HOST: '0.0.0.0' });
    running.push(server);
    const printed = /Authorization: Bearer (\S+)/.exec(server.stdout());
    assert.ok(printed, `no key printed: ${server.stdout()}`);
    const key = printed[1]!;
    assert.ok(key.length >= 32, `generated key of ${key.length} characters`);
    const everything = server.stdout() + server.stderr();
    assert.equal(everything.split(key).length - 1, 1, 'the key is printed exactly once and never logged');

    const listening = server.logLines().find((l) => l.msg === 'tessera listening');
    assert.equal(listening?.address, `http://127.0.0.1:${server.port}`);
    const outside = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
    if (outside !== undefined) assert.equal(await accepts(outside!.address, server.port), false, `reachable on ${outside!.address}`);

    assert.equal((await call(server, 'POST', '/v1/sessions', { key, body: {} })).status, 201);
    assert.equal((await call(server, 'GET', '/v1/users/nobody/devices', { key })).status, 404, 'the generated key has the admin scope');
    assert.equal((await call(server, 'POST', '/v1/sessions', { key: flip(key, -1), body: {} })).status, 401, 'a key one character off');
    assert.deepEqual(await server.stop('SIGTERM'), { code: 0, signal: null });
  });

  test('idle expiry slides with use, the absolute lifetime caps it, and the sweeper deletes expired rows from the file', async () => {
    const path = join(tempDir(), 'expiry.db');
    const server = await start({
      TESSERA_SQLITE_PATH: path,
      TESSERA_IDLE_TIMEOUT: '2s',
      TESSERA_ABSOLUTE_TIMEOUT: '3s',
      TESSERA_SWEEP_INTERVAL: '200ms',
      // No replication: rows may go at their deadline (a horizon keeps them longer; see the store conformance).
      TESSERA_REPLICATION_HORIZON: '0s',
    });
    const t0 = Date.now();
    const active = (await call(server, 'POST', '/v1/sessions', { body: { userId: 'u-active' } })).body;
    const idle = (await call(server, 'POST', '/v1/sessions', { body: { userId: 'u-idle' } })).body;
    assert.ok(Date.parse(active.session.expiresAt) - t0 <= 2_500, `expiresAt ${active.session.expiresAt}`);
    const db = new Database(path, { readonly: true, fileMustExist: true });
    const rows = () => (db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n;
    try {
      assert.equal(rows(), 2);
      const at = (ms: number) => sleep(Math.max(0, t0 + ms - Date.now()));

      // Used every 0.5 s, the active session outlives the 2 s idle timeout.
      for (const ms of [500, 1_000, 1_500, 2_000, 2_500]) {
        await at(ms);
        assert.equal((await call(server, 'GET', '/v1/session', { token: active.token })).status, 200, `active at ${ms} ms`);
        if (ms === 2_500) {
          assert.equal((await call(server, 'GET', '/v1/session', { token: idle.token })).status, 401, 'idle after 2 s');
        }
      }
      // The idle session is swept from the file; the active one is still there.
      const swept = Date.now();
      while (rows() > 1 && Date.now() - swept < 2_000) await sleep(50);
      assert.equal(rows(), 1, 'the idle session was swept');
      assert.equal((db.prepare('SELECT count(*) AS n FROM users WHERE user_id = ?').get('u-idle') as { n: number }).n, 0);

      // Activity does not carry it past the absolute lifetime of 3 s.
      await at(2_900);
      assert.equal((await call(server, 'POST', '/v1/session/cart/items', { token: active.token, body: { sku: 'LATE' } })).status, 200);
      await at(3_300);
      assert.equal((await call(server, 'GET', '/v1/session', { token: active.token })).status, 401, 'past the absolute lifetime');
      const capped = Date.now();
      while (rows() > 0 && Date.now() - capped < 2_000) await sleep(50);
      assert.equal(rows(), 0, 'the capped session was swept');

      const metrics = await fetch(`${server.adminUrl}/metrics`).then((r) => r.text());
      assert.match(metrics, /^tessera_swept_sessions_total 2$/m);
      // A user whose session expired starts a new one.
      const again = await call(server, 'POST', '/v1/sessions', { body: { userId: 'u-active' } });
      assert.equal(again.status, 201);
      assert.notEqual(again.body.session.id, active.session.id);
    } finally {
      db.close();
    }
  });

  test('a fault no code path handles is logged at fatal, with its stack, before the process exits 1', () => {
    // The handlers `serve` installs, in a process of their own, met by each kind of fault.
    const faults = {
      'unhandled rejection': "Promise.reject(new Error('boom: a rejection'));",
      'uncaught exception': "setTimeout(() => { throw new Error('boom: an exception'); });",
    };
    for (const [what, fault] of Object.entries(faults)) {
      const script =
        `import { createLogger, exitOnUnhandled } from ${JSON.stringify(join(REPO_ROOT, 'src/logging.ts'))};\n` +
        `exitOnUnhandled(createLogger('info'));\n${fault}\n`;
      const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
      assert.equal(run.status, 1, `${what}: ${run.stderr}`);
      const line = JSON.parse(run.stdout.trim().split('\n').pop()!) as { level: number; msg: string; err: { message: string; stack: string } };
      assert.equal(line.level, 60, what);
      assert.equal(line.msg, `${what}; exiting`);
      assert.match(line.err.message, /^boom: /);
      assert.match(line.err.stack, /boom: /);
    }
  });
});
