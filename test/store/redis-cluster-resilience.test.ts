/**
 * Redis Cluster engine under topology changes, on a 6-node cluster of its
 * own: slots moved by `redis-cli --cluster reshard` and `rebalance` while
 * writes run (nothing may fail, nothing acknowledged may be lost), and a
 * master killed (its sessions fail fast, then recover by themselves once its
 * replica is promoted; the rest keeps working throughout).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { quantityOf } from '../../src/domain/cart.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { StoreUnavailableError, type SessionStore } from '../../src/store/session-store.js';
import { keySlot } from '../support/key-slot.js';
import { startRedisCluster, type ClusterNode, type RedisCluster } from '../support/redis-harness.js';
import { loadAll, settings, signIn, stamp, type SignedIn } from './conformance/support.js';

let cluster: RedisCluster;
let store: SessionStore;
before(async () => {
  cluster = await startRedisCluster({ nodeTimeoutMs: 1000 });
  store = await RedisStore.connect({ ...settings({ maxQuantity: 1_000_000 }), engine: 'redis-cluster', nodes: cluster.nodes });
});
after(async () => {
  await store?.close();
  await cluster?.stop();
});

const inRanges = (slot: number, ranges: ClusterNode['slotRanges']): boolean => ranges.some(([from, to]) => slot >= from && slot <= to);

/** Signs in until `count` sessions have their slot in `ranges` (and `count` elsewhere when `others`). */
async function sessionsIn(ranges: ClusterNode['slotRanges'], count: number): Promise<{ inside: SignedIn[]; outside: SignedIn[] }> {
  const inside: SignedIn[] = [];
  const outside: SignedIn[] = [];
  while (inside.length < count) {
    const s = await signIn(store);
    if (inRanges(keySlot(`{${s.id}}`), ranges)) inside.push(s);
    else if (outside.length < count) outside.push(s);
  }
  return { inside, outside };
}

