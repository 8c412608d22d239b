/**
 * Redis engine when Redis is not there: calls fail quickly with
 * StoreUnavailableError (the service answers 503), never hang, and the same
 * store works again once Redis is back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { StoreUnavailableError, type SessionStore } from '../../src/store/session-store.js';
import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { applied, settings, signIn } from './conformance/support.js';

/** How long a call may take to give up: the command deadline (1.5 s) and a second of slack for a loaded machine. */
const FAIL_WITHIN_MS = 2_500;

async function failsQuickly(what: string, call: () => Promise<unknown>): Promise<void> {
  const started = Date.now();
  await assert.rejects(call(), (error) => {
    assert.ok(error instanceof StoreUnavailableError, `${what}: ${String(error)}`);
    assert.ok(error.cause !== undefined, `${what}: the cause is kept`);
    return true;
  });
  const elapsed = Date.now() - started;
  assert.ok(elapsed < FAIL_WITHIN_MS, `${what} took ${elapsed} ms to fail`);
}

async function eventually(what: string, call: () => Promise<unknown>, withinMs = 8_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      await call();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what} did not recover within ${withinMs} ms`, { cause: error });
      await sleep(100);
    }
  }
}

describe('Redis outage', { timeout: 60_000 }, () => {
  let server: RedisServer;
  let store: SessionStore;
  before(async () => {
    server = await startRedis();
    store = await RedisStore.connect({ ...settings(), engine: 'redis', url: server.url });
  });
  after(async () => {
    await store.close();
    await server.stop();
  });

  it('a stopped server makes ping, load and apply fail fast; the same store works again after a restart', async () => {
    const s = await signIn(store);
    await server.kill();
    await failsQuickly('ping', () => store.ping());
    await failsQuickly('load', () => store.load(s.id, ['cart'], Date.now()));
    await failsQuickly('apply', () => store.apply(s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 }, { now: Date.now(), hlc: 'h' }));
    await failsQuickly('create', () => signIn(store, { userId: 'nobody' }));

    await server.restart();
    await eventually('ping', () => store.ping());
    // The restarted server is empty (no persistence in tests): the old session is gone, new ones work.
    assert.equal(await store.load(s.id, [], Date.now()), null);
    const again = await signIn(store, { userId: `back-${Math.random()}` });
    await applied(store, again.id, again.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
    assert.ok(await store.load(again.id, ['cart'], Date.now()));
  });

  it('a frozen server (connection open, no answers) fails calls at the deadline instead of hanging', async () => {
    const s = await signIn(store);
    server.pause();
    try {
      await failsQuickly('ping', () => store.ping());
      await failsQuickly('load', () => store.load(s.id, [], Date.now()));
    } finally {
      server.resume();
    }
    await eventually('load', async () => assert.ok(await store.load(s.id, [], Date.now())));
  });

  it('a connection that stays open but answers nothing is replaced, with no restart of Redis', async () => {
    const proxy = await startTcpProxy(server.port);
    const viaProxy = await RedisStore.connect({ ...settings(), engine: 'redis', url: `redis://127.0.0.1:${proxy.port}` });
    try {
      const s = await signIn(viaProxy);
      assert.equal(proxy.accepted, 1);
      proxy.silenceOpenConnections();
      await failsQuickly('load', () => viaProxy.load(s.id, [], Date.now()));
      await eventually('load', async () => assert.equal((await viaProxy.load(s.id, [], Date.now()))?.meta.id, s.id));
      assert.equal(proxy.accepted, 2, 'one new connection replaced the silent one');
    } finally {
      await viaProxy.close();
      await proxy.close();
    }
  });

  it('closing a store whose server froze with commands in flight does not hang', async () => {
    const other = await RedisStore.connect({ ...settings(), engine: 'redis', url: server.url });
    server.pause();
    try {
      const pending = other.ping().catch(() => undefined);
      const started = Date.now();
      await other.close();
      assert.ok(Date.now() - started < FAIL_WITHIN_MS, `close took ${Date.now() - started} ms`);
      await pending;
    } finally {
      server.resume();
    }
  });

  it('connect fails with StoreUnavailableError when nothing listens', async () => {
    const started = Date.now();
    await assert.rejects(
      RedisStore.connect({ ...settings(), engine: 'redis', url: 'redis://127.0.0.1:1', tuning: { startupTimeoutMs: 500 } }),
      StoreUnavailableError,
    );
    assert.ok(Date.now() - started < 1_500);
  });
});
