/**
 * Configuration validation: every refused value names its variable and says
 * what is expected, without echoing a secret; start-up failures that are not
 * malformed values (store, listen) are explained in terms of the variable to check.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DURATION_BOUNDS, formatDuration, loadConfig } from '../../src/config/config.js';
import { StartupError, explainListenError, explainStoreError } from '../../src/config/diagnostics.js';
import { createTessera } from '../../src/tessera.js';
import { createLogger } from '../../src/logging.js';
import { StoreUnavailableError } from '../../src/store/session-store.js';
import { nkeys } from '@nats-io/transport-node';
import { makeNatsAccounts } from '../support/nats-accounts.js';
import { startRedis } from '../support/redis-harness.js';
import { startFailure, startTessera } from '../support/tessera-server.js';

const DAY = 86_400_000;
const BASE = { TESSERA_API_KEYS: 'app:app-secret-0123456789', TESSERA_SQLITE_PATH: ':memory:' };
const WEBHOOKS = { TESSERA_WEBHOOK_URLS: 'http://127.0.0.1:9/hook', TESSERA_WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}` };
const dirs: string[] = [];

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-config-'));
  dirs.push(dir);
  return dir;
}

/** Asserts that loading `env` fails with a ConfigError for `variable` whose message matches `message`. */
function refused(env: Record<string, string>, variable: string, message: RegExp): ConfigError {
  let caught: unknown;
  try {
    loadConfig({ ...BASE, ...env });
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `${JSON.stringify(env)} was accepted (or threw ${String(caught)})`);
  assert.equal(caught.variable, variable, `${JSON.stringify(env)}: ${caught.message}`);
  assert.ok(caught.message.startsWith(`${variable}: `), caught.message);
  assert.match(caught.message, message, `${JSON.stringify(env)}`);
  return caught;
}

