/**
 * A Redis Cluster whose nodes want a password (`requirepass`, and `masterauth` for their
 * replicas), as managed clusters do: the credentials go in a seed of `TESSERA_REDIS_NODES`, and
 * every node — the ones the client learns of too — is signed in with them. A wrong password or
 * none stops the start at once with Redis's reply, never the password.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.js';
import { explainStoreError } from '../../src/config/diagnostics.js';
import { createLogger } from '../../src/logging.js';
import { createTessera } from '../../src/tessera.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-harness.js';
import { startFailure } from '../support/tessera-server.js';

const PASSWORD = 'cl-pw/with:odd@chars';

describe('a Redis Cluster that wants a password', { timeout: 120_000 }, () => {
  let cluster: RedisCluster;
  const configWith = (nodes: string) => loadConfig({ TESSERA_API_KEYS: 'app:app-secret-0123456789', TESSERA_STORE: 'redis-cluster', TESSERA_REDIS_NODES: nodes });

  before(async () => {
    cluster = await startRedisCluster();
    // Set once the cluster is formed (the harness forms and checks it without a password).
    for (const port of cluster.ports) {
      await cluster.command(port, 'CONFIG', 'SET', 'masterauth', PASSWORD);
      await cluster.command(port, 'CONFIG', 'SET', 'requirepass', PASSWORD);
    }
  });

  after(async () => {
    await cluster?.stop();
  });

  test('with the password in a seed: sessions are written on every master', async () => {
    const seed = `redis://:${encodeURIComponent(PASSWORD)}@${cluster.nodes[0]}`;
    const config = configWith([seed, ...cluster.nodes.slice(1)].join(','));
    assert.deepEqual(config.store, { engine: 'redis-cluster', nodes: [`redis://${cluster.nodes[0]}`, ...cluster.nodes.slice(1)], credentials: { password: PASSWORD } });
    const tessera = await createTessera(config, { logger: createLogger('silent') });
    try {
      // Sessions land in slots of all three masters: the client signs in to the nodes it learns of too.
      for (let i = 0; i < 24; i += 1) {
        const signIn = await tessera.app.inject({ method: 'POST', url: '/v1/sessions', headers: { authorization: 'Bearer app-secret-0123456789' }, payload: {} });
        assert.equal(signIn.statusCode, 201, signIn.body);
      }
    } finally {
      await tessera.close();
    }
  });

  test('a wrong password or none: the start stops at once, saying which, never showing the password', async () => {
    const failure = async (nodes: string): Promise<string> => {
      const config = configWith(nodes);
      const error = await startFailure(config, `with ${nodes}`);
      return explainStoreError(config.store, error)?.message ?? String(error);
    };
    const wrong = await failure(`redis://:wr0ng-pw@${cluster.nodes[0]}`);
    assert.match(wrong, /^TESSERA_REDIS_NODES: the Redis Cluster at the seeds .+ refused the credentials in the seeds \(WRONGPASS /);
    assert.doesNotMatch(wrong, /wr0ng-pw/);
    assert.match(await failure(cluster.nodes[0]!), /wants a password and the seeds give none \(NOAUTH /);
  });

  test('the seeds name one identity', () => {
    assert.throws(() => configWith(`redis://:a@${cluster.nodes[0]},redis://:b@${cluster.nodes[1]}`), {
      message: 'TESSERA_REDIS_NODES: names different credentials for different servers; one connection has one identity',
    });
    assert.throws(() => configWith(`redis://justaname@${cluster.nodes[0]}`), /credentials without a ":" before the password/);
  });
});