/** Adds 1 to a cart line of random sessions from `workers` loops until stopped; counts acknowledged adds. */
function writeLoop(sessions: readonly SignedIn[], workers: number) {
  const acknowledged = new Map<string, number>(sessions.map((s) => [s.id, 0]));
  const failures: unknown[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = w; running; i += workers) {
      const s = sessions[i % sessions.length]!;
      try {
        const result = await store.apply(s.id, s.caller, { kind: 'cart.add', sku: 'N', quantity: 1 }, { now: Date.now(), hlc: stamp() });
        if (result.status === 'applied') acknowledged.set(s.id, acknowledged.get(s.id)! + 1);
        else failures.push(result);
      } catch (error) {
        failures.push(error);
      }
    }
  });
  return {
    acknowledged,
    failures,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function masters(): Promise<ClusterNode[]> {
  return (await cluster.topology()).filter((n) => n.role === 'master' && !n.failed && n.slotRanges.length > 0);
}

describe('Redis Cluster topology changes', { timeout: 90_000 }, () => {
  it('slots moved by reshard and rebalance under a write loop: no failed operation, no lost write', async (t) => {
    const [from, to] = await masters();
    assert.ok(from && to);
    const [firstRange] = from.slotRanges;
    const moving: ClusterNode['slotRanges'] = [[firstRange![0], firstRange![0] + 799]];
    const { inside, outside } = await sessionsIn(moving, 30);
    const loop = writeLoop([...inside, ...outside], 8);
    await sleep(200);
    const reshard = await cluster.cli([
      '--cluster', 'reshard', cluster.nodes[0]!,
      '--cluster-from', from.id, '--cluster-to', to.id, '--cluster-slots', '800', '--cluster-yes',
    ]);
    await cluster.waitUntilHealthy();
    const owner = (await masters()).find((m) => inRanges(moving[0]![0], m.slotRanges));
    assert.equal(owner?.id, to.id, 'the sessions\' slots moved');
    // Rebalancing then moves slots again (some of them back).
    const rebalance = await cluster.cli(['--cluster', 'rebalance', cluster.nodes[0]!]);
    await cluster.waitUntilHealthy();
    await sleep(200);
    await loop.stop();

    const moved = (reshard.match(/Moving slot/g) ?? []).length + (rebalance.match(/#/g) ?? []).length;
    const writes = [...loop.acknowledged.values()].reduce((a, b) => a + b, 0);
    t.diagnostic(`${writes} acknowledged writes while ${moved} slot moves ran`);
    assert.deepEqual(loop.failures, []);
    assert.ok(writes > 500, `the loop kept writing (${writes})`);
    for (const s of [...inside, ...outside]) {
      const cart = (await loadAll(store, s.id)).cart!;
      assert.equal(quantityOf(cart.lines.N), loop.acknowledged.get(s.id), `session ${s.id}`);
    }
  });

  it('a session whose keys moved while its slot is still migrating is served through ASK, cart or no cart', async () => {
    const s = await signIn(store);
    const slot = keySlot(`{${s.id}}`);
    const nodes = await masters();
    const source = nodes.find((n) => inRanges(slot, n.slotRanges))!;
    const target = nodes.find((n) => n.id !== source.id)!;
    assert.equal(await cluster.command(target.port, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id), 'OK');
    assert.equal(await cluster.command(source.port, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id), 'OK');
    const keys = (await cluster.command(source.port, 'CLUSTER', 'GETKEYSINSLOT', slot, 1000)) as string[];
    assert.ok(keys.includes(`ts:{${s.id}}:c`), 'every part key exists from the start');
    assert.equal(await cluster.command(source.port, 'MIGRATE', '127.0.0.1', target.port, '', 0, 5000, 'KEYS', ...keys), 'OK');
    // Mid-migration: the source answers ASK, the target serves the session's keys.
    assert.ok(await store.load(s.id, ['cart'], Date.now()));
    const added = await store.apply(s.id, s.caller, { kind: 'cart.add', sku: 'ASKED', quantity: 2 }, { now: Date.now(), hlc: stamp() });
    assert.equal(added.status, 'applied');
    for (const node of nodes) await cluster.command(node.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
    await cluster.waitUntilHealthy();
    assert.equal(quantityOf((await loadAll(store, s.id)).cart!.lines.ASKED), 2);
  });

  it('a killed master: its sessions fail fast, the others keep working, and all recover once its replica is promoted', async (t) => {
    const [victim] = await masters();
    assert.ok(victim);
    const { inside, outside } = await sessionsIn(victim.slotRanges, 5);
    for (const s of [...inside, ...outside]) {
      await store.apply(s.id, s.caller, { kind: 'cart.add', sku: 'K', quantity: 3 }, { now: Date.now(), hlc: stamp() });
    }
    // Make sure the replica holds every acknowledged write before the master dies (async replication).
    assert.equal(await cluster.command(victim.port, 'WAIT', 1, 2000), 1);
    await cluster.killNode(victim.port);
    const killedAt = Date.now();

    const victimSession = inside[0]!;
    const started = Date.now();
    await assert.rejects(store.load(victimSession.id, [], Date.now()), StoreUnavailableError);
    assert.ok(Date.now() - started < 2_500, `failed after ${Date.now() - started} ms`);
    assert.ok(await store.load(outside[0]!.id, [], Date.now()), 'sessions of other masters are served during the failover');
    await store.ping();

    let recoveredAt = 0;
    let lastError: unknown;
    while (Date.now() - killedAt < 20_000) {
      const attempt = Date.now();
      try {
        await store.apply(victimSession.id, victimSession.caller, { kind: 'cart.add', sku: 'K', quantity: 1 }, { now: Date.now(), hlc: stamp() });
        recoveredAt = Date.now();
        break;
      } catch (error) {
        lastError = error;
        assert.ok(error instanceof StoreUnavailableError, String(error));
        assert.ok(Date.now() - attempt < 2_500, "every failed attempt failed fast (deadline 1.5 s, slack for a loaded machine)");
        await sleep(100);
      }
    }
    if (recoveredAt === 0) {
      const topology = await cluster.topology();
      throw new Error(`no recovery; last error ${String((lastError as Error)?.cause ?? lastError)}; topology ${JSON.stringify(topology)}`);
    }
    t.diagnostic(`writes to the killed master's slots recovered ${recoveredAt - killedAt} ms after the kill`);
    for (const s of inside) {
      const expected = s === victimSession ? 4 : 3;
      assert.equal(quantityOf((await loadAll(store, s.id)).cart!.lines.K), expected);
    }
    for (const s of outside) assert.equal(quantityOf((await loadAll(store, s.id)).cart!.lines.K), 3);
  });
});
