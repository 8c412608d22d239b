/**
 * Connecting a node to NATS, against real nats-servers.
 *
 * A node pointed at NATS that cannot hold the global mode's streams fails its
 * start with an error that says what to change, and leaves nothing open: no
 * connection to its store, none to NATS. The servers: one without JetStream,
 * one with JetStream but alone (a global stream needs a replica in every
 * region), one that refuses the node's password, and one whose TLS certificate
 * the node does not trust. Before, all but the second were taken for servers
 * still starting: the node started, and its global writes answered 503 for
 * good. NATS that does not answer at all is no setup error: the node serves,
 * and its log names the servers without the password in their URLs.
 *
 * TLS: two regions' servers in one cluster that require TLS from clients and
 * verify their certificates (a CA made for the test with openssl); a node with
 * `TESSERA_NATS_CA`, `TESSERA_NATS_CERT` and `TESSERA_NATS_KEY` starts and its
 * sign-in — a global write — is acknowledged by both regions. A node without a client
 * certificate, or with one of a CA the servers do not trust, fails its start naming
 * `TESSERA_NATS_CERT` and `TESSERA_NATS_KEY`; before, it timed out as if NATS did not answer,
 * and served with every global write answering 503.
 *
 * A running node whose servers stop taking its password (restarted with other
 * users) loses the connection, says so (log, metric, readiness) and
 * takes it back once they take the password again. Before, the client gave up
 * for good after two refusals, and the node stayed without NATS until restarted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Jsz } from '../../sim/nats-server.js';
import { nkeys } from '@nats-io/transport-node';
import { LoggedProcess, freePorts, getJson, waitUntil } from '../../sim/processes.js';
import { runCli } from '../../src/cli/run.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/logging.js';
import { ReplicationSetupError } from '../../src/replication/streams.js';
import { createTessera, type Tessera } from '../../src/tessera.js';
import { makeCertificates, type Certificates } from '../support/certificates.js';
import { makeNatsAccounts, type NatsAccounts } from '../support/nats-accounts.js';
import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { startFailure } from '../support/tessera-server.js';

interface Nats {
  readonly url: string;
  readonly monitor: string;
  readonly process: LoggedProcess;
  /**
   * Stops the server and starts it with other options. (Not a reload: after a SIGHUP that changed
   * its users, nats-server 2.9.10 left publishes to streams it led unanswered for over 30 s, in 3
   * of about 40 runs.)
   */
  restart(options: NatsOptions): Promise<void>;
}

interface NatsOptions {
  readonly jetstream: boolean;
  /** The region tag. @default 'us' */
  readonly region?: string;
  readonly user?: { readonly user: string; readonly password: string };
  /** Users known by their NKey (public key, `U…`) alone. */
  readonly nkeys?: readonly string[];
  /** Client TLS required and client certificates verified, with these PEM files. */
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca: string };
  /** Operator mode: users are JWTs of these accounts, shown in `.creds` files. */
  readonly accounts?: NatsAccounts;
  /** A cluster: this server's route port and every server's. */
  readonly cluster?: { readonly port: number; readonly routes: readonly number[] };
}

