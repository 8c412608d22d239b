/** The Redis engine, on a redis-server of its own, against the conformance suite: with either form of the history. */
import { after, before } from 'node:test';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { conformance } from './conformance.js';

let server: RedisServer;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server.stop();
});

conformance('redis', (settings, place) =>
  RedisStore.connect({ ...settings, engine: 'redis', url: server.url, ...(place === undefined ? {} : { tuning: { keyPrefix: `ts-${place}:` } }) }),
);

// A node set to keep histories as hashes, as earlier releases did (D93; docs/redis.md, "Upgrading").
conformance('redis, histories kept as hashes,', (settings, place) =>
  RedisStore.connect({ ...settings, engine: 'redis', url: server.url, tuning: { historyForm: 'hash', keyPrefix: place === undefined ? 'th:' : `th-${place}:` } }),
);
