/**
 * The repair's questions against a real nats-server whose `max_payload` is
 * 64 KiB (the default is 1 MiB; a small one stands in for large sessions):
 * two regions, each a SQLite store, compare and exchange sessions whose
 * snapshots are too large to go 50 to a message. Before, the answer was sent
 * whole: NATS refused to publish it, the rejection had no handler, and the
 * answering node ended.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { LoggedProcess, freePorts, waitUntil } from '../../sim/processes.js';
import { newDevice } from '../../src/domain/devices.js';
import { HybridLogicalClock } from '../../src/domain/hlc.js';
import { DEFAULT_LIMITS } from '../../src/domain/limits.js';
import { AntiEntropy } from '../../src/replication/anti-entropy.js';
import { QUIET_OBSERVER } from '../../src/replication/observer.js';
import { answerQuestions, ask } from '../../src/replication/questions.js';
import { DEFAULT_REPLICATION, type ReplicationSettings } from '../../src/replication/settings.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const MAX_PAYLOAD = 64 * 1024;
const REGIONS = ['eu', 'us'];
const LINES = 40;

describe('repair questions larger than a NATS message', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-repair-'));
  const unobserved: unknown[] = [];
  const note = (reason: unknown): void => {
    unobserved.push(reason);
  };
  let server: LoggedProcess;
  let url: string;
  const connections: NatsConnection[] = [];
  const stores = new Map<string, SqliteStore>();
  const repairs = new Map<string, AntiEntropy>();

  const region = async (name: string, regions = REGIONS, repairBuckets = 1): Promise<void> => {
    const nc = await connect({ servers: url, name: `repair-test ${name}` });
    connections.push(nc);
    const store = new SqliteStore({
      idleTimeoutMs: 3_600_000,
      slideAfterMs: 0,
      limits: DEFAULT_LIMITS,
      origin: name,
      horizonMs: 60_000,
      feedConsumers: [],
      path: join(dir, `${name}.db`),
    });
    stores.set(name, store);
    // One bucket unless said: every session differs in it, so its snapshots are asked for together.
    const settings: ReplicationSettings = { ...DEFAULT_REPLICATION, region: name, regions, natsUrls: [url], natsMonitorUrls: [], nodeId: `${name}-0`, repairBuckets };
    const repair = new AntiEntropy(nc, store, new HybridLogicalClock(name), settings, pino({ level: 'silent' }), QUIET_OBSERVER);
    repair.serve();
    await nc.flush();
    repairs.set(name, repair);
  };

  const newSession = async (name: string, id: string): Promise<void> => {
    const clock = new HybridLogicalClock(name);
    const now = Date.now();
    const meta = { id, userId: null, createdAt: now, lastActiveAt: now, idleExpiresAt: now + 3_600_000, absoluteExpiresAt: now + 7_200_000, csrfSecret: 's' };
    const created = await stores.get(name)!.create({ meta, deviceId: 'dev-aaaaaaaaaaaa', device: newDevice({}, 'hash-1', now, clock.now()) }, { now, hlc: clock.now() });
    assert.equal(created.status, 'created');
  };

  /** A session with a cart of 40 lines, each with ~250 bytes of attributes: about 15 KB of snapshot. */
  const bigSession = async (name: string, id: string): Promise<void> => {
    await newSession(name, id);
    const store = stores.get(name)!;
    const clock = new HybridLogicalClock(name);
    const now = Date.now();
    for (let line = 0; line < LINES; line += 1) {
      const result = await store.apply(
        id,
        { kind: 'admin' },
        { kind: 'cart.add', sku: `SKU-${line}`, quantity: 1 + (line % 3), attributes: { note: `${id}:${line}:`.padEnd(250, 'x') } },
        { now, hlc: clock.now() },
      );
      assert.equal(result.status, 'applied');
    }
  };

  const digests = async (name: string): Promise<Map<string, string>> => {
    const found = new Map<string, string>();
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: Awaited<ReturnType<SqliteStore['scan']>> = await stores.get(name)!.scan(cursor, 500);
      for (const { id, digest } of page.sessions) found.set(id, digest);
      cursor = page.next;
    }
    return found;
  };

  before(async () => {
    process.on('unhandledRejection', note);
    const [port] = await freePorts(1);
    url = `nats://127.0.0.1:${port}`;
    const config = join(dir, 'nats.conf');
    writeFileSync(config, `listen: "127.0.0.1:${port}"\nmax_payload: ${MAX_PAYLOAD}\n`);
    server = new LoggedProcess('nats-server', 'nats-server', ['-c', config], join(dir, 'nats.log'));
    server.start();
    await waitUntil('nats-server to accept connections', 15_000, async () => {
      if (!server.running) throw new Error(`nats-server exited: ${server.logTail()}`);
      try {
        await (await connect({ servers: url })).close();
        return null;
      } catch (error) {
        return String(error);
      }
    }, 100);
    for (const name of REGIONS) await region(name);
  });
  after(async () => {
    process.off('unhandledRejection', note);
    for (const repair of repairs.values()) repair.stopServing();
    for (const nc of connections) await nc.close();
    for (const store of stores.values()) await store.close();
    await server?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a region pulls and pushes sessions whose snapshots take many messages, and both end with the same sessions', async () => {
    // 12 sessions of ~15 KB each: about 180 KB of snapshots, three times what a message carries.
    const euOnly = Array.from({ length: 12 }, (_, i) => `session-eu-only-${String(i).padStart(8, '0')}`);
    const usOnly = Array.from({ length: 12 }, (_, i) => `session-us-only-${String(i).padStart(8, '0')}`);
    for (const id of euOnly) await bigSession('eu', id);
    for (const id of usOnly) await bigSession('us', id);

    const outcome = await repairs.get('us')!.compare('eu');
    assert.equal(outcome.pulled, euOnly.length, 'every session only eu had was pulled');
    assert.equal(outcome.pushed, usOnly.length, 'every session only us had was pushed');
    const [eu, us] = [await digests('eu'), await digests('us')];
    assert.deepEqual([...us.keys()].sort(), [...euOnly, ...usOnly].sort());
    assert.deepEqual(new Map([...us].sort()), new Map([...eu].sort()), 'both regions hold every session at the same state');
    const again = await repairs.get('us')!.compare('eu');
    assert.equal(again.differing, 0, 'a second comparison finds nothing to exchange');
    assert.deepEqual(unobserved.map(String), []);
  });

  test('each periodic round is reported per peer: ok with a region that answers, failed with one that does not', async () => {
    const rounds: string[] = [];
    const settings: ReplicationSettings = {
      ...DEFAULT_REPLICATION,
      region: 'us',
      regions: ['eu', 'us', 'gone'],
      natsUrls: [url],
      natsMonitorUrls: [],
      nodeId: 'us-1',
      repairBuckets: 1,
    };
    // Not serving: it only asks, so the regions' own answering nodes stay the only ones.
    const asking = new AntiEntropy(connections[1]!, stores.get('us')!, new HybridLogicalClock('us'), settings, pino({ level: 'silent' }), {
      ...QUIET_OBSERVER,
      repairRound: (peer, outcome) => rounds.push(`${peer}:${outcome}`),
    });
    const outcomes = await asking.compareAll();
    assert.deepEqual(outcomes.map((o) => o.peer), ['eu']);
    assert.deepEqual(rounds, ['eu:ok', 'gone:failed']);
  });

  test('digests of 16 buckets too many for one message are asked for again bucket by bucket', async () => {
    await region('ap', ['ap', 'sa'], 16);
    await region('sa', ['ap', 'sa'], 16);
    // 2,000 sessions: their digests (about 45 bytes each) take 90 KB together, under 6 KB per bucket.
    const ids = Array.from({ length: 2_000 }, (_, i) => `session-ap-${String(i).padStart(12, '0')}`);
    for (const id of ids) await newSession('ap', id);
    const outcome = await repairs.get('sa')!.compare('ap');
    assert.equal(outcome.differing, 16);
    assert.equal(outcome.pulled, ids.length);
    assert.deepEqual(new Map([...(await digests('sa'))].sort()), new Map([...(await digests('ap'))].sort()));
    assert.deepEqual(unobserved.map(String), []);
  });

  test('one bucket whose digests alone exceed a message fails the round with the size named, not a timeout', async () => {
    await region('xx', ['xx', 'yy']);
    await region('yy', ['xx', 'yy']);
    const ids = Array.from({ length: 2_000 }, (_, i) => `session-xx-${String(i).padStart(12, '0')}`);
    for (const id of ids) await newSession('xx', id);
    await assert.rejects(repairs.get('yy')!.compare('xx'), /could not answer sessions: the answer takes \d+ bytes, more than the 65536 .*max_payload/);
    assert.equal((await digests('yy')).size, 0, 'nothing was exchanged');
    assert.deepEqual(unobserved.map(String), []);
  });

  test('an answer larger than a message is refused in words the asker sees, and the answering node lives on', async () => {
    const nc = connections[0]!;
    const subscriptions = answerQuestions(nc, 'test', 'eu', {
      big: async () => 'x'.repeat(MAX_PAYLOAD * 2),
      small: async () => 'fine',
    });
    await nc.flush();
    try {
      await assert.rejects(ask(connections[1]!, 'test', 'eu', 'big', {}, 10_000), /could not answer big: the answer takes \d+ bytes, more than the 65536 .*max_payload/);
      assert.equal(await ask(connections[1]!, 'test', 'eu', 'small', {}, 10_000), 'fine', 'the same subscription answers the next question');
    } finally {
      for (const subscription of subscriptions) subscription.unsubscribe();
    }
    assert.deepEqual(unobserved.map(String), []);
  });

  test('an answer finished after its connection closed is dropped without a rejection nobody handles', async () => {
    const answering = await connect({ servers: url, name: 'repair-test closing' });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let asked: () => void = () => {};
    const questionArrived = new Promise<void>((resolve) => {
      asked = resolve;
    });
    answerQuestions(answering, 'test', 'us', {
      slow: async () => {
        asked();
        await gate;
        return 'late';
      },
    });
    await answering.flush();
    const question = ask(connections[0]!, 'test', 'us', 'slow', {}, 2_000);
    await questionArrived;
    await answering.close();
    release();
    await assert.rejects(question, /did not answer slow/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(unobserved.map(String), []);
  });
});
