/**
 * A node pointed at NATS that cannot hold the global mode's streams fails its
 * start with an error that says what to change, and leaves nothing open: no
 * connection to its store, none to NATS. Against real servers: a nats-server
 * without JetStream, one with JetStream but alone (a global stream needs a
 * replica in every region), and one that refuses the node's password. Before,
 * the first and the last were taken for servers still starting: the node
 * started, and its global writes answered 503 for good. NATS that does not
 * answer at all is no setup error: the node serves, and its log names the
 * servers without the password in their URLs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoggedProcess, freePorts, getJson, waitUntil } from '../../sim/processes.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/logging.js';
import { ReplicationSetupError } from '../../src/replication/streams.js';
import { createTessera } from '../../src/tessera.js';
import { startRedis, type RedisServer } from '../support/redis-harness.js';

interface Nats {
  readonly url: string;
  readonly monitor: string;
  readonly process: LoggedProcess;
}

describe('a NATS that cannot hold the streams fails the start', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-setup-'));
  let redis: RedisServer;
  const servers: Nats[] = [];

  const startNats = async (name: string, jetstream: boolean, user?: { user: string; password: string }): Promise<Nats> => {
    const [port, http] = await freePorts(2);
    const config = join(dir, `${name}.conf`);
    writeFileSync(
      config,
      [
        `server_name: ${JSON.stringify(name)}`,
        `listen: "127.0.0.1:${port}"`,
        `http: "127.0.0.1:${http}"`,
        'server_tags: ["region:us"]',
        ...(jetstream ? [`jetstream { store_dir: ${JSON.stringify(join(dir, name))}, unique_tag: "region:" }`] : []),
        ...(user === undefined ? [] : [`authorization { users: [ { user: ${JSON.stringify(user.user)}, password: ${JSON.stringify(user.password)} } ] }`]),
        '',
      ].join('\n'),
    );
    const process = new LoggedProcess(`nats-server ${name}`, 'nats-server', ['-c', config], join(dir, `${name}.log`));
    process.start();
    const monitor = `http://127.0.0.1:${http}`;
    await waitUntil(`nats-server ${name} to answer`, 15_000, async () => ((await getJson<{ server_name: string }>(`${monitor}/varz`)).server_name === name ? null : 'another server'));
    const nats = { url: `127.0.0.1:${port}`, monitor, process };
    servers.push(nats);
    return nats;
  };

  /** The configuration of a node of region us (of us and eu) on `natsUrl` and Redis. */
  const configOn = (natsUrl: string) =>
    loadConfig({
      TESSERA_API_KEYS: 'app:app-secret-0123456789',
      TESSERA_STORE: 'redis',
      TESSERA_REDIS_URL: redis.url,
      TESSERA_NATS_URL: natsUrl,
      TESSERA_REGION: 'us',
      TESSERA_REGIONS: 'us,eu',
    });

  /** Every line the node logs, at info and above. */
  const logLines = (): { lines: string[]; logger: ReturnType<typeof createLogger> } => {
    const lines: string[] = [];
    return { lines, logger: createLogger('info', { write: (line: string) => void lines.push(line) }) };
  };

  /** Starts a node on `natsUrl` (default: `nats`'s) and Redis; resolves to why it failed. */
  const failedStart = async (nats: Nats, natsUrl = nats.url, logger = createLogger('silent')): Promise<ReplicationSetupError> => {
    const error = await createTessera(configOn(natsUrl), { logger }).then(
      async (tessera) => {
        await tessera.close();
        return assert.fail('started on a NATS that cannot hold the streams');
      },
      (e: unknown) => e,
    );
    assert.ok(error instanceof ReplicationSetupError, `failed with ${String(error)}`);
    return error;
  };

  /** Nothing the failed start opened is left: the only Redis client is the one asking, and NATS has none. */
  const assertNothingLeftOpen = async (nats: Nats): Promise<void> => {
    const clients = String(await redis.command('CLIENT', 'LIST')).trim().split('\n');
    assert.equal(clients.length, 1, `Redis clients left open:\n${clients.join('\n')}`);
    await waitUntil('the node’s NATS connection to close', 5_000, async () => {
      const connz = await getJson<{ num_connections: number }>(`${nats.monitor}/connz`);
      return connz.num_connections === 0 ? null : `${connz.num_connections} connections`;
    });
  };

  before(async () => {
    redis = await startRedis();
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.process.kill()));
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a NATS server without JetStream', async () => {
    const nats = await startNats('plain', false);
    const error = await failedStart(nats);
    assert.match(error.message, /^JetStream is not available on the NATS servers of TESSERA_NATS_URL \(jetstream is not enabled\); start every server with JetStream enabled$/);
    await assertNothingLeftOpen(nats);
  });

  test('a NATS server that refuses the password: the error names the variable, and neither it nor the log shows the password', async () => {
    const nats = await startNats('guarded', true, { user: 'tessera', password: 'right-pw' });
    const { lines, logger } = logLines();
    const error = await failedStart(nats, `nats://tessera:wr0ng-pw@${nats.url}`, logger);
    assert.match(error.message, /^the NATS servers of TESSERA_NATS_URL refused its credentials \(Authorization Violation\); give a user and password NATS knows/);
    assert.ok(lines.length > 0, 'the failure is logged');
    for (const text of [error.message, ...lines]) assert.ok(!text.includes('wr0ng-pw'), text);
    await assertNothingLeftOpen(nats);
  });

  test('NATS not answering is no setup error: the node serves its region, and its log names the servers without the password', async () => {
    const [closed] = await freePorts(1);
    const { lines, logger } = logLines();
    const tessera = await createTessera(configOn(`nats://tessera:s3cret-pw@127.0.0.1:${closed}`), { logger });
    try {
      assert.equal(tessera.replicator?.connected, false);
      const ready = await tessera.app.inject({ method: 'GET', url: '/readyz' });
      assert.deepEqual([ready.statusCode, ready.json().replication], [200, 'connecting']);
      // A sign-in is a global write: stored here, answered 503 (retry-safe) until NATS acknowledges.
      const signIn = await tessera.app.inject({ method: 'POST', url: '/v1/sessions', headers: { authorization: 'Bearer app-secret-0123456789' }, payload: {} });
      assert.deepEqual([signIn.statusCode, signIn.json().type], [503, '/problems/unavailable']);
      const warning = lines.map((line) => JSON.parse(line) as { msg: string; servers?: string[] }).find((line) => line.msg.startsWith('NATS is not reachable yet'));
      assert.deepEqual(warning?.servers, [`nats://***@127.0.0.1:${closed}`]);
      for (const line of lines) assert.ok(!line.includes('s3cret-pw'), line);
    } finally {
      await tessera.close();
    }
  });

  test('a JetStream server alone: no replica of the global stream can go to the other region', async () => {
    const nats = await startNats('alone', true);
    const error = await failedStart(nats);
    assert.match(error.message, /^cannot place TESSERA_G_us_0 with one replica in each of the 2 regions of TESSERA_REGIONS \(.+\); the NATS cluster must span every region/);
    await assertNothingLeftOpen(nats);
  });
});
