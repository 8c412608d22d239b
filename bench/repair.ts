/**
 * `npm run bench:repair`: what the repair between regions reads of each
 * session, on Redis (decision D88). A round lists every session with its
 * digest; it used to read each session's snapshot (every part, decoded) to
 * make the digest, and now reads the metadata alone (`tesseraDigest`). Both
 * reads run here on the same sessions, alternated round by round; and the
 * memory a round used to hold, every session's id and digest by bucket, is
 * measured against the 256 sums it holds now.
 *
 * Sessions are the benchmark's data set (bench/dataset/generator.ts: 2–8 KiB
 * of public JSON, cart 1–20 lines, up to 100 viewed products, 1–3 devices),
 * written through the API as `npm run bench` seeds them.
 *
 *   npm run bench:repair                 # 10,000 sessions, 4 rounds of each (heap figures need thousands)
 *   REPAIR_SESSIONS=50000 REPAIR_ROUNDS=6 npm run bench:repair
 */
import { sessionDigest } from '../src/domain/versions.js';
import { shardOf } from '../src/replication/layout.js';
import type { SessionStore } from '../src/store/session-store.js';
import { startRedis, type RedisServer } from '../test/support/redis-harness.js';
import { seedTessera } from './dataset/seed.js';
import { tesseraOnRedis } from './lib/tessera-on-redis.js';

const SESSIONS = Number(process.env.REPAIR_SESSIONS ?? 10_000);
const ROUNDS = Number(process.env.REPAIR_ROUNDS ?? 4);
const PAGE = 500;
const BUCKETS = 256;
const DATA_SEED = 7;
const KEY = 'repair-bench-key-0123456789abcdef';

type Read = (store: SessionStore, ids: readonly string[]) => Promise<(string | null)[]>;

const READS: ReadonlyArray<{ readonly name: string; readonly read: Read }> = [
  {
    name: 'snapshot (before D88)',
    read: (store, ids) => Promise.all(ids.map(async (id) => {
      const snapshot = await store.snapshot(id);
      return snapshot === null ? null : sessionDigest(snapshot.meta, snapshot.versions);
    })),
  },
  { name: 'metadata alone (digests)', read: (store, ids) => store.digests(ids) },
];

async function redisCpuSeconds(redis: RedisServer): Promise<number> {
  const info = String(await redis.command('INFO', 'cpu'));
  return Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
}

async function heapUsed(): Promise<number> {
  for (let i = 0; i < 3; i++) globalThis.gc?.();
  await new Promise((resolve) => setImmediate(resolve));
  return process.memoryUsage().heapUsed;
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const redis = await startRedis();
const { tessera, origin } = await tesseraOnRedis(redis, KEY);
try {
  const seeded = await seedTessera({ origin, apiKey: KEY, count: SESSIONS, dataSeed: DATA_SEED });
  const { store } = tessera;

  const ids: string[] = [];
  for (let cursor: string | null = ''; cursor !== null; ) {
    const page: Awaited<ReturnType<SessionStore['scan']>> = await store.scan(cursor, PAGE);
    ids.push(...page.sessions.map((s) => s.id));
    cursor = page.next;
  }
  const pages = Array.from({ length: Math.ceil(ids.length / PAGE) }, (_, i) => ids.slice(i * PAGE, (i + 1) * PAGE));

  // Warm both paths (the library's first calls, the JIT).
  for (const { read } of READS) await read(store, pages[0]!);

  const figures = READS.map(() => ({ wall: [] as number[], node: [] as number[], redis: [] as number[] }));
  let reference: (string | null)[] | null = null;
  for (let round = 0; round < ROUNDS; round++) {
    // Which read goes first alternates round by round.
    const order = round % 2 === 0 ? [0, 1] : [1, 0];
    for (const k of order) {
      const { read } = READS[k]!;
      const [redisBefore, cpuBefore, started] = [await redisCpuSeconds(redis), process.cpuUsage(), process.hrtime.bigint()];
      const digests: (string | null)[] = [];
      for (const page of pages) digests.push(...(await read(store, page)));
      const wall = Number(process.hrtime.bigint() - started) / 1e6;
      const cpu = process.cpuUsage(cpuBefore);
      const redisCpu = (await redisCpuSeconds(redis)) - redisBefore;
      if (reference === null) reference = digests;
      else if (digests.some((digest, i) => digest !== reference![i])) throw new Error('the two reads gave different digests');
      figures[k]!.wall.push((wall * 1000) / ids.length);
      figures[k]!.node.push((cpu.user + cpu.system) / ids.length);
      figures[k]!.redis.push((redisCpu * 1e6) / ids.length);
    }
  }

  // What a round held before: every session's id and digest, by bucket; now 256 sums and counts.
  // Built from a scan, as the round built it, so that its ids and digests are its own strings.
  const before = await heapUsed();
  const index = new Map<number, Map<string, string>>();
  for (let cursor: string | null = ''; cursor !== null; ) {
    const page: Awaited<ReturnType<SessionStore['scan']>> = await store.scan(cursor, PAGE);
    for (const { id, digest } of page.sessions) {
      const bucket = shardOf(id, BUCKETS);
      let sessions = index.get(bucket);
      if (sessions === undefined) index.set(bucket, (sessions = new Map()));
      sessions.set(id, digest);
    }
    cursor = page.next;
  }
  const held = (await heapUsed()) - before;
  if ([...index.values()].reduce((n, sessions) => n + sessions.size, 0) !== ids.length) throw new Error('the index missed sessions');

  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`# What the repair reads per session on Redis (${fmt(ids.length)} sessions of the bench data set, ${ROUNDS} rounds alternated, ${process.version})\n`);
  console.log(`Mean public JSON of a session: ${fmt(seeded.meanSessionBytes)} B.\n`);
  console.log('| read | µs of wall time per session | µs of node CPU | µs of Redis CPU | (each round) |');
  console.log('| --- | --- | --- | --- | --- |');
  READS.forEach(({ name }, k) => {
    const f = figures[k]!;
    const rounds = f.wall.map((w, r) => `${fmt(w, 1)} / ${fmt(f.node[r]!, 1)} / ${fmt(f.redis[r]!, 1)}`).join('; ');
    console.log(`| ${name} | ${fmt(median(f.wall), 1)} | ${fmt(median(f.node), 1)} | ${fmt(median(f.redis), 1)} | ${rounds} |`);
  });
  const ratio = (field: 'wall' | 'node' | 'redis'): string => (median(figures[1]![field]) / median(figures[0]![field])).toFixed(2);
  console.log(`\nMetadata alone ÷ snapshot (medians): wall ${ratio('wall')}×, node CPU ${ratio('node')}×, Redis CPU ${ratio('redis')}×.`);
  console.log(`\nHeld by a round before D88: ${fmt(held / ids.length)} B of heap per session (${fmt(index.size)} buckets); ` +
    `at 500 M sessions, ${fmt((held / ids.length) * 500e6 / 2 ** 30)} GiB. Now: ${BUCKETS} sums and counts, and one message's worth of ids.`);
} finally {
  await tessera.close();
  await redis.stop();
}