describe('duration bounds', () => {
  const variables = Object.keys(DURATION_BOUNDS) as Array<keyof typeof DURATION_BOUNDS>;

  test('the documented bounds', () => {
    assert.deepEqual(
      Object.fromEntries(variables.map((v) => [v, DURATION_BOUNDS[v].map(formatDuration).join('..')])),
      {
        TESSERA_IDLE_TIMEOUT: '1s..3650d',
        TESSERA_ABSOLUTE_TIMEOUT: '1s..3650d',
        TESSERA_ROTATION_GRACE: '0s..1h',
        TESSERA_TRANSIENT_IDLE_TIMEOUT: '1s..3650d',
        TESSERA_TRANSIENT_ABSOLUTE_TIMEOUT: '1s..3650d',
        TESSERA_SLIDE_AFTER: '0s..7d',
        TESSERA_SWEEP_INTERVAL: '100ms..1d',
        TESSERA_L1_TTL: '100ms..1d',
        TESSERA_SHUTDOWN_DELAY: '0s..5m',
        TESSERA_REPLICATION_HORIZON: '0s..30d',
        TESSERA_HEADERS_TIMEOUT: '100ms..10m',
        TESSERA_REQUEST_TIMEOUT: '100ms..1h',
        TESSERA_CONNECTION_TIMEOUT: '1s..1h',
        TESSERA_KEEP_ALIVE_TIMEOUT: '1s..1h',
        TESSERA_CONSISTENCY_WAIT: '0s..10s',
        TESSERA_REPAIR_INTERVAL: '1s..1d',
        TESSERA_REPLICA_CHECK_INTERVAL: '1s..1h',
        TESSERA_WEBHOOK_TIMEOUT: '100ms..1m',
        TESSERA_WEBHOOK_BACKOFF: '10ms..5m',
        TESSERA_WEBHOOK_RETRY_FOR: '1s..30d',
      },
    );
  });

  // TESSERA_SLIDE_AFTER must also stay below the idle timeout: test its upper bound with the longest idle.
  // The head timeout must not exceed the request timeout: test the request timeout's bounds with the shortest head timeout.
  const GLOBAL_MODE = { TESSERA_NATS_URL: 'nats://127.0.0.1:4222', TESSERA_REGIONS: 'local,us' };
  const context = (variable: string): Record<string, string> =>
    variable === 'TESSERA_SLIDE_AFTER'
      ? { TESSERA_IDLE_TIMEOUT: '3650d' }
      : variable === 'TESSERA_REQUEST_TIMEOUT'
        ? { TESSERA_HEADERS_TIMEOUT: '100ms' }
        : ['TESSERA_CONSISTENCY_WAIT', 'TESSERA_REPAIR_INTERVAL', 'TESSERA_REPLICA_CHECK_INTERVAL'].includes(variable)
          ? GLOBAL_MODE
          : variable.startsWith('TESSERA_WEBHOOK_')
            ? WEBHOOKS
            : {};

  const tooLong = variables.flatMap((variable) => {
    const max = DURATION_BOUNDS[variable][1];
    return [
      { variable, text: '999999999d' },
      { variable, text: `${max + 1}ms` },
      { variable, text: `${max / 1000 + 1}` }, // a bare number counts as seconds
    ];
  });
  for (const { variable, text } of tooLong) {
    test(`${variable}=${text} is refused as too long, naming the range`, () => {
      const [min, max] = DURATION_BOUNDS[variable];
      refused({ ...context(variable), [variable]: text }, variable, new RegExp(`"${text}" is too long; use a duration from ${formatDuration(min)} to ${formatDuration(max)}$`));
    });
  }

  const tooShort = variables.filter((v) => DURATION_BOUNDS[v][0] > 0).map((variable) => ({ variable, text: `${DURATION_BOUNDS[variable][0] - 1}ms` }));
  for (const { variable, text } of tooShort) {
    test(`${variable}=${text} is refused as too short`, () => {
      refused({ ...context(variable), [variable]: text }, variable, new RegExp(`"${text}" is too short; use a duration from `));
    });
  }

  for (const variable of variables) {
    test(`${variable} accepts exactly its minimum and its maximum`, () => {
      const [min, max] = DURATION_BOUNDS[variable];
      for (const ms of [min, max]) {
        const config = loadConfig({ ...BASE, ...context(variable), [variable]: `${ms}ms` });
        const value = {
          TESSERA_IDLE_TIMEOUT: config.idleTimeoutMs,
          TESSERA_ABSOLUTE_TIMEOUT: config.absoluteTimeoutMs,
          TESSERA_ROTATION_GRACE: config.rotationGraceMs,
          TESSERA_TRANSIENT_IDLE_TIMEOUT: config.transient.idleTimeoutMs,
          TESSERA_TRANSIENT_ABSOLUTE_TIMEOUT: config.transient.absoluteTimeoutMs,
          TESSERA_SLIDE_AFTER: config.slideAfterMs,
          TESSERA_SWEEP_INTERVAL: config.sweepIntervalMs,
          TESSERA_L1_TTL: config.l1.ttlMs,
          TESSERA_SHUTDOWN_DELAY: config.shutdownDelayMs,
          TESSERA_REPLICATION_HORIZON: config.horizonMs,
          TESSERA_HEADERS_TIMEOUT: config.timeouts.headersMs,
          TESSERA_REQUEST_TIMEOUT: config.timeouts.requestMs,
          TESSERA_CONNECTION_TIMEOUT: config.timeouts.connectionMs,
          TESSERA_KEEP_ALIVE_TIMEOUT: config.timeouts.keepAliveMs,
          TESSERA_CONSISTENCY_WAIT: config.replication?.consistencyWaitMs,
          TESSERA_REPAIR_INTERVAL: config.replication?.repairIntervalMs,
          TESSERA_REPLICA_CHECK_INTERVAL: config.replication?.replicaCheckIntervalMs,
          TESSERA_WEBHOOK_TIMEOUT: config.webhooks?.timeoutMs,
          TESSERA_WEBHOOK_BACKOFF: config.webhooks?.backoffMs,
          TESSERA_WEBHOOK_RETRY_FOR: config.webhooks?.retryForMs,
        }[variable];
        assert.equal(value, ms, `${variable}=${ms}ms`);
      }
    });
  }

  test('the head timeout may not exceed the request timeout; unset, the request timeout follows a longer head timeout', () => {
    refused({ TESSERA_HEADERS_TIMEOUT: '20s', TESSERA_REQUEST_TIMEOUT: '10s' }, 'TESSERA_HEADERS_TIMEOUT', /20s must not exceed TESSERA_REQUEST_TIMEOUT \(10s\)/);
    assert.deepEqual(loadConfig(BASE).timeouts, { headersMs: 10_000, requestMs: 30_000, connectionMs: 60_000, keepAliveMs: 72_000 });
    assert.equal(loadConfig({ ...BASE, TESSERA_HEADERS_TIMEOUT: '2m' }).timeouts.requestMs, 120_000);
    assert.equal(loadConfig({ ...BASE, TESSERA_HEADERS_TIMEOUT: '10s', TESSERA_REQUEST_TIMEOUT: '10s' }).timeouts.requestMs, 10_000);
  });

  test('a value that is not a duration still says what a duration looks like, and the range', () => {
    refused({ TESSERA_IDLE_TIMEOUT: 'abc' }, 'TESSERA_IDLE_TIMEOUT', /"abc" is not a duration; use e\.g\. 30d.*\(a duration from 1s to 3650d\)/);
    refused({ TESSERA_ABSOLUTE_TIMEOUT: '-5d' }, 'TESSERA_ABSOLUTE_TIMEOUT', /"-5d" is not a duration/);
  });

  const slideCases: Array<{ env: Record<string, string>; ok: boolean }> = [
    { env: { TESSERA_IDLE_TIMEOUT: '1h', TESSERA_SLIDE_AFTER: '1h' }, ok: false },
    { env: { TESSERA_IDLE_TIMEOUT: '1h', TESSERA_SLIDE_AFTER: '2h' }, ok: false },
    { env: { TESSERA_SLIDE_AFTER: '30d' }, ok: false }, // equal to the default idle timeout (also above 7d)
    { env: { TESSERA_IDLE_TIMEOUT: '1h', TESSERA_SLIDE_AFTER: '59m' }, ok: true },
    { env: { TESSERA_IDLE_TIMEOUT: '1s' }, ok: true }, // the default slide-after follows the idle timeout
    { env: { TESSERA_IDLE_TIMEOUT: '1s', TESSERA_SLIDE_AFTER: '0' }, ok: true },
  ];
  for (const { env, ok } of slideCases) {
    test(`slide-after against the idle timeout: ${JSON.stringify(env)} is ${ok ? 'accepted' : 'refused'}`, () => {
      if (ok) {
        const config = loadConfig({ ...BASE, ...env });
        assert.ok(config.slideAfterMs < config.idleTimeoutMs);
      } else {
        refused(env, 'TESSERA_SLIDE_AFTER', /(must be shorter than TESSERA_IDLE_TIMEOUT \(\w+\), or reads would never extend a session|is too long)/);
      }
    });
  }

  test('an idle timeout longer than the absolute one is accepted: the absolute one caps the session', async () => {
    const config = loadConfig({ ...BASE, TESSERA_IDLE_TIMEOUT: '30d', TESSERA_ABSOLUTE_TIMEOUT: '1d' });
    assert.equal(config.idleTimeoutMs, 30 * DAY);
    assert.equal(config.absoluteTimeoutMs, DAY);
    const server = await startTessera({ TESSERA_IDLE_TIMEOUT: '30d', TESSERA_ABSOLUTE_TIMEOUT: '1d' });
    try {
      const before = Date.now();
      const { session } = await server.signIn({ userId: 'capped' });
      const expires = Date.parse(session.expiresAt);
      assert.ok(expires >= before + DAY && expires <= Date.now() + DAY, `expires ${session.expiresAt}`);
    } finally {
      await server.close();
    }
  });

  test('at the longest timeouts sign-in still works and its deadlines are valid dates', async () => {
    const server = await startTessera({ TESSERA_IDLE_TIMEOUT: '3650d', TESSERA_ABSOLUTE_TIMEOUT: '3650d', TESSERA_SLIDE_AFTER: '7d' });
    try {
      const { token, session } = await server.signIn({ userId: 'long-lived' });
      assert.ok(Date.parse(session.expiresAt) > Date.now() + 3_649 * DAY, session.expiresAt);
      const read = await server.request('GET', '/v1/session', { token });
      assert.equal(read.status, 200, read.text);
    } finally {
      await server.close();
    }
  });
});

