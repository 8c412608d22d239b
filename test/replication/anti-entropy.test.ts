/**
 * The repair's questions against a real nats-server whose `max_payload` is
 * 64 KiB (the default is 1 MiB; a small one stands in for large sessions):
 * two regions, each a SQLite store, compare and exchange sessions whose
 * snapshots are too large to go 50 to a message, and lists of sessions too
 * long for one. Before, the answer was sent whole: NATS refused to publish it,
 * the rejection had no handler, and the answering node ended. Later, a bucket
 * of more sessions than one message lists failed every round; now each side
 * lists its sessions a page at a time and holds none of the other's list.
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
import { shardOf } from '../../src/replication/layout.js';
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

  /** Counts the questions a region is asked, by name, while `work` runs (a plain subscription sees each beside the answering one). */
  const questionsAsked = async (name: string, work: () => Promise<unknown>): Promise<Record<string, number>> => {
    const counts: Record<string, number> = {};
    const watcher = connections[0]!.subscribe(`tessera.repair.${name}.*`, {
      callback: (_error, msg) => {
        const question = msg.subject.split('.').at(-1)!;
        counts[question] = (counts[question] ?? 0) + 1;
      },
    });
    await connections[0]!.flush();
    try {
      await work();
      await connections[0]!.flush();
    } finally {
      watcher.unsubscribe();
    }
    return counts;
  };

  test('sessions of 16 buckets, too many for one message, are listed a page at a time', async () => {
    await region('ap', ['ap', 'sa'], 16);
    await region('sa', ['ap', 'sa'], 16);
    // 2,000 sessions: their digests (about 45 bytes each) take 90 KB together, more than a message carries.
    const ids = Array.from({ length: 2_000 }, (_, i) => `session-ap-${String(i).padStart(12, '0')}`);
    for (const id of ids) await newSession('ap', id);
    let outcome: Awaited<ReturnType<AntiEntropy['compare']>> | undefined;
    const asked = await questionsAsked('ap', async () => {
      outcome = await repairs.get('sa')!.compare('ap');
    });
    assert.equal(outcome!.differing, 16);
    assert.equal(outcome!.pulled, ids.length);
    assert.ok(asked['sessions']! >= 2, `ap listed its sessions in ${asked['sessions']} page(s)`);
    assert.deepEqual(new Map([...(await digests('sa'))].sort()), new Map([...(await digests('ap'))].sort()));
    assert.deepEqual(unobserved.map(String), []);
  });

  test('one bucket whose digests take several messages is compared a page at a time both ways: every session ends in both regions', async () => {
    await region('xx', ['xx', 'yy']);
    await region('yy', ['xx', 'yy']);
    const onlyX = Array.from({ length: 2_000 }, (_, i) => `session-xx-${String(i).padStart(12, '0')}`);
    const onlyY = Array.from({ length: 2_000 }, (_, i) => `session-yy-${String(i).padStart(12, '0')}`);
    for (const id of onlyX) await newSession('xx', id);
    for (const id of onlyY) await newSession('yy', id);
    let outcome: Awaited<ReturnType<AntiEntropy['compare']>> | undefined;
    const asked = await questionsAsked('xx', async () => {
      outcome = await repairs.get('yy')!.compare('xx');
    });
    assert.equal(outcome!.differing, 1);
    assert.equal(outcome!.pulled, onlyX.length, 'every session only xx had was pulled');
    assert.equal(outcome!.pushed, onlyY.length, 'every session only yy had was pushed');
    assert.ok(asked['sessions']! >= 2, `xx listed its sessions in ${asked['sessions']} page(s)`);
    assert.ok(asked['digests']! >= 2, `yy's sessions were looked up in xx in ${asked['digests']} question(s)`);
    const [x, y] = [await digests('xx'), await digests('yy')];
    assert.equal(x.size, onlyX.length + onlyY.length);
    assert.deepEqual(new Map([...y].sort()), new Map([...x].sort()), 'both regions hold every session at the same state');
    assert.equal((await repairs.get('yy')!.compare('xx')).differing, 0, 'a second comparison finds nothing to exchange');
    assert.deepEqual(unobserved.map(String), []);
  });

  test('an answer scans a bounded stretch of the store: a page may list nothing and still say where to go on', async () => {
    // 20,500 sessions, all in bucket 0 of 1: asked for bucket 5, no page lists any, and an answer stops after 20,000.
    await region('zz', ['zz']);
    for (let i = 0; i < 20_500; i += 1) await newSession('zz', `session-zz-${String(i).padStart(12, '0')}`);
    const pages: { listed: number; next: string | null }[] = [];
    let cursor: string | null = '';
    while (cursor !== null && pages.length < 10) {
      const page = (await ask(connections[1]!, 'repair', 'zz', 'sessions', { buckets: [5], cursor, maxBytes: 1 << 20 }, 10_000)) as { sessions: unknown[]; next: string | null };
      pages.push({ listed: page.sessions.length, next: page.next });
      cursor = page.next;
    }
    assert.deepEqual(pages.map((p) => p.listed), [0, 0]);
    assert.notEqual(pages[0]!.next, null, 'the first answer says where the scan goes on');
    assert.equal(pages[1]!.next, null, 'the second ends it');
  });

  test('sums per bucket are paged too, and add up to the whole store’s', async () => {
    // zz: 20,500 sessions, more than one answer scans.
    const whole = (await ask(connections[1]!, 'repair', 'zz', 'buckets', {}, 10_000)) as Record<string, string>;
    const pages: { digests: Record<string, string>; counts: Record<string, number>; next: string | null }[] = [];
    let cursor: string | null = '';
    while (cursor !== null && pages.length < 10) {
      const page = (await ask(connections[1]!, 'repair', 'zz', 'buckets', { cursor }, 10_000)) as (typeof pages)[number];
      pages.push(page);
      cursor = page.next;
    }
    assert.equal(pages.length, 2);
    assert.deepEqual(pages.map((p) => p.counts['0']), [20_000, 500]);
    const xor = (a: string, b: string): string => (BigInt(`0x${a}`) ^ BigInt(`0x${b}`)).toString(16).padStart(16, '0');
    assert.equal(xor(pages[0]!.digests['0']!, pages[1]!.digests['0']!), whole['0']);
  });

  test('a round under way ends at its next page once the repair is stopped: shutdown does not wait for a whole store', async () => {
    const settings: ReplicationSettings = { ...DEFAULT_REPLICATION, region: 'zz', regions: ['zz', 'yy'], natsUrls: [url], natsMonitorUrls: [], nodeId: 'zz-2', repairBuckets: 1 };
    const asking = new AntiEntropy(connections[1]!, stores.get('zz')!, new HybridLogicalClock('zz'), settings, pino({ level: 'silent' }), QUIET_OBSERVER);
    const round = asking.compare('yy');
    await asking.stop();
    await assert.rejects(round, /the repair stopped/);
    assert.equal((await digests('yy')).size, 4_000, 'nothing of zz reached yy');
  });

  test('nodes from before paged repair are answered as they ask; one of them asked is named, and the round fails', async () => {
    // Their questions: the digests per bucket, flat, and every session of the buckets named (ap: 2,000 sessions in 16 buckets).
    const flat = (await ask(connections[1]!, 'repair', 'ap', 'buckets', {}, 10_000)) as Record<string, string>;
    const sums = (await ask(connections[1]!, 'repair', 'ap', 'buckets', { cursor: '' }, 10_000)) as { digests: Record<string, string>; counts: Record<string, number>; next: string | null };
    assert.deepEqual(flat, sums.digests);
    assert.equal(sums.next, null, '2,000 sessions are summed up in one answer');
    assert.equal(Object.keys(flat).length, 16);
    const held = (await ask(connections[1]!, 'repair', 'ap', 'sessions', { buckets: [3, 7] }, 10_000)) as Record<string, Record<string, string>>;
    const stored = await digests('ap');
    for (const bucket of [3, 7]) {
      const inBucket = [...stored].filter(([id]) => shardOf(id, 16) === bucket).sort();
      assert.ok(inBucket.length > 0);
      assert.deepEqual(new Map(Object.entries(held[bucket]!).sort()), new Map(inBucket), `bucket ${bucket}`);
      assert.equal(sums.counts[bucket], inBucket.length);
    }

    const old = answerQuestions(connections[0]!, 'repair', 'old', { buckets: async () => flat });
    await connections[0]!.flush();
    try {
      const settings: ReplicationSettings = { ...DEFAULT_REPLICATION, region: 'yy', regions: ['old', 'yy'], natsUrls: [url], natsMonitorUrls: [], nodeId: 'yy-2', repairBuckets: 1 };
      const asking = new AntiEntropy(connections[1]!, stores.get('yy')!, new HybridLogicalClock('yy'), settings, pino({ level: 'silent' }), QUIET_OBSERVER);
      await assert.rejects(asking.compare('old'), /region old runs a Tessera from before paged repair/);
    } finally {
      for (const subscription of old) subscription.unsubscribe();
    }
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
