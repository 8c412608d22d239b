/** The Redis engine, on a redis-server of its own, against the conformance suite: writing this release's stored forms, and those of earlier releases. */
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

// A node set to write what earlier releases wrote and read: histories as hashes (D93), a user's
// sessions as a set (D94; docs/redis.md, "Upgrading").
conformance('redis, histories kept as hashes and user sessions as sets,', (settings, place) =>
  RedisStore.connect({
    ...settings,
    engine: 'redis',
    url: server.url,
    tuning: { historyForm: 'hash', userSessionsForm: 'set', keyPrefix: place === undefined ? 'th:' : `th-${place}:` },
  }),
);