describe('webhooks', () => {
  test('off without TESSERA_WEBHOOK_URLS; with them, a whsec_ secret is required and the timing has defaults', () => {
    assert.equal(loadConfig(BASE).webhooks, null);
    refused({ TESSERA_WEBHOOK_URLS: 'https://hooks.example.test/tessera' }, 'TESSERA_WEBHOOK_SECRET', /is required with TESSERA_WEBHOOK_URLS/);
    const config = loadConfig({ ...BASE, ...WEBHOOKS, TESSERA_WEBHOOK_URLS: 'https://a.example.test/h, http://127.0.0.1:9/h' });
    assert.deepEqual(config.webhooks, {
      urls: ['https://a.example.test/h', 'http://127.0.0.1:9/h'],
      secrets: [WEBHOOKS.TESSERA_WEBHOOK_SECRET],
      timeoutMs: 10_000,
      backoffMs: 1_000,
      retryForMs: 3 * 86_400_000,
    });
  });

  test('a URL that is not http(s) or a secret that is not whsec_ + base64 of 24-64 bytes is refused, without echoing it', () => {
    const url = refused({ ...WEBHOOKS, TESSERA_WEBHOOK_URLS: 'ftp://user:pw@x.test/h' }, 'TESSERA_WEBHOOK_URLS', /entry 1 is not an http/);
    assert.ok(!url.message.includes('pw@'));
    for (const secret of ['not-a-secret', 'whsec_c2hvcnQ=', `whsec_${'A'.repeat(200)}`]) {
      const error = refused({ ...WEBHOOKS, TESSERA_WEBHOOK_SECRET: secret }, 'TESSERA_WEBHOOK_SECRET', /entry 1 is not whsec_/);
      assert.ok(!error.message.includes(secret));
    }
  });
});

