/**
 * Redis over TLS, against a real redis-server that requires TLS client certificates
 * (`tls-auth-clients yes`) on its TLS port, with a CA made for the test. A node with
 * `rediss://` and `TESSERA_REDIS_CA`, `TESSERA_REDIS_CERT` and `TESSERA_REDIS_KEY` serves; one
 * without the CA stops its start at once, naming `TESSERA_REDIS_CA` (before, every failure to
 * connect waited out the 5 s start-up deadline as "Redis did not answer"); one without a client
 * certificate, or with one of another CA, stops naming `TESSERA_REDIS_CERT` and `TESSERA_REDIS_KEY`
 * (before: "cannot connect … check the URL and that Redis is up"). A running node whose certificate
 * the server stops taking answers 503, logs why, retries about once a second, and takes a
 * certificate renewed on disk without a restart (D95).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts, waitUntil } from '../../sim/processes.js';
import { loadConfig } from '../../src/config/config.js';
import { runCli } from '../../src/cli/run.js';
import { explainStoreError } from '../../src/config/diagnostics.js';
import { createLogger } from '../../src/logging.js';
import { createTessera } from '../../src/tessera.js';
import { liveCertificate, makeCertificates, type Certificates } from '../support/certificates.js';
import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { startFailure } from '../support/tessera-server.js';

describe('Redis over TLS, client certificates verified', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-redis-tls-'));
  let certificates: Certificates;
  let redis: RedisServer;
  let tlsPort: number;

  const configWith = (env: Record<string, string>) =>
    loadConfig({ TESSERA_API_KEYS: 'app:app-secret-0123456789', TESSERA_STORE: 'redis', TESSERA_REDIS_URL: `rediss://localhost:${tlsPort}`, ...env });

  before(async () => {
    certificates = makeCertificates(dir);
    [tlsPort] = (await freePorts(1)) as [number];
    // The harness checks the server on its plain port; Tessera is given only the TLS one.
    redis = await startRedis({
      args: ['--tls-port', String(tlsPort), '--tls-cert-file', certificates.serverCert, '--tls-key-file', certificates.serverKey, '--tls-ca-cert-file', certificates.ca, '--tls-auth-clients', 'yes'],
    });
  });

  after(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('with the CA and a client certificate: the node serves, its sessions in that Redis', async () => {
    const tessera = await createTessera(configWith({ TESSERA_REDIS_CA: certificates.ca, TESSERA_REDIS_CERT: certificates.clientCert, TESSERA_REDIS_KEY: certificates.clientKey }), {
      logger: createLogger('silent'),
    });
    try {
      const signIn = await tessera.app.inject({ method: 'POST', url: '/v1/sessions', headers: { authorization: 'Bearer app-secret-0123456789' }, payload: {} });
      assert.equal(signIn.statusCode, 201, signIn.body);
      const keys = String(await redis.command('DBSIZE'));
      assert.ok(Number(keys) > 0, `the session is in the TLS Redis (DBSIZE ${keys})`);
    } finally {
      await tessera.close();
    }
  });

  test('without the CA: the start stops at once, naming TESSERA_REDIS_CA', async () => {
    const config = configWith({ TESSERA_REDIS_CERT: certificates.clientCert, TESSERA_REDIS_KEY: certificates.clientKey });
    const error = await startFailure(config, 'against a server certificate it cannot trust');
    const explained = explainStoreError(config.store, error);
    assert.deepEqual(explained?.variables, ['TESSERA_REDIS_URL', 'TESSERA_REDIS_CA']);
    assert.match(explained?.message ?? '', /the TLS certificate of the Redis server is not trusted \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN): .+\); set TESSERA_REDIS_CA/);
  });

  test('without a client certificate: the start stops at once, naming TESSERA_REDIS_CERT and TESSERA_REDIS_KEY', async () => {
    // Before, the server's refusal came as "Socket closed unexpectedly": "check the URL and that Redis is up".
    const config = configWith({ TESSERA_REDIS_CA: certificates.ca });
    const error = await startFailure(config, 'without the client certificate the server requires');
    const explained = explainStoreError(config.store, error);
    assert.deepEqual(explained?.variables, ['TESSERA_REDIS_CERT', 'TESSERA_REDIS_KEY']);
    assert.match(explained?.message ?? '', /^TESSERA_REDIS_CERT, TESSERA_REDIS_KEY: the Redis server of TESSERA_REDIS_URL requires a client certificate \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\) and this node has none; set TESSERA_REDIS_CERT/);
  });

  test('with a client certificate of a CA the server does not trust: the start stops at once, naming the certificate and the alert', async () => {
    const other = makeCertificates(mkdtempSync(join(dir, 'other-ca-')));
    const config = configWith({ TESSERA_REDIS_CA: certificates.ca, TESSERA_REDIS_CERT: other.clientCert, TESSERA_REDIS_KEY: other.clientKey });
    const error = await startFailure(config, 'with a client certificate the server refuses');
    const explained = explainStoreError(config.store, error);
    assert.deepEqual(explained?.variables, ['TESSERA_REDIS_CERT', 'TESSERA_REDIS_KEY']);
    assert.match(explained?.message ?? '', /^TESSERA_REDIS_CERT, TESSERA_REDIS_KEY: the Redis server of TESSERA_REDIS_URL refused this node's client certificate \(ERR_SSL_[A-Z0-9_/]+_ALERT_[A-Z_]+\); TESSERA_REDIS_CERT must be signed by a CA the server trusts/);
  });

  test('the tessera command: a --store rediss:// takes the TLS files; a plain redis:// one leaves them to the configured store', async () => {
    const tessera = await createTessera(configWith({ TESSERA_REDIS_CA: certificates.ca, TESSERA_REDIS_CERT: certificates.clientCert, TESSERA_REDIS_KEY: certificates.clientKey }), {
      logger: createLogger('silent'),
    });
    let sessionId: string;
    try {
      const signIn = await tessera.app.inject({ method: 'POST', url: '/v1/sessions', headers: { authorization: 'Bearer app-secret-0123456789' }, payload: { userId: 'tls-cli' } });
      assert.equal(signIn.statusCode, 201, signIn.body);
      sessionId = signIn.json().session.id;
    } finally {
      await tessera.close();
    }
    const cli = async (args: string[], env: Record<string, string>): Promise<{ code: unknown; out: string; err: string }> => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(args, { env: { TESSERA_API_KEYS: 'app:app-secret-0123456789', ...env }, out: (line) => out.push(line), err: (line) => err.push(line), stdin: async () => '' });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    const files = { TESSERA_REDIS_CA: certificates.ca, TESSERA_REDIS_CERT: certificates.clientCert, TESSERA_REDIS_KEY: certificates.clientKey };
    // The configured store is SQLite: the TLS files are for the Redis --store names.
    const inspected = await cli(['session', 'inspect', sessionId, '--store', `rediss://localhost:${tlsPort}`], { TESSERA_STORE: 'sqlite', TESSERA_SQLITE_PATH: join(dir, 'unused.db'), ...files });
    assert.equal(inspected.code, 0, inspected.err);
    assert.equal(JSON.parse(inspected.out).userId, 'tls-cli');
    // Without the CA the server's certificate is not trusted: the command fails, naming the store, not hanging.
    const { TESSERA_REDIS_CA: _ca, ...clientOnly } = files;
    const untrusted = await cli(['session', 'inspect', sessionId, '--store', `rediss://localhost:${tlsPort}`], clientOnly);
    assert.equal(untrusted.code, 1, untrusted.out);
    assert.match(untrusted.err, new RegExp(`cannot open rediss://localhost:${tlsPort}`));
    // A plain redis:// --store (the harness's plain port) while the TLS files name the configured store's.
    const plain = await cli(['session', 'inspect', sessionId, '--store', redis.url], { TESSERA_STORE: 'redis', TESSERA_REDIS_URL: `rediss://localhost:${tlsPort}`, ...files });
    assert.equal(plain.code, 0, plain.err);
    assert.equal(JSON.parse(plain.out).userId, 'tls-cli');
  });

  test('a running node whose Redis stops taking its certificate answers 503, retrying a few times a second at most, and serves again once its files are renewed, without a restart', async () => {
    const live = liveCertificate(dir, certificates);
    const rotated = makeCertificates(mkdtempSync(join(dir, 'rotated-ca-')));
    const logged: string[] = [];
    const logger = createLogger('info', { write: (line: string) => void logged.push(line) });
    const tessera = await createTessera(configWith({ TESSERA_REDIS_CA: certificates.ca, TESSERA_REDIS_CERT: live.cert, TESSERA_REDIS_KEY: live.key }), { logger });
    const signIn = async (): Promise<number> =>
      (await tessera.app.inject({ method: 'POST', url: '/v1/sessions', headers: { authorization: 'Bearer app-secret-0123456789' }, payload: {} })).statusCode;
    const refusals = (): number => readFileSync(join(redis.dir, 'redis.log'), 'utf8').split('\n').filter((line) => line.includes('Error accepting a client connection')).length;
    try {
      assert.equal(await signIn(), 201);
      // The server's CA for clients is rotated first; the node's connection is dropped.
      await redis.command('CONFIG', 'SET', 'tls-ca-cert-file', rotated.ca);
      await redis.command('CLIENT', 'KILL', 'TYPE', 'normal');
      const before = refusals();
      const began = Date.now();
      const answers: number[] = [];
      for (let i = 0; i < 12; i += 1) {
        answers.push(await signIn());
        await sleep(250);
      }
      assert.deepEqual(new Set(answers), new Set([503]), answers.join(' '));
      // Refused for some seconds: the client's reconnections with their backoff (about one a
      // second) and a new client per command deadline, against 190–230 a second when each refused
      // connection counted as made and was retried at once (D95).
      const attempts = refusals() - before;
      const seconds = (Date.now() - began) / 1000;
      assert.ok(attempts > 0 && attempts <= 5 * seconds, `${attempts} refused connections in ${seconds.toFixed(1)} s`);
      // The log says why, once (then at most once a minute), naming the variables and the alert.
      const said = logged.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => String(line.msg).includes('refuse this node'));
      assert.equal(said.length, 1, logged.join(''));
      assert.equal(said[0]!.level, 50);
      assert.equal(said[0]!.channel, 'store');
      assert.deepEqual(said[0]!.variables, ['TESSERA_REDIS_CERT', 'TESSERA_REDIS_KEY']);
      assert.match(String(said[0]!.alert), /^ERR_SSL_[A-Z0-9_/]+_ALERT_[A-Z_]+$/);
      // And counted, each one, for the alert (TesseraStoreCertificateRefused).
      const counted = (await tessera.metrics.registry.metrics()).split('\n').find((line) => line.startsWith('tessera_store_certificate_refusals_total '));
      assert.ok(Number(counted?.split(' ')[1]) >= 1, String(counted));

      // The certificate is renewed on disk, signed by the new CA: the node takes it by itself.
      live.renew(rotated);
      await waitUntil('serving again with the renewed certificate', 15_000, async () => ((await signIn()) === 201 ? null : 'still 503'), 250);
      for (let i = 0; i < 5; i += 1) assert.equal(await signIn(), 201);
    } finally {
      await tessera.close();
      await redis.command('CONFIG', 'SET', 'tls-ca-cert-file', certificates.ca);
    }
  });

  test('TLS files need a rediss:// URL', () => {
    assert.throws(() => loadConfig({ TESSERA_API_KEYS: 'app:app-secret-0123456789', TESSERA_STORE: 'redis', TESSERA_REDIS_URL: `redis://localhost:${tlsPort}`, TESSERA_REDIS_CA: certificates.ca }), {
      message: 'TESSERA_REDIS_URL: must start with rediss:// (TLS) when TESSERA_REDIS_CA, TESSERA_REDIS_CERT or TESSERA_REDIS_KEY is set',
    });
  });
});
