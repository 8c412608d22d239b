/** The Redis engine, on a redis-server of its own, against the conformance suite. */
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