/** The sample of `series` in the node's metrics, or null. */
async function metricValue(tessera: Tessera, series: string): Promise<number | null> {
  const line = (await tessera.metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

const dir = mkdtempSync(join(tmpdir(), 'tessera-nats-connection-'));
const servers: Nats[] = [];
let redis: RedisServer;

before(async () => {
  redis = await startRedis();
});

after(async () => {
  await Promise.all(servers.map((s) => s.process.kill()));
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function startNats(name: string, options: NatsOptions): Promise<Nats> {
  const [port, http] = await freePorts(2);
  const config = join(dir, `${name}.conf`);
  const q = JSON.stringify;
  const write = (options: NatsOptions): void =>
    writeFileSync(
      config,
      [
        `server_name: ${q(name)}`,
        `listen: "127.0.0.1:${port}"`,
        `http: "127.0.0.1:${http}"`,
        `server_tags: [${q(`region:${options.region ?? 'us'}`)}]`,
        ...(options.jetstream ? [`jetstream { store_dir: ${q(join(dir, name))}, unique_tag: "region:" }`] : []),
        ...(options.user === undefined ? [] : [`authorization { users: [ { user: ${q(options.user.user)}, password: ${q(options.user.password)} } ] }`]),
        ...(options.nkeys === undefined ? [] : [`authorization { users: [ ${options.nkeys.map((nkey) => `{ nkey: ${q(nkey)} }`).join(', ')} ] }`]),
        ...(options.accounts?.serverConfig ?? []),
        ...(options.tls === undefined ? [] : [`tls { cert_file: ${q(options.tls.cert)}, key_file: ${q(options.tls.key)}, ca_file: ${q(options.tls.ca)}, verify: true }`]),
        ...(options.cluster === undefined
          ? []
          : [`cluster { name: "test-cluster", listen: "127.0.0.1:${options.cluster.port}", routes: [${options.cluster.routes.map((r) => q(`nats-route://127.0.0.1:${r}`)).join(', ')}] }`]),
        '',
      ].join('\n'),
    );
  const process = new LoggedProcess(`nats-server ${name}`, 'nats-server', ['-c', config], join(dir, `${name}.log`));
  const monitor = `http://127.0.0.1:${http}`;
  const start = async (options: NatsOptions): Promise<void> => {
    write(options);
    process.start();
    await waitUntil(`nats-server ${name} to answer`, 15_000, async () => ((await getJson<{ server_name: string }>(`${monitor}/varz`)).server_name === name ? null : 'another server'));
  };
  await start(options);
  const restart = async (changed: NatsOptions): Promise<void> => {
    await process.kill('SIGTERM');
    await start(changed);
  };
  const nats = { url: `127.0.0.1:${port}`, monitor, process, restart };
  servers.push(nats);
  return nats;
}

/**
 * Two JetStream servers in one cluster, of regions us and eu, named `<prefix>-<region>`, each with
 * `options`; resolves once each knows the cluster's meta leader (JetStream answers from then on).
 */
async function startTwoRegions(prefix: string, options: Omit<NatsOptions, 'jetstream' | 'region' | 'cluster'>): Promise<{ servers: Nats[]; routes: number[] }> {
  const routes = await freePorts(2);
  const servers = await Promise.all(['us', 'eu'].map((region, i) => startNats(`${prefix}-${region}`, { ...options, jetstream: true, region, cluster: { port: routes[i]!, routes } })));
  for (const server of servers) {
    await waitUntil('a JetStream meta leader', 30_000, async () => ((await getJson<{ meta_cluster?: { leader?: string } }>(`${server.monitor}/jsz`)).meta_cluster?.leader ? null : 'none yet'));
  }
  return { servers, routes };
}

/** The configuration of a node of region us (of us and eu) on `natsUrl` and Redis. */
function configOn(natsUrl: string, env: Record<string, string> = {}) {
  return loadConfig({
    TESSERA_API_KEYS: 'app:app-secret-0123456789',
    TESSERA_STORE: 'redis',
    TESSERA_REDIS_URL: redis.url,
    TESSERA_NATS_URL: natsUrl,
    TESSERA_REGION: 'us',
    TESSERA_REGIONS: 'us,eu',
    ...env,
  });
}

/** Every line the node logs, at info and above. */
function logLines(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger('info', { write: (line: string) => void lines.push(line) }) };
}

/** Starts a node on `natsUrl` (default: `nats`'s) and Redis; resolves to why it failed. */
async function failedStart(nats: Nats, natsUrl = nats.url, logger = createLogger('silent'), env: Record<string, string> = {}): Promise<ReplicationSetupError> {
  const error = await startFailure(configOn(natsUrl, env), 'on a NATS that cannot hold the streams', logger);
  assert.ok(error instanceof ReplicationSetupError, `failed with ${String(error)}`);
  return error;
}

/** Nothing the failed start opened is left: the only Redis client is the one asking, and NATS has none. */
async function assertNothingLeftOpen(nats: Nats): Promise<void> {
  const clients = String(await redis.command('CLIENT', 'LIST')).trim().split('\n');
  assert.equal(clients.length, 1, `Redis clients left open:\n${clients.join('\n')}`);
  await waitUntil('the node’s NATS connection to close', 5_000, async () => {
    const connz = await getJson<{ num_connections: number }>(`${nats.monitor}/connz`);
    return connz.num_connections === 0 ? null : `${connz.num_connections} connections`;
  });
}

describe('a NATS that cannot hold the streams fails the start', { timeout: 60_000 }, () => {
  test('a NATS server without JetStream', async () => {
    const nats = await startNats('plain', { jetstream: false });
    const error = await failedStart(nats);
    assert.deepEqual(error.variables, ['TESSERA_NATS_URL', 'TESSERA_REGIONS']);
    assert.match(error.message, /^JetStream is not available on the NATS servers of TESSERA_NATS_URL \(jetstream is not enabled\); start every server with JetStream enabled$/);
    await assertNothingLeftOpen(nats);
  });

  test('a NATS server that refuses the password: the error names the variable, and neither it nor the log shows the password', async () => {
    const nats = await startNats('guarded', { jetstream: true, user: { user: 'tessera', password: 'right-pw' } });
    const { lines, logger } = logLines();
    const error = await failedStart(nats, `nats://tessera:wr0ng-pw@${nats.url}`, logger);
    assert.deepEqual(error.variables, ['TESSERA_NATS_URL']);
    assert.match(error.message, /^the NATS servers of TESSERA_NATS_URL refused its credentials \(Authorization Violation\); give a user and password NATS knows/);
    assert.ok(lines.length > 0, 'the failure is logged');
    for (const text of [error.message, ...lines]) assert.ok(!text.includes('wr0ng-pw'), text);
    await assertNothingLeftOpen(nats);
  });

  test('NATS not answering is no setup error: the node serves its region, and its log names the servers without the password', async () => {
    const [closed, api, admin] = await freePorts(3);
    const { lines, logger } = logLines();
    const tessera = await createTessera(
      configOn(`nats://tessera:s3cret-pw@127.0.0.1:${closed}`, { TESSERA_HOST: '127.0.0.1', TESSERA_PORT: String(api), TESSERA_ADMIN_PORT: String(admin) }),
      { logger },
    );
    try {
      assert.equal(tessera.replicator?.connected, false);
      assert.equal(await metricValue(tessera, 'tessera_replication_nats_connected{region="us"}'), 0, 'the alert sees a node that never connected');
      const ready = await tessera.app.inject({ method: 'GET', url: '/readyz' });
      assert.deepEqual([ready.statusCode, ready.json().replication], [200, 'connecting']);
      // A sign-in is a global write: stored here, answered 503 (retry-safe) until NATS acknowledges.
      const signIn = await tessera.app.inject({ method: 'POST', url: '/v1/sessions', headers: { authorization: 'Bearer app-secret-0123456789' }, payload: {} });
      assert.deepEqual([signIn.statusCode, signIn.json().type], [503, '/problems/unavailable']);
      const warning = lines.map((line) => JSON.parse(line) as { msg: string; servers?: string[] }).find((line) => line.msg.startsWith('NATS is not reachable yet'));
      assert.deepEqual(warning?.servers, [`nats://127.0.0.1:${closed}`]);
      for (const line of lines) assert.ok(!line.includes('s3cret-pw'), line);

      // What an operator's `tessera status` shows of it.
      await tessera.listen();
      const out: string[] = [];
      const io = { env: {}, out: (line: string) => void out.push(line), err: () => {}, stdin: async () => '' };
      await runCli(['status', '--url', `http://127.0.0.1:${api}`, '--admin-url', `http://127.0.0.1:${admin}`], io);
      assert.ok(out.includes('global mode:') && out.includes('  tessera_replication_nats_connected{region="us"} 0'), out.join('\n'));
    } finally {
      await tessera.close();
    }
  });

  test('a JetStream server alone: no replica of the global stream can go to the other region', async () => {
    const nats = await startNats('alone', { jetstream: true });
    const error = await failedStart(nats);
    assert.match(error.message, /^cannot place TESSERA_G_us_0 with one replica in each of the 2 regions of TESSERA_REGIONS \(.+\); the NATS cluster must span every region/);
    await assertNothingLeftOpen(nats);
  });
});

describe('TLS to NATS, client certificates verified', { timeout: 90_000 }, () => {
  const cluster: Nats[] = [];
  let certificates: Certificates;

  before(async () => {
    // (The client checks a server it reaches by IP address against "localhost": URLs name hosts with TLS.)
    certificates = makeCertificates(dir);
    const tls = { cert: certificates.serverCert, key: certificates.serverKey, ca: certificates.ca };
    cluster.push(...(await startTwoRegions('tls', { tls })).servers);
  });

  test('with the CA and a client certificate: the node starts, and both regions acknowledge its global write', async () => {
    const tessera = await createTessera(
      configOn(`tls://${cluster[0]!.url.replace('127.0.0.1', 'localhost')}`, { TESSERA_NATS_CA: certificates.ca, TESSERA_NATS_CERT: certificates.clientCert, TESSERA_NATS_KEY: certificates.clientKey }),
      { logger: createLogger('silent') },
    );
    try {
      assert.equal(tessera.replicator?.connected, true);
      const signIn = await tessera.app.inject({ method: 'POST', url: '/v1/sessions', headers: { authorization: 'Bearer app-secret-0123456789' }, payload: {} });
      assert.equal(signIn.statusCode, 201, signIn.body);
      const connz = await getJson<{ connections: Array<{ tls_version?: string; name?: string }> }>(`${cluster[0]!.monitor}/connz`);
      assert.ok(connz.connections.some((c) => c.name?.startsWith('tessera ') && c.tls_version !== undefined), `the node's connection is TLS: ${JSON.stringify(connz.connections)}`);
    } finally {
      await tessera.close();
    }
  });

  test('without a client certificate: the start fails saying to set TESSERA_NATS_CERT and TESSERA_NATS_KEY, not that NATS did not answer', async () => {
    // nats.js itself sees a timeout: under TLS 1.3 the server's refusal comes after the client's handshake is done.
    const error = await failedStart(cluster[0]!, `tls://${cluster[0]!.url.replace('127.0.0.1', 'localhost')}`, createLogger('silent'), { TESSERA_NATS_CA: certificates.ca });
    assert.deepEqual(error.variables, ['TESSERA_NATS_CERT', 'TESSERA_NATS_KEY']);
    assert.match(error.message, /^the NATS server tls:\/\/localhost:\d+ of TESSERA_NATS_URL requires a client certificate .+; set TESSERA_NATS_CERT and TESSERA_NATS_KEY/);
    await assertNothingLeftOpen(cluster[0]!);
  });

  test('without a client certificate, the first server of TESSERA_NATS_URL down: the start fails naming the server that refused', async () => {
    const [down] = await freePorts(1);
    const up = `tls://${cluster[0]!.url.replace('127.0.0.1', 'localhost')}`;
    const error = await failedStart(cluster[0]!, `tls://localhost:${down},${up}`, createLogger('silent'), { TESSERA_NATS_CA: certificates.ca });
    assert.deepEqual(error.variables, ['TESSERA_NATS_CERT', 'TESSERA_NATS_KEY']);
    assert.ok(error.message.startsWith(`the NATS server ${up} of TESSERA_NATS_URL requires a client certificate`), error.message);
    await assertNothingLeftOpen(cluster[0]!);
  });

  test('with a client certificate of a CA the servers do not trust: the start fails naming TESSERA_NATS_CERT and the alert', async () => {
    const other = makeCertificates(mkdtempSync(join(dir, 'other-ca-')));
    const error = await failedStart(cluster[0]!, `tls://${cluster[0]!.url.replace('127.0.0.1', 'localhost')}`, createLogger('silent'), {
      TESSERA_NATS_CA: certificates.ca,
      TESSERA_NATS_CERT: other.clientCert,
      TESSERA_NATS_KEY: other.clientKey,
    });
    assert.deepEqual(error.variables, ['TESSERA_NATS_CERT', 'TESSERA_NATS_KEY']);
    assert.match(error.message, /^the NATS server tls:\/\/localhost:\d+ of TESSERA_NATS_URL refused this node's client certificate \(ERR_SSL_[A-Z0-9_/]+_ALERT_[A-Z_]+\); TESSERA_NATS_CERT must be signed by a CA the servers trust/);
    await assertNothingLeftOpen(cluster[0]!);
  });

  test('without the CA: the server is not trusted, and the start fails saying to set TESSERA_NATS_CA', async () => {
    const error = await failedStart(cluster[0]!, `tls://${cluster[0]!.url.replace('127.0.0.1', 'localhost')}`, createLogger('silent'), { TESSERA_NATS_CERT: certificates.clientCert, TESSERA_NATS_KEY: certificates.clientKey });
    assert.deepEqual(error.variables, ['TESSERA_NATS_URL', 'TESSERA_NATS_CA']);
    assert.match(error.message, /^the TLS certificate of a NATS server of TESSERA_NATS_URL is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE: .+\); set TESSERA_NATS_CA/);
    await assertNothingLeftOpen(cluster[0]!);
  });
});

describe('a running node whose NATS servers stop taking its password, then take it again', { timeout: 120_000 }, () => {
  const cluster: Nats[] = [];
  const options = (password: string, region: string, port: number, routes: readonly number[]): NatsOptions => ({
    jetstream: true,
    region,
    user: { user: 'tessera', password },
    cluster: { port, routes },
  });
  let routes: number[];

  before(async () => {
    const started = await startTwoRegions('auth', { user: { user: 'tessera', password: 'pw-1' } });
    cluster.push(...started.servers);
    routes = started.routes;
  });

  test('it loses the connection, says so, and takes it back', async () => {
    const { lines, logger } = logLines();
    const tessera = await createTessera(configOn(`nats://tessera:pw-1@${cluster[0]!.url}`), { logger });
    const signIn = () => tessera.app.inject({ method: 'POST', url: '/v1/sessions', headers: { authorization: 'Bearer app-secret-0123456789' }, payload: {} });
    const readiness = async () => (await tessera.app.inject({ method: 'GET', url: '/readyz' })).json().replication as string;
    try {
      assert.equal((await signIn()).statusCode, 201);
      assert.equal(await metricValue(tessera, 'tessera_replication_nats_connected{region="us"}'), 1);

      // The servers come back with other users: every reconnect of the node is refused.
      await Promise.all(cluster.map((server, i) => server.restart(options('pw-2', i === 0 ? 'us' : 'eu', routes[i]!, routes))));
      await waitUntil('the node to see the connection gone', 20_000, async () => ((await readiness()) === 'connecting' ? null : 'still connected'));
      assert.equal(await metricValue(tessera, 'tessera_replication_nats_connected{region="us"}'), 0);
      assert.equal(await metricValue(tessera, 'tessera_replication_nats_disconnects_total'), 1);
      assert.equal((await signIn()).statusCode, 503, 'a global write is refused, retry-safe, while NATS is away');
      // Long enough for the client to be refused many times (it gave up after two before).
      await new Promise((resolve) => setTimeout(resolve, 3_000));

      // The password is taken again: the node is back without a restart of its own.
      await Promise.all(cluster.map((server, i) => server.restart(options('pw-1', i === 0 ? 'us' : 'eu', routes[i]!, routes))));
      await waitUntil('the node to reconnect', 30_000, async () => ((await readiness()) === 'connected' ? null : 'still away'));
      await waitUntil('a global write to be acknowledged again', 30_000, async () => {
        const answer = await signIn();
        if (answer.statusCode === 201) return null;
        // What the servers say of the node's global streams: a leader or none, replicas current or not.
        const jsz = await getJson<Jsz>(`${cluster[0]!.monitor}/jsz?accounts=true&streams=true`);
        const streams = (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []).filter((d) => d.name.startsWith('TESSERA_G_us'));
        return `answered ${answer.statusCode}: ${answer.body}; ${JSON.stringify(streams.map((d) => [d.name, d.cluster?.leader, d.cluster?.replicas]))}`;
      });
      assert.equal(await metricValue(tessera, 'tessera_replication_nats_connected{region="us"}'), 1);
      // One line per drop and per return, however many attempts the client made in between.
      const messages = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
      const count = (message: string): number => messages.filter((m) => m === message).length;
      assert.deepEqual([count('lost the connection to NATS; reconnecting (global writes answer 503 meanwhile)'), count('reconnected to NATS')], [1, 1], messages.join('\n'));
      assert.equal(await metricValue(tessera, 'tessera_replication_nats_disconnects_total'), 1);
      for (const line of lines) assert.ok(!line.includes('pw-1'), line);
    } finally {
      await tessera.close();
    }
  });
});

describe('NATS accounts: a node signed in with a credentials file (TESSERA_NATS_CREDS)', { timeout: 120_000 }, () => {
  const cluster: Nats[] = [];
  let accounts: NatsAccounts;
  const creds = join(dir, 'node.creds');
  const seedOf = (path: string): string => /^(SU[A-Z0-9]+)$/m.exec(readFileSync(path, 'utf8'))![1]!;

  before(async () => {
    accounts = await makeNatsAccounts();
    cluster.push(...(await startTwoRegions('jwt', { accounts })).servers);
  });

  test("with a user of the servers' account: the node starts, both regions acknowledge its global write, and the servers name the user", async () => {
    const user = await accounts.writeCreds(creds);
    const { lines, logger } = logLines();
    const tessera = await createTessera(configOn(cluster[0]!.url, { TESSERA_NATS_CREDS: creds }), { logger });
    try {
      assert.equal(tessera.replicator?.connected, true);
      const signIn = await tessera.app.inject({ method: 'POST', url: '/v1/sessions', headers: { authorization: 'Bearer app-secret-0123456789' }, payload: {} });
      assert.equal(signIn.statusCode, 201, signIn.body);
      const connz = await getJson<{ connections: Array<{ name?: string; account?: string; authorized_user?: string }> }>(`${cluster[0]!.monitor}/connz?auth=true`);
      const node = connz.connections.find((c) => c.name?.startsWith('tessera '));
      assert.deepEqual([node?.account, node?.authorized_user], [accounts.account, user], JSON.stringify(connz.connections));
      for (const line of lines) assert.ok(!line.includes(seedOf(creds)), line);
    } finally {
      await tessera.close();
    }
  });

  test('with a user of an account the servers do not know: the start fails naming TESSERA_NATS_CREDS, and leaves nothing open', async () => {
    await accounts.writeCreds(creds, { foreign: true });
    const { lines, logger } = logLines();
    const error = await failedStart(cluster[0]!, cluster[0]!.url, logger, { TESSERA_NATS_CREDS: creds });
    assert.deepEqual(error.variables, ['TESSERA_NATS_CREDS']);
    assert.match(error.message, /^the NATS servers of TESSERA_NATS_URL refused the credentials of TESSERA_NATS_CREDS \(Authorization Violation\); give the \.creds file of a user of an account the servers trust/);
    for (const text of [error.message, ...lines]) assert.ok(!text.includes(seedOf(creds)), text);
    await assertNothingLeftOpen(cluster[0]!);
  });

  test('with a JWT that has expired: the start fails saying to renew the file', async () => {
    await accounts.writeCreds(creds, { expiresAt: Date.now() - 60_000 });
    const error = await failedStart(cluster[0]!, cluster[0]!.url, createLogger('silent'), { TESSERA_NATS_CREDS: creds });
    assert.deepEqual(error.variables, ['TESSERA_NATS_CREDS']);
    assert.match(error.message, /^the user JWT of TESSERA_NATS_CREDS has expired \(.+\); renew the credentials file$/);
    await assertNothingLeftOpen(cluster[0]!);
  });

  test('a running node whose JWT expires loses the connection, says so, and takes the renewed file at its next reconnect, without a restart', async () => {
    // JWTs expire on whole seconds; the node must be up and have written before (a start that
    // sets up the streams took 7 s here).
    const expiresAt = (Math.floor(Date.now() / 1000) + 15) * 1000;
    await accounts.writeCreds(creds, { expiresAt });
    const { lines, logger } = logLines();
    const tessera = await createTessera(configOn(cluster[0]!.url, { TESSERA_NATS_CREDS: creds }), { logger });
    const signIn = () => tessera.app.inject({ method: 'POST', url: '/v1/sessions', headers: { authorization: 'Bearer app-secret-0123456789' }, payload: {} });
    const readiness = async () => (await tessera.app.inject({ method: 'GET', url: '/readyz' })).json().replication as string;
    try {
      assert.equal((await signIn()).statusCode, 201);
      assert.ok(Date.now() < expiresAt, 'the node wrote before its JWT expired');

      // The servers close the connection when the JWT expires, and refuse it at every reconnect.
      await waitUntil('the node to see the connection gone', expiresAt - Date.now() + 15_000, async () => ((await readiness()) === 'connecting' ? null : 'still connected'));
      assert.equal((await signIn()).statusCode, 503, 'a global write is refused, retry-safe, while the JWT is expired');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      assert.equal(await readiness(), 'connecting', 'the expired JWT is refused at the reconnects');

      // The file is renewed (a new user JWT of the same account): the next reconnect reads it.
      const renewed = await accounts.writeCreds(creds);
      await waitUntil('the node to reconnect', 30_000, async () => ((await readiness()) === 'connected' ? null : 'still away'));
      await waitUntil('a global write to be acknowledged again', 30_000, async () => {
        const answer = await signIn();
        return answer.statusCode === 201 ? null : `answered ${answer.statusCode}: ${answer.body}`;
      });
      const connz = await getJson<{ connections: Array<{ name?: string; authorized_user?: string }> }>(`${cluster[0]!.monitor}/connz?auth=true`);
      assert.equal(connz.connections.find((c) => c.name?.startsWith('tessera '))?.authorized_user, renewed, 'connected as the renewed user');
      const messages = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
      // nats-server 2.9.10 takes a JWT in the second it expires in (it compares whole seconds) and
      // closes the connection at once: a reconnect within that second is one more drop, at most
      // one per reconnect attempt (every 250 ms). After it, the expired JWT is refused.
      const drops = messages.filter((m) => m === 'lost the connection to NATS; reconnecting (global writes answer 503 meanwhile)').length;
      assert.ok(drops >= 1 && drops <= 5, `${drops} drops:\n${messages.join('\n')}`);
      assert.equal(messages.filter((m) => m === 'reconnected to NATS').length, drops, 'each drop has its return');
      const errors = lines.map((line) => JSON.parse(line) as { msg: string; err?: { message?: string } }).filter((line) => line.msg === 'NATS reported an error on the connection');
      assert.ok(errors.some((line) => line.err?.message === 'User Authentication Expired'), 'the log says why the servers closed the connection');
      for (const line of lines) assert.ok(!line.includes(seedOf(creds)), line);
    } finally {
      await tessera.close();
    }
  });
});

describe('NKeys: a node signed in with a user\'s seed file (TESSERA_NATS_NKEY)', { timeout: 90_000 }, () => {
  const cluster: Nats[] = [];
  const known = nkeys.createUser();
  const seedFile = (user: ReturnType<typeof nkeys.createUser>, name: string): string => {
    const path = join(dir, name);
    writeFileSync(path, `${new TextDecoder().decode(user.getSeed())}\n`, { mode: 0o600 });
    return path;
  };

  before(async () => {
    cluster.push(...(await startTwoRegions('nkey', { nkeys: [known.getPublicKey()] })).servers);
  });

  test('with the seed of a user the servers list: the node starts, both regions acknowledge its global write, and the servers name the user', async () => {
    const path = seedFile(known, 'known.nk');
    const { lines, logger } = logLines();
    const tessera = await createTessera(configOn(cluster[0]!.url, { TESSERA_NATS_NKEY: path }), { logger });
    try {
      const signIn = await tessera.app.inject({ method: 'POST', url: '/v1/sessions', headers: { authorization: 'Bearer app-secret-0123456789' }, payload: {} });
      assert.equal(signIn.statusCode, 201, signIn.body);
      const connz = await getJson<{ connections: Array<{ name?: string; authorized_user?: string }> }>(`${cluster[0]!.monitor}/connz?auth=true`);
      assert.equal(connz.connections.find((c) => c.name?.startsWith('tessera '))?.authorized_user, known.getPublicKey(), JSON.stringify(connz.connections));
      const seed = new TextDecoder().decode(known.getSeed());
      for (const line of lines) assert.ok(!line.includes(seed), line);
    } finally {
      await tessera.close();
    }
  });

  test('with the seed of a user the servers do not list: the start fails naming TESSERA_NATS_NKEY, and leaves nothing open', async () => {
    const stranger = nkeys.createUser();
    const error = await failedStart(cluster[0]!, cluster[0]!.url, createLogger('silent'), { TESSERA_NATS_NKEY: seedFile(stranger, 'stranger.nk') });
    assert.deepEqual(error.variables, ['TESSERA_NATS_NKEY']);
    assert.match(error.message, /^the NATS servers of TESSERA_NATS_URL refused the NKey of TESSERA_NATS_NKEY \(Authorization Violation\); give the seed of a user whose public key their authorization block lists/);
    assert.ok(!error.message.includes(new TextDecoder().decode(stranger.getSeed())), error.message);
    await assertNothingLeftOpen(cluster[0]!);
  });
});
