/**
 * Two real API processes with their own L1 caches on one Redis: a revoke or a
 * write through one is seen by the next request through the other, every time,
 * also while the nodes' Redis connections are being cut and re-established.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { startTesseraProcesses, type TesseraProcess } from '../support/process.js';
import { APP_KEY } from '../support/tessera-server.js';

const ROUNDS = 500;

interface Reply {
  readonly status: number;
  readonly body: any;
}

async function call(node: TesseraProcess, method: string, path: string, token?: string, body?: unknown): Promise<Reply> {
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${APP_KEY}`,
      ...(token ? { 'tessera-token': token } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  }).catch((error: Error) => {
    // A refused or broken connection means the node is gone or failing: say what it last wrote.
    const state = node.child.exitCode !== null || node.child.signalCode !== null ? `exited (${node.child.exitCode ?? node.child.signalCode})` : 'still running';
    const cause = (error.cause as { code?: string } | undefined)?.code ?? error.message;
    throw new Error(`${method} ${path} failed (${cause}); the node is ${state}; its last output:\n${(node.stderr() + node.stdout()).slice(-3000)}`, { cause: error });
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** Repeats a request while the store is unavailable (503): the answer that counts is the first real one. */
async function settled(attempt: () => Promise<Reply>): Promise<Reply> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const reply = await attempt();
    if (reply.status !== 503 || Date.now() > deadline) return reply;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function metric(node: TesseraProcess, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${node.adminUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => pattern.test(line))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

for (const cutting of [false, true]) {
  describe(`L1 coherence across two nodes${cutting ? ' while their Redis connections are cut' : ''}`, () => {
    let redis: RedisServer;
    let nodeA: TesseraProcess;
    let nodeB: TesseraProcess;
    let cutter: NodeJS.Timeout | undefined;
    let cuts = 0;

    before(async () => {
      redis = await startRedis();
      const env = { TESSERA_STORE: 'redis', TESSERA_REDIS_URL: redis.url, TESSERA_API_KEYS: `app:${APP_KEY}`, TESSERA_L1: 'on', TESSERA_LOG_LEVEL: 'info' };
      [nodeA, nodeB] = (await startTesseraProcesses([{ ...env, TESSERA_NODE_ID: 'a' }, { ...env, TESSERA_NODE_ID: 'b' }])) as [TesseraProcess, TesseraProcess];
      if (cutting) {
        cutter = setInterval(() => {
          redis.command('CLIENT', 'KILL', 'TYPE', 'normal').then(
            () => (cuts += 1),
            () => {},
          );
        }, 150);
      }
    });

    after(async () => {
      if (cutter) clearInterval(cutter);
      await Promise.all([nodeA?.stop(), nodeB?.stop()]);
      await redis?.stop();
    });

    test(`${ROUNDS} rounds of "revoke through A, validate through B" accept no revoked token`, async () => {
      const first = await settled(() => call(nodeA, 'POST', '/v1/sessions', undefined, { userId: 'u-revoke' }));
      assert.equal(first.status, 201);
      const owner = first.body.token as string;
      let staleAccepts = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const signedIn = await settled(() => call(nodeA, 'POST', '/v1/sessions', undefined, { userId: 'u-revoke' }));
        assert.equal(signedIn.status, 201);
        const { token, session } = signedIn.body;
        // B caches this session's parts while the device is live.
        assert.equal((await settled(() => call(nodeB, 'GET', '/v1/session?parts=cart,prefs,history', token))).status, 200);
        const revoked = await settled(() => call(nodeA, 'DELETE', `/v1/session/devices/${session.deviceId}`, owner));
        assert.ok(revoked.status === 204 || revoked.status === 404, `revoke answered ${revoked.status}`);
        const seen = await settled(() => call(nodeB, 'GET', '/v1/session?parts=cart,prefs,history', token));
        if (seen.status !== 401) staleAccepts += 1;
      }
      assert.equal(staleAccepts, 0);
    });

    test(`${ROUNDS} rounds of "write the cart through A, read through B" see every write`, async () => {
      const guest = await settled(() => call(nodeA, 'POST', '/v1/sessions', undefined, {}));
      assert.equal(guest.status, 201);
      const { token } = guest.body;
      let staleReads = 0;
      for (let round = 1; round <= ROUNDS; round++) {
        const written = await settled(() => call(nodeA, 'PUT', '/v1/session/cart/items/SKU', token, { quantity: (round % 999) + 1 }));
        assert.equal(written.status, 200);
        const read = await settled(() => call(nodeB, 'GET', '/v1/session/cart', token));
        assert.equal(read.status, 200);
        if (read.body.items[0]?.quantity !== (round % 999) + 1) staleReads += 1;
      }
      assert.equal(staleReads, 0);
      if (cutting) assert.ok(cuts > 10, `only ${cuts} cuts happened`);
    });

    if (!cutting) {
      test('an unchanged part is served from L1 once Redis confirms its version, and fewer bytes cross the wire', async () => {
        const { token } = (await call(nodeA, 'POST', '/v1/sessions', undefined, {})).body;
        for (let i = 0; i < 20; i++) await call(nodeA, 'POST', '/v1/session/history', token, { productId: `product-${i}-${'x'.repeat(60)}` });
        const hitsBefore = await metric(nodeB, /^tessera_cache_lookups_total\{.*part="history".*outcome="hit"/);
        const bytesBefore = await metric(nodeB, /^tessera_store_read_bytes_sum/);
        await call(nodeB, 'GET', '/v1/session/history', token);
        const bytesFirst = (await metric(nodeB, /^tessera_store_read_bytes_sum/)) - bytesBefore;
        await call(nodeB, 'GET', '/v1/session/history', token);
        const bytesSecond = (await metric(nodeB, /^tessera_store_read_bytes_sum/)) - bytesBefore - bytesFirst;
        assert.equal((await metric(nodeB, /^tessera_cache_lookups_total\{.*part="history".*outcome="hit"/)) - hitsBefore, 1);
        assert.ok(bytesSecond < bytesFirst / 2, `first read ${bytesFirst} bytes, cached read ${bytesSecond} bytes`);
      });

      test('each request times its one call to Redis, labelled by script, and the times add up to less than the requests took', async () => {
        const { token } = (await call(nodeA, 'POST', '/v1/sessions', undefined, {})).body;
        const calls = (script: string, what: 'count' | 'sum') => metric(nodeB, new RegExp(`^tessera_store_call_duration_seconds_${what}\\{call="${script}"\\}`));
        const requests = (what: 'count' | 'sum') => metric(nodeB, new RegExp(`^tessera_http_request_duration_seconds_${what}\\{.*route="/v1/session/cart`));
        const before = { loads: await calls('tesseraLoad', 'count'), applies: await calls('tesseraApply', 'count'), seconds: (await calls('tesseraLoad', 'sum')) + (await calls('tesseraApply', 'sum')), requests: await requests('count'), requestSeconds: await requests('sum') };
        for (let i = 0; i < 3; i++) assert.equal((await call(nodeB, 'GET', '/v1/session/cart', token)).status, 200);
        for (let i = 0; i < 2; i++) assert.equal((await call(nodeB, 'PUT', '/v1/session/cart/items/SKU-T', token, { quantity: i + 1 })).status, 200);
        assert.equal((await calls('tesseraLoad', 'count')) - before.loads, 3);
        assert.equal((await calls('tesseraApply', 'count')) - before.applies, 2);
        const storeSeconds = (await calls('tesseraLoad', 'sum')) + (await calls('tesseraApply', 'sum')) - before.seconds;
        const requestSeconds = (await requests('sum')) - before.requestSeconds;
        assert.equal((await requests('count')) - before.requests, 5);
        assert.ok(storeSeconds > 0 && storeSeconds < requestSeconds, `store ${storeSeconds} s within requests ${requestSeconds} s`);
      });
    }
  });
}