describe('the global mode: NATS addresses', () => {
  const GLOBAL = { TESSERA_REGION: 'us', TESSERA_REGIONS: 'us,eu' };

  test('a user and password or a token in TESSERA_NATS_URL are taken out for the connection, and never echoed', () => {
    const config = loadConfig({ ...BASE, ...GLOBAL, TESSERA_NATS_URL: 'nats://tessera:n4ts%40pw@nats-a:4222,nats-b:4222' });
    assert.deepEqual(config.replication?.natsUrls, ['nats://nats-a:4222', 'nats://nats-b:4222']);
    assert.deepEqual(config.replication?.natsAuth, { user: 'tessera', pass: 'n4ts@pw' });
    const token = loadConfig({ ...BASE, ...GLOBAL, TESSERA_NATS_URL: 'tls://s3cr3t-token@nats-a:4222,tls://s3cr3t-token@nats-b:4222' });
    assert.deepEqual([token.replication?.natsUrls, token.replication?.natsAuth], [['tls://nats-a:4222', 'tls://nats-b:4222'], { token: 's3cr3t-token' }]);
    assert.equal(loadConfig({ ...BASE, ...GLOBAL, TESSERA_NATS_URL: 'nats-a:4222' }).replication?.natsAuth, undefined);
    const two = refused({ ...GLOBAL, TESSERA_NATS_URL: 'nats://a:pw-1@nats-a:4222,nats://b:pw-2@nats-b:4222' }, 'TESSERA_NATS_URL', /names different credentials for different servers/);
    assert.ok(!/pw-[12]/.test(two.message), two.message);
    refused({ ...GLOBAL, TESSERA_NATS_URL: 'nats://@nats-a:4222' }, 'TESSERA_NATS_URL', /an "@" with no user or token before it/);
    const error = refused({ ...GLOBAL, TESSERA_NATS_URL: 'nats://tessera:n4ts-pw@nats-a:4222/path' }, 'TESSERA_NATS_URL', /^TESSERA_NATS_URL: "nats:\/\/\*\*\*@nats-a:4222\/path" is not a NATS server address/);
    assert.ok(!error.message.includes('n4ts-pw'), error.message);
  });

  test('TESSERA_NATS_CREDS: a NATS user\'s credentials file, checked at load without showing it, instead of credentials in the URL', async () => {
    const dir = tempDir();
    const accounts = await makeNatsAccounts();
    const creds = join(dir, 'node.creds');
    await accounts.writeCreds(creds);
    const global = { ...GLOBAL, TESSERA_NATS_URL: 'tls://nats-a:4222' };
    assert.deepEqual(loadConfig({ ...BASE, ...global, TESSERA_NATS_CREDS: creds }).replication?.natsAuth, { credsFile: creds });

    refused({ ...global, TESSERA_NATS_CREDS: join(dir, 'absent.creds') }, 'TESSERA_NATS_CREDS', /absent\.creds" is not a readable file; give the \.creds file of the NATS user/);
    refused({ ...global, TESSERA_NATS_CREDS: dir }, 'TESSERA_NATS_CREDS', /is not a readable file/);
    // Something else, holding a secret of its own: named, never shown.
    writeFileSync(join(dir, 'key.pem'), '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n');
    const other = refused({ ...global, TESSERA_NATS_CREDS: join(dir, 'key.pem') }, 'TESSERA_NATS_CREDS', /key\.pem" is not a NATS credentials file \(a user JWT and its NKey seed/);
    assert.ok(!other.message.includes('c2VjcmV0'), other.message);
    // A JWT and a seed of two different users.
    const [jwt] = /^-----BEGIN NATS USER JWT-----\n(.+)\n/m.exec(readFileSync(creds, 'utf8'))!.slice(1);
    await accounts.writeCreds(join(dir, 'second.creds'));
    writeFileSync(join(dir, 'mixed.creds'), readFileSync(join(dir, 'second.creds'), 'utf8').replace(/^(-----BEGIN NATS USER JWT-----\n).+\n/m, `$1${jwt}\n`));
    const mixed = refused({ ...global, TESSERA_NATS_CREDS: join(dir, 'mixed.creds') }, 'TESSERA_NATS_CREDS', /holds a JWT that is not its seed's user JWT/);
    assert.ok(!mixed.message.includes(jwt!.slice(0, 20)), mixed.message);
    const both = refused({ ...global, TESSERA_NATS_URL: 'tls://tessera:n4ts-pw@nats-a:4222', TESSERA_NATS_CREDS: creds }, 'TESSERA_NATS_CREDS', /: credentials in TESSERA_NATS_URL and TESSERA_NATS_CREDS each say who the node is; give one of them/);
    assert.ok(!both.message.includes('n4ts-pw'), both.message);
  });

  test('TESSERA_NATS_NKEY: a NATS user\'s NKey seed file, checked at load without showing it, one way of signing in only', async () => {
    const dir = tempDir();
    const file = (name: string, text: string): string => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const user = nkeys.createUser();
    const seed = file('node.nk', `${new TextDecoder().decode(user.getSeed())}\n`);
    const global = { ...GLOBAL, TESSERA_NATS_URL: 'tls://nats-a:4222' };
    assert.deepEqual(loadConfig({ ...BASE, ...global, TESSERA_NATS_NKEY: seed }).replication?.natsAuth, { nkeyFile: seed });

    refused({ ...global, TESSERA_NATS_NKEY: join(dir, 'absent.nk') }, 'TESSERA_NATS_NKEY', /absent\.nk" is not a readable file; give the NKey seed file of the NATS user/);
    const garbled = refused({ ...global, TESSERA_NATS_NKEY: file('garbled.nk', 'SUsecret-not-a-seed-material') }, 'TESSERA_NATS_NKEY', /garbled\.nk" is not an NKey seed file/);
    assert.ok(!garbled.message.includes('secret-not'), garbled.message);
    const account = file('account.nk', new TextDecoder().decode(nkeys.createAccount().getSeed()));
    refused({ ...global, TESSERA_NATS_NKEY: account }, 'TESSERA_NATS_NKEY', /holds the seed of an operator, account or server, not of a user/);
    refused({ ...global, TESSERA_NATS_URL: 'tls://tessera:n4ts-pw@nats-a:4222', TESSERA_NATS_NKEY: seed }, 'TESSERA_NATS_NKEY', /: credentials in TESSERA_NATS_URL and TESSERA_NATS_NKEY each say who the node is/);
    const accounts = await makeNatsAccounts();
    await accounts.writeCreds(join(dir, 'node.creds'));
    refused({ ...global, TESSERA_NATS_NKEY: seed, TESSERA_NATS_CREDS: join(dir, 'node.creds') }, 'TESSERA_NATS_CREDS', /: TESSERA_NATS_CREDS and TESSERA_NATS_NKEY each say who the node is/);
  });

  test('TLS files: each must be readable, and a client certificate comes with its key', () => {
    const dir = tempDir();
    const file = (name: string): string => {
      writeFileSync(join(dir, name), '-----BEGIN CERTIFICATE-----\n');
      return join(dir, name);
    };
    const tls = { ...GLOBAL, TESSERA_NATS_URL: 'tls://nats-a:4222' };
    assert.equal(loadConfig({ ...BASE, ...tls }).replication?.natsTls, undefined);
    assert.deepEqual(loadConfig({ ...BASE, ...tls, TESSERA_NATS_CA: file('ca.pem') }).replication?.natsTls, { caFile: join(dir, 'ca.pem') });
    assert.deepEqual(loadConfig({ ...BASE, ...tls, TESSERA_NATS_CERT: file('c.pem'), TESSERA_NATS_KEY: file('c.key') }).replication?.natsTls, {
      certFile: join(dir, 'c.pem'),
      keyFile: join(dir, 'c.key'),
    });
    refused({ ...tls, TESSERA_NATS_CA: join(dir, 'absent.pem') }, 'TESSERA_NATS_CA', /absent\.pem" is not a readable file; give the PEM file of the CA/);
    refused({ ...tls, TESSERA_NATS_CA: dir }, 'TESSERA_NATS_CA', /is not a readable file/);
    refused({ ...tls, TESSERA_NATS_CERT: file('c.pem') }, 'TESSERA_NATS_KEY', /TESSERA_NATS_CERT and TESSERA_NATS_KEY go together/);
    refused({ ...tls, TESSERA_NATS_KEY: file('c.key') }, 'TESSERA_NATS_CERT', /go together/);
  });

  test('TESSERA_REDIS_HISTORY_FORM: zset by default, hash while an earlier release still runs, nothing else', () => {
    const redis = { TESSERA_STORE: 'redis', TESSERA_REDIS_URL: 'redis://cache:6379' };
    const cluster = { TESSERA_STORE: 'redis-cluster', TESSERA_REDIS_NODES: 'r1:7000' };
    assert.deepEqual(loadConfig({ ...BASE, ...redis }).store, { engine: 'redis', url: 'redis://cache:6379' });
    assert.deepEqual(loadConfig({ ...BASE, ...redis, TESSERA_REDIS_HISTORY_FORM: 'zset' }).store, { engine: 'redis', url: 'redis://cache:6379' });
    assert.deepEqual(loadConfig({ ...BASE, ...redis, TESSERA_REDIS_HISTORY_FORM: 'hash' }).store, { engine: 'redis', url: 'redis://cache:6379', historyForm: 'hash' });
    assert.deepEqual(loadConfig({ ...BASE, ...cluster, TESSERA_REDIS_HISTORY_FORM: 'hash' }).store, { engine: 'redis-cluster', nodes: ['r1:7000'], historyForm: 'hash' });
    refused({ ...redis, TESSERA_REDIS_HISTORY_FORM: 'sorted' }, 'TESSERA_REDIS_HISTORY_FORM', /"sorted" must be zset \(the default\) or hash \(while nodes of an earlier release still run/);
  });

  test('TESSERA_REDIS_USER_SESSIONS_FORM: hash by default, set while an earlier release still runs, nothing else', () => {
    const redis = { TESSERA_STORE: 'redis', TESSERA_REDIS_URL: 'redis://cache:6379' };
    const cluster = { TESSERA_STORE: 'redis-cluster', TESSERA_REDIS_NODES: 'r1:7000' };
    assert.deepEqual(loadConfig({ ...BASE, ...redis, TESSERA_REDIS_USER_SESSIONS_FORM: 'hash' }).store, { engine: 'redis', url: 'redis://cache:6379' });
    assert.deepEqual(loadConfig({ ...BASE, ...redis, TESSERA_REDIS_USER_SESSIONS_FORM: 'set' }).store, { engine: 'redis', url: 'redis://cache:6379', userSessionsForm: 'set' });
    assert.deepEqual(loadConfig({ ...BASE, ...cluster, TESSERA_REDIS_USER_SESSIONS_FORM: 'set', TESSERA_REDIS_HISTORY_FORM: 'hash' }).store, {
      engine: 'redis-cluster',
      nodes: ['r1:7000'],
      historyForm: 'hash',
      userSessionsForm: 'set',
    });
    refused({ ...redis, TESSERA_REDIS_USER_SESSIONS_FORM: 'list' }, 'TESSERA_REDIS_USER_SESSIONS_FORM', /"list" must be hash \(the default\) or set \(while nodes of an earlier release still run/);
  });

  test('a monitoring URL with a user and password is refused (the port takes none), without echoing them', () => {
    const error = refused({ ...GLOBAL, TESSERA_NATS_URL: 'nats-a:4222', TESSERA_NATS_MONITOR_URLS: 'http://admin:m0n-pw@nats-a:8222' }, 'TESSERA_NATS_MONITOR_URLS', /"http:\/\/\*\*\*@nats-a:8222" must be http:\/\/host:port/);
    assert.ok(!error.message.includes('m0n-pw'), error.message);
  });
});

describe('devices: limit, remember me, addresses', () => {
  test('defaults: 50 devices, refuse at the limit, transient sign-ins 12 h idle and 24 h in all, addresses kept to /24 and /48', () => {
    const config = loadConfig(BASE);
    assert.equal(config.limits.devices, 50);
    assert.equal(config.deviceLimitAction, 'refuse');
    assert.deepEqual(config.transient, { idleTimeoutMs: 12 * 3_600_000, absoluteTimeoutMs: 24 * 3_600_000 });
    assert.deepEqual(config.addressPrefixes, { v4: 24, v6: 48 });
  });

  test('each is set by its variable', () => {
    const config = loadConfig({
      ...BASE,
      TESSERA_MAX_DEVICES: '5',
      TESSERA_DEVICE_LIMIT_ACTION: 'end-least-recent',
      TESSERA_TRANSIENT_IDLE_TIMEOUT: '30m',
      TESSERA_TRANSIENT_ABSOLUTE_TIMEOUT: '8h',
      TESSERA_IPV4_PREFIX: '32',
      TESSERA_IPV6_PREFIX: '0',
    });
    assert.equal(config.limits.devices, 5);
    assert.equal(config.deviceLimitAction, 'end-least-recent');
    assert.deepEqual(config.transient, { idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 8 * 3_600_000 });
    assert.deepEqual(config.addressPrefixes, { v4: 32, v6: 0 });
  });

  for (const [variable, text, message] of [
    ['TESSERA_MAX_DEVICES', '0', /"0" must be an integer from 1 to 1000/],
    ['TESSERA_MAX_DEVICES', '1001', /from 1 to 1000/],
    ['TESSERA_DEVICE_LIMIT_ACTION', 'evict', /"evict" must be refuse or end-least-recent/],
    ['TESSERA_IPV4_PREFIX', '33', /from 0 to 32/],
    ['TESSERA_IPV6_PREFIX', '-1', /from 0 to 128/],
  ] as const) {
    test(`${variable}=${text} is refused, naming the variable`, () => {
      refused({ [variable]: text }, variable, message);
    });
  }
});

describe('TESSERA_HOST', () => {
  const accepted = [
    '0.0.0.0',
    '127.0.0.1',
    '::',
    '::1',
    '::ffff:10.0.0.1',
    'fe80::1%eth0',
    'localhost',
    'tessera.internal',
    'tessera.internal.',
    'api-1.eu-west.example.com',
    'redis_1', // container names resolve with underscores
    `${'a'.repeat(63)}.example`,
    'xn--bcher-kva.example',
  ];
  for (const host of accepted) {
    test(`"${host}" is accepted`, () => {
      assert.equal(loadConfig({ ...BASE, TESSERA_HOST: host }).host, host);
    });
  }

  const refusedHosts: Array<{ host: string; message: RegExp }> = [
    { host: 'not a host!!', message: /is neither an IP address nor a valid host name; use e\.g\. 0\.0\.0\.0/ },
    { host: 'host:8080', message: /neither an IP address nor a valid host name/ },
    { host: 'http://tessera.internal', message: /neither an IP address nor a valid host name/ },
    { host: '256.1.1.1', message: /neither an IP address nor a valid host name/ },
    { host: '10.0.0', message: /neither an IP address nor a valid host name/ },
    { host: '-tessera.internal', message: /neither an IP address nor a valid host name/ },
    { host: 'tessera-.internal', message: /neither an IP address nor a valid host name/ },
    { host: 'tessera..internal', message: /neither an IP address nor a valid host name/ },
    { host: '.', message: /neither an IP address nor a valid host name/ },
    { host: `${'a'.repeat(64)}.example`, message: /neither an IP address nor a valid host name/ },
    { host: `${'abcdefgh.'.repeat(28)}com`, message: /neither an IP address nor a valid host name/ }, // 255 characters
    { host: 'tessera.intérnal', message: /neither an IP address nor a valid host name/ },
    { host: '[::1]', message: /write the IPv6 address without brackets \(::1\)/ },
  ];
  for (const { host, message } of refusedHosts) {
    test(`"${host.length > 40 ? `${host.slice(0, 40)}…` : host}" is refused`, () => {
      refused({ TESSERA_HOST: host }, 'TESSERA_HOST', message);
    });
  }

  test('the management listener defaults to 127.0.0.1:8081, takes its own host and port, and not the API port', () => {
    assert.deepEqual(loadConfig(BASE).admin, { host: '127.0.0.1', port: 8081 });
    assert.deepEqual(loadConfig({ ...BASE, TESSERA_ADMIN_HOST: '::', TESSERA_ADMIN_PORT: '9464' }).admin, { host: '::', port: 9464 });
    refused({ TESSERA_PORT: '9000', TESSERA_ADMIN_PORT: '9000' }, 'TESSERA_ADMIN_PORT', /9000 is also TESSERA_PORT; the management listener needs a port of its own/);
    refused({ TESSERA_ADMIN_HOST: '[::1]' }, 'TESSERA_ADMIN_HOST', /write the IPv6 address without brackets/);
    refused({ TESSERA_ADMIN_PORT: '70000' }, 'TESSERA_ADMIN_PORT', /must be an integer from 0 to 65535/);
    assert.equal(loadConfig({ ...BASE, TESSERA_PORT: '0', TESSERA_ADMIN_PORT: '0' }).admin.port, 0, 'both on any free port (tests)');
  });

  test('unset, the host defaults to all interfaces with keys and to loopback without', () => {
    assert.equal(loadConfig(BASE).host, '0.0.0.0');
    assert.equal(loadConfig({ TESSERA_SQLITE_PATH: ':memory:' }).host, '127.0.0.1');
  });
});

describe('TESSERA_API_KEYS', () => {
  const cases: Array<{ keys: string; message: RegExp; secrets: string[] }> = [
    {
      keys: 'a:secret-one-0123456789,a:secret-two-0123456789',
      message: /entry 2 has the same name "a" as entry 1; key names must be unique \(they label metrics and logs\)$/,
      secrets: ['secret-one-0123456789', 'secret-two-0123456789'],
    },
    {
      keys: 'a:secret-one-0123456789:admin,b:secret-two-0123456789,a:secret-three-012345678',
      message: /entry 3 has the same name "a" as entry 1/,
      secrets: ['secret-one-0123456789', 'secret-three-012345678'],
    },
    {
      keys: 'a:shared-secret-0123456789,b:shared-secret-0123456789',
      message: /entry 2 \("b"\) has the same secret as entry 1; every key needs its own secret$/,
      secrets: ['shared-secret-0123456789'],
    },
    {
      keys: 'app:shared-secret-0123456789,x:other-secret-0123456789,ops:shared-secret-0123456789:admin',
      message: /entry 3 \("ops"\) has the same secret as entry 1/,
      secrets: ['shared-secret-0123456789'],
    },
    {
      keys: 'app:no-scope-secret-0123456789:root',
      message: /entry 1 \("app"\) has scope "root"; use sign-in, token, users or the aliases sessions \(sign-in\+token\) and admin \(all three\), joined by \+$/,
      secrets: ['no-scope-secret-0123456789'],
    },
    {
      keys: 'app:a-scope-secret-0123456789:sign-in+',
      message: /entry 1 \("app"\) has scope ""; use sign-in/,
      secrets: ['a-scope-secret-0123456789'],
    },
    {
      keys: 'app:b-scope-secret-0123456789:',
      message: /entry 1 \("app"\) has scope ""/,
      secrets: ['b-scope-secret-0123456789'],
    },
    { keys: 'no-secret-here', message: /entry 1 must be name:secret or name:secret:scopes \(e\.g\. app:<secret>:sign-in\+token\)/, secrets: ['no-secret-here'] },
  ];
  for (const { keys, message, secrets } of cases) {
    test(`${keys.replace(/:[^:,]+/g, ':…')} is refused without echoing a secret`, () => {
      const error = refused({ TESSERA_API_KEYS: keys }, 'TESSERA_API_KEYS', message);
      for (const secret of secrets) assert.ok(!error.message.includes(secret), `message shows a secret: ${error.message}`);
    });
  }

  test('distinct names and secrets are accepted, scopes included', () => {
    const config = loadConfig({ ...BASE, TESSERA_API_KEYS: 'app:secret-one-0123456789, ops:secret-two-0123456789:admin' });
    assert.deepEqual(
      config.apiKeys.map((k) => [k.name, k.scopes]),
      [
        ['app', ['sign-in', 'token']],
        ['ops', ['sign-in', 'token', 'users']],
      ],
    );
  });

  const scopeForms: Array<[string, string[]]> = [
    ['', ['sign-in', 'token']], // name:secret, the v1 default: `sessions`
    [':sessions', ['sign-in', 'token']],
    [':admin', ['sign-in', 'token', 'users']],
    [':sign-in', ['sign-in']],
    [':token', ['token']],
    [':users', ['users']],
    [':users+token', ['token', 'users']],
    [':token+sign-in+token', ['sign-in', 'token']],
    [':sessions+users', ['sign-in', 'token', 'users']],
  ];
  for (const [suffix, scopes] of scopeForms) {
    test(`name:secret${suffix} grants ${scopes.join(', ')}`, () => {
      const [key] = loadConfig({ ...BASE, TESSERA_API_KEYS: `k:secret-0123456789abcdef${suffix}` }).apiKeys;
      assert.deepEqual(key!.scopes, scopes);
    });
  }
});

describe('store start-up failures name the variable', () => {
  test('TESSERA_SQLITE_PATH under a regular file: the real error, explained, with its cause kept', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), 'not a directory');
    const path = join(dir, 'file', 'tessera.db');
    const config = loadConfig({ ...BASE, TESSERA_SQLITE_PATH: path });
    const error = await startFailure(config, 'with a database under a regular file');
    const explained = explainStoreError(config.store, error);
    assert.ok(explained instanceof StartupError);
    assert.deepEqual(explained.variables, ['TESSERA_SQLITE_PATH']);
    assert.equal(explained.cause, error);
    assert.match(explained.message, /^TESSERA_SQLITE_PATH: cannot open the embedded database ".*tessera\.db": a parent of the path is a file, not a directory \((EEXIST|ENOTDIR)/);
  });

  const sqliteCases: Array<{ name: string; prepare: (dir: string) => string; message: RegExp }> = [
    { name: 'a directory', prepare: (dir) => dir, message: /SQLite cannot open a database file there/ },
    {
      name: 'a file that is not a database',
      prepare: (dir) => {
        writeFileSync(join(dir, 'junk.db'), 'x'.repeat(4096));
        return join(dir, 'junk.db');
      },
      message: /the file exists but is not an SQLite database/,
    },
  ];
  for (const { name, prepare, message } of sqliteCases) {
    test(`TESSERA_SQLITE_PATH naming ${name}`, async () => {
      const config = loadConfig({ ...BASE, TESSERA_SQLITE_PATH: prepare(tempDir()) });
      const error = await startFailure(config, `with ${name}`);
      const explained = explainStoreError(config.store, error);
      assert.match(explained?.message ?? String(error), /^TESSERA_SQLITE_PATH: cannot open the embedded database/);
      assert.match(explained!.message, message);
    });
  }

  test('an error that does not come from opening the store is left alone', () => {
    assert.equal(explainStoreError({ engine: 'sqlite', path: 'x.db' }, new TypeError('a bug')), null);
    assert.equal(explainStoreError({ engine: 'redis', url: 'redis://h:6379' }, new TypeError('a bug')), null);
  });

  test('Redis: names TESSERA_REDIS_URL with host and port, never the credentials', () => {
    const cause = new Error('WRONGPASS for s3cr3t-pass (user admin-user)');
    const error = new StoreUnavailableError('redis', { cause });
    const explained = explainStoreError({ engine: 'redis', url: 'rediss://admin-user:s3cr3t-pass@cache.internal:6380/0' }, error);
    assert.ok(explained !== null);
    assert.match(explained.message, /^TESSERA_REDIS_URL: Redis at cache\.internal:6380 refused the credentials in the URL \(WRONGPASS for \*\*\* \(user \*\*\*\)\)/);
    assert.doesNotMatch(explained.message, /s3cr3t-pass|admin-user/);
    assert.equal(explained.cause, error);
    const down = explainStoreError({ engine: 'redis', url: 'redis://cache.internal:6379' }, new StoreUnavailableError('redis', { cause: new Error('connect ECONNREFUSED') }));
    assert.match(down?.message ?? '', /^TESSERA_REDIS_URL: cannot connect to Redis at cache\.internal:6379 \(connect ECONNREFUSED\); check the URL and that Redis is up$/);
  });

  test('a real Redis that wants a password: refused at once, whether the password is wrong or missing, and never shown', async () => {
    const redis = await startRedis();
    try {
      // Set once it runs (the harness checks a new server with a PING of no password).
      await redis.command('CONFIG', 'SET', 'requirepass', 'right-pw');
      const { port } = redis;
      const failure = async (url: string): Promise<string> => {
        const config = loadConfig({ ...BASE, TESSERA_STORE: 'redis', TESSERA_REDIS_URL: url });
        const error = await startFailure(config, `with ${url}`);
        return explainStoreError(config.store, error)?.message ?? String(error);
      };
      assert.match(await failure(`redis://:wr0ng-pw@127.0.0.1:${port}`), new RegExp(`^TESSERA_REDIS_URL: Redis at 127\\.0\\.0\\.1:${port} refused the credentials in the URL \\(WRONGPASS `));
      assert.match(await failure(`redis://127.0.0.1:${port}`), /wants a password and the URL gives none \(NOAUTH /);
      assert.doesNotMatch(await failure(`redis://:wr0ng-pw@127.0.0.1:${port}`), /wr0ng-pw/);
      const tessera = await createTessera(loadConfig({ ...BASE, TESSERA_STORE: 'redis', TESSERA_REDIS_URL: `redis://:right-pw@127.0.0.1:${port}` }), { logger: createLogger('silent') });
      const ready = await tessera.app.inject({ method: 'GET', url: '/readyz' });
      await tessera.close();
      assert.equal(ready.statusCode, 200, ready.body);
    } finally {
      await redis.stop();
    }
  });

  test('Redis Cluster: names TESSERA_REDIS_NODES and the seeds', () => {
    const error = new StoreUnavailableError('redis-cluster', { cause: new Error('All the root nodes are unavailable') });
    const explained = explainStoreError({ engine: 'redis-cluster', nodes: ['r1:7000', 'r2:7000'] }, error);
    assert.match(explained?.message ?? '', /^TESSERA_REDIS_NODES: cannot connect to the Redis Cluster through the seeds r1:7000, r2:7000 \(All the root nodes are unavailable\)/);
  });
});

describe('listen failures name TESSERA_HOST and/or TESSERA_PORT', () => {
  const systemError = (code: string, fields: Record<string, unknown>): Error => Object.assign(new Error(`listen ${code}: something`), { code, ...fields });
  const cases: Array<{ code: string; fields: Record<string, unknown>; variables: string[]; message: RegExp }> = [
    { code: 'EADDRINUSE', fields: { address: '0.0.0.0', port: 8080 }, variables: ['TESSERA_HOST', 'TESSERA_PORT'], message: /cannot listen on 0\.0\.0\.0:8080: port 8080 is already in use; choose another TESSERA_PORT/ },
    { code: 'EACCES', fields: { address: '0.0.0.0', port: 80 }, variables: ['TESSERA_HOST', 'TESSERA_PORT'], message: /permission denied \(ports below 1024 need privileges\)/ },
    { code: 'EADDRNOTAVAIL', fields: { address: '10.9.9.9', port: 8080 }, variables: ['TESSERA_HOST'], message: /10\.9\.9\.9 is not an address of this machine/ },
    { code: 'ENOTFOUND', fields: { hostname: 'tessera.invalid' }, variables: ['TESSERA_HOST'], message: /the host name "tessera\.invalid" does not resolve/ },
    { code: 'EAI_AGAIN', fields: { hostname: 'tessera.internal' }, variables: ['TESSERA_HOST'], message: /does not resolve/ },
    { code: 'EWHATEVER', fields: {}, variables: ['TESSERA_HOST', 'TESSERA_PORT'], message: /cannot listen on \[::1\]:9000: check TESSERA_HOST and TESSERA_PORT/ },
  ];
  for (const { code, fields, variables, message } of cases) {
    test(code, () => {
      const cause = systemError(code, fields);
      const explained = explainListenError({ host: '::1', port: 9000 }, cause);
      assert.deepEqual(explained.variables, variables);
      assert.ok(explained.message.startsWith(`${variables.join(', ')}: `), explained.message);
      assert.match(explained.message, message);
      assert.ok(explained.message.includes(cause.message), 'keeps the original message');
      assert.equal(explained.cause, cause);
    });
  }

  test('a real port in use', async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const tessera = await createTessera(loadConfig({ ...BASE, TESSERA_HOST: '127.0.0.1', TESSERA_PORT: String(port) }), { logger: createLogger('silent') });
      const error = await tessera.listen().then(
        () => assert.fail('listened on a port in use'),
        (e: unknown) => e,
      );
      await tessera.close().catch(() => {});
      const explained = explainListenError({ host: '127.0.0.1', port }, error);
      assert.match(explained.message, new RegExp(`^TESSERA_HOST, TESSERA_PORT: cannot listen on 127\\.0\\.0\\.1:${port}: port ${port} is already in use`));
    } finally {
      holder.close();
    }
  });
});
