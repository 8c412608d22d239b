/** The Redis Cluster engine, on a 6-node cluster of its own, against the conformance suite. */
import { after, before } from 'node:test';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-harness.js';
import { conformance } from './conformance.js';

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
