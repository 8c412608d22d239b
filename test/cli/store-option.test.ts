/**
 * `--store SPEC` of `tessera session inspect|export|import`: the spec stands for the variables
 * that name a store, and the service's own parsing reads it with the rest of the environment.
 * (Against real servers: test/store/redis-tls.test.ts opens a TLS Redis through it,
 * test/cli/tessera-command.test.ts moves sessions between every engine.)
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandConfig } from '../../src/cli/store-option.js';
import { UsageError } from '../../src/cli/usage.js';
import { ConfigError } from '../../src/config/config.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-store-option-'));
const pem = join(dir, 'file.pem');
writeFileSync(pem, '-----BEGIN CERTIFICATE-----\n');
const tlsFiles = { TESSERA_REDIS_CA: pem, TESSERA_REDIS_CERT: pem, TESSERA_REDIS_KEY: pem };
const base = { TESSERA_API_KEYS: 'app:app-secret-0123456789' };

after(() => rmSync(dir, { recursive: true, force: true }));

describe('--store SPEC', () => {
  test('without --store, the configured store', () => {
    const { store } = commandConfig({ ...base, TESSERA_STORE: 'redis', TESSERA_REDIS_URL: 'rediss://cache:6380', ...tlsFiles }, undefined, 'export');
    assert.deepEqual(store, { engine: 'redis', url: 'rediss://cache:6380', tls: { caFile: pem, certFile: pem, keyFile: pem } });
  });

  test('a rediss:// store takes the TLS files and the stored forms; the configured store is set aside', () => {
    const env = { ...base, TESSERA_STORE: 'redis-cluster', TESSERA_REDIS_NODES: 'old:7000', TESSERA_REDIS_HISTORY_FORM: 'hash', TESSERA_REDIS_USER_SESSIONS_FORM: 'set', ...tlsFiles };
    const { store } = commandConfig(env, 'rediss://new:6380', 'import');
    assert.deepEqual(store, { engine: 'redis', url: 'rediss://new:6380', tls: { caFile: pem, certFile: pem, keyFile: pem }, historyForm: 'hash', userSessionsForm: 'set' });
  });

  test('a plain redis:// store leaves the TLS files to the configured store', () => {
    const { store } = commandConfig({ ...base, TESSERA_STORE: 'redis', TESSERA_REDIS_URL: 'rediss://cache:6380', ...tlsFiles }, 'redis://127.0.0.1:6379', 'export');
    assert.deepEqual(store, { engine: 'redis', url: 'redis://127.0.0.1:6379' });
  });

  test('a cluster: seeds as TESSERA_REDIS_NODES takes them, TLS and credentials from a rediss:// seed', () => {
    const { store } = commandConfig({ ...base, ...tlsFiles }, 'redis-cluster://rediss://ops:s3cret@10.0.0.6:7000,rediss://ops:s3cret@10.0.0.7:7000', 'import');
    assert.deepEqual(store, {
      engine: 'redis-cluster',
      nodes: ['rediss://10.0.0.6:7000', 'rediss://10.0.0.7:7000'],
      tls: { caFile: pem, certFile: pem, keyFile: pem },
      credentials: { username: 'ops', password: 's3cret' },
    });
    const plain = commandConfig({ ...base, ...tlsFiles }, 'redis-cluster://10.0.0.6:7000,10.0.0.7:7000', 'import').store;
    assert.deepEqual(plain, { engine: 'redis-cluster', nodes: ['10.0.0.6:7000', '10.0.0.7:7000'] });
  });

  test('sqlite:PATH', () => {
    const { store } = commandConfig({ ...base, TESSERA_STORE: 'redis', TESSERA_REDIS_URL: 'redis://cache:6379' }, 'sqlite:./copy.db', 'import');
    assert.deepEqual(store, { engine: 'sqlite', path: './copy.db' });
  });

  test('what the service refuses in the spec is a usage error of --store, with no password in it', () => {
    const refused = (spec: string, message: RegExp) =>
      assert.throws(() => commandConfig(base, spec, 'import'), (error: unknown) => {
        assert.ok(error instanceof UsageError, String(error));
        assert.equal(error.command, 'import');
        assert.match(error.message, message);
        assert.ok(!error.message.includes('s3cret'), error.message);
        return true;
      });
    refused('redis-cluster://10.0.0.6', /^--store redis-cluster:\/\/10\.0\.0\.6: "10\.0\.0\.6" is not host:port$/);
    refused('redis-cluster://redis://ops@10.0.0.6:7000', /^--store redis-cluster:\/\/redis:\/\/…@10\.0\.0\.6:7000: has credentials without a ":"/);
    refused('redis-cluster://, ,', /^--store redis-cluster:\/\/, ,: list the cluster's nodes/);
    refused('sqlite:', /^--store sqlite: needs a path/);
    refused('postgres://db', /is not sqlite:PATH/);
  });

  test('a bad variable outside the spec stays the variable\'s error', () => {
    assert.throws(() => commandConfig({ ...base, TESSERA_REDIS_CA: join(dir, 'missing.pem') }, 'rediss://new:6380', 'export'), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.variable, 'TESSERA_REDIS_CA');
      return true;
    });
  });
});
