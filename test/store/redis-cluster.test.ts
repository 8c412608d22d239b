/** The Redis Cluster engine, on a 6-node cluster of its own, against the conformance suite. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { TESSERA_FUNCTIONS } from '../../src/store/redis/scripts.js';
import { keySlot } from '../support/key-slot.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-harness.js';
import { conformance } from './conformance.js';
import { admin, applied, loadAll, settings, signIn, stamp } from './conformance/support.js';

let cluster: RedisCluster;
before(async () => {
  cluster = await startRedisCluster();
});
after(async () => {
  await cluster.stop();
});

conformance('redis-cluster', (settings, place) =>
  RedisStore.connect({ ...settings, engine: 'redis-cluster', nodes: cluster.nodes, ...(place === undefined ? {} : { tuning: { keyPrefix: `ts-${place}:` } }) }),
);

describe('Redis Cluster: what an ended session leaves on its node', { timeout: 60_000 }, () => {
  /** Which of the keys exist, asked of the master that owns their slot. */
  async function existing(keys: readonly string[]): Promise<string[]> {
    const slot = keySlot(keys[0]!);
    const owner = (await cluster.topology()).find((n) => n.role === 'master' && n.slotRanges.some(([from, to]) => slot >= from && slot <= to));
    assert.ok(owner, `a master owns slot ${slot}`);
    const found: string[] = [];
    for (const key of keys) if ((await cluster.command(owner.port, 'EXISTS', key)) === 1) found.push(key);
    return found;
  }
  const sessionKeys = (id: string) => ['m', 'd', 'c', 'p', 'h'].map((suffix) => `ts:{${id}}:${suffix}`);

  it('an end, by a device or by replication, deletes the data keys and the user index at once; only the metadata tombstone stays', async () => {
    const store = await RedisStore.connect({ ...settings(), engine: 'redis-cluster', nodes: cluster.nodes });
    try {
      const withData = async (userId: string) => {
        const s = await signIn(store, { userId });
        await applied(store, s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
        await applied(store, s.id, s.caller, { kind: 'prefs.patch', patch: { theme: 'dark' } });
        await applied(store, s.id, s.caller, { kind: 'history.add', productId: 'p1', viewedAt: Date.now() });
        assert.deepEqual(await existing(sessionKeys(s.id)), sessionKeys(s.id));
        return s;
      };

      // Logout everywhere from one of the user's own devices.
      const byDevice = await withData(`cluster-end-${Math.random()}`);
      await applied(store, byDevice.id, byDevice.caller, { kind: 'session.end' });
      assert.deepEqual(await existing(sessionKeys(byDevice.id)), [`ts:{${byDevice.id}}:m`]);
      assert.deepEqual(await existing([`ts:u:{${byDevice.meta.userId}}`]), []);

      // The end another region made, arriving as a metadata record.
      const replicated = await withData(`cluster-replicated-end-${Math.random()}`);
      const { meta } = await loadAll(store, replicated.id);
      await store.merge([{ sessionId: replicated.id, part: 'meta', state: { ...meta, endedAt: Date.now() }, hlc: stamp(), origin: 'us' }], Date.now());
      assert.deepEqual(await existing(sessionKeys(replicated.id)), [`ts:{${replicated.id}}:m`]);
      assert.deepEqual(await existing([`ts:u:{${replicated.meta.userId}}`]), []);
      assert.equal(await store.load(replicated.id, [], Date.now()), null);

      // Ended by an operator, a guest's session too.
      const guest = await signIn(store);
      await applied(store, guest.id, guest.caller, { kind: 'cart.add', sku: 'G', quantity: 1 });
      await applied(store, guest.id, admin, { kind: 'session.end' });
      assert.deepEqual(await existing(sessionKeys(guest.id)), [`ts:{${guest.id}}:m`]);
    } finally {
      await store.close();
    }
  });
});

describe('Redis Cluster: the Lua function library', { timeout: 60_000 }, () => {
  it('a master without the library (restarted empty, newly added) is given it by the first call to its slots', async () => {
    const store = await RedisStore.connect({ ...settings(), engine: 'redis-cluster', nodes: cluster.nodes });
    try {
      const masters = (await cluster.topology()).filter((n) => n.role === 'master' && !n.failed);
      for (const master of masters) await cluster.command(master.port, 'FUNCTION', 'FLUSH');
      // Sessions until every master owns two of them.
      const owner = (id: string) => {
        const slot = keySlot(`ts:{${id}}:m`);
        return masters.find((n) => n.slotRanges.some(([from, to]) => slot >= from && slot <= to))!.port;
      };
      const sessions = [];
      const owned = new Map<number, number>();
      while (masters.some((n) => (owned.get(n.port) ?? 0) < 2)) {
        const s = await signIn(store);
        sessions.push(s);
        owned.set(owner(s.id), (owned.get(owner(s.id)) ?? 0) + 1);
      }
      for (const s of sessions) await applied(store, s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
      for (const s of sessions) assert.deepEqual(Object.keys((await store.load(s.id, ['cart'], Date.now()))?.cart?.lines ?? {}), ['A']);
      for (const master of masters) {
        const list = (await cluster.command(master.port, 'FUNCTION', 'LIST')) as unknown[][];
        assert.deepEqual(list.map((entry) => entry[entry.indexOf('library_name') + 1]), [TESSERA_FUNCTIONS.name], `master ${master.port}`);
      }
    } finally {
      await store.close();
    }
  });
});
