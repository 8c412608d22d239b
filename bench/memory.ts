/**
 * `npm run bench:memory`: Redis memory per typical session against the size
 * of its public JSON, key by key, with Redis's default hash encodings and with
 * listpack thresholds raised (what it would take to go lower).
 *
 * Sessions are the benchmark's data set (bench/dataset/generator.ts: 2–8 KiB
 * of public JSON, cart 1–20 lines, up to 100 viewed products, 1–3 devices),
 * written through the API exactly as `npm run bench` seeds them. For each
 * configuration: a fresh redis-server, a Tessera node on it, N sessions; then
 * `used_memory` grown per session, `MEMORY USAGE` of every key by kind, the
 * encodings Redis chose, and the mean public JSON of `GET /v1/session` with
 * every part for a sample of sessions.
 *
 *   npm run bench:memory                 # 3,000 sessions
 *   MEMORY_SESSIONS=10000 npm run bench:memory
 *   TESSERA_REDIS_HISTORY_FORM=hash npm run bench:memory   # histories kept as hashes, as before D93
 *   TESSERA_REDIS_USER_SESSIONS_FORM=set npm run bench:memory   # a user's sessions as a set, as before D94
 */
import { startRedis, type RedisServer } from '../test/support/redis-harness.js';
import { seedTessera } from './dataset/seed.js';
import { tesseraOnRedis } from './lib/tessera-on-redis.js';

const SESSIONS = Number(process.env.MEMORY_SESSIONS ?? 3_000);
const SAMPLE = 200;
const DATA_SEED = 7;
const KEY = 'memory-bench-key-0123456789abcdef';
const HISTORY_FORM = process.env.TESSERA_REDIS_HISTORY_FORM;
const USER_SESSIONS_FORM = process.env.TESSERA_REDIS_USER_SESSIONS_FORM;
/** The stored forms named in the environment, passed on to the node. */
const FORMS = {
  ...(HISTORY_FORM === undefined ? {} : { TESSERA_REDIS_HISTORY_FORM: HISTORY_FORM }),
  ...(USER_SESSIONS_FORM === undefined ? {} : { TESSERA_REDIS_USER_SESSIONS_FORM: USER_SESSIONS_FORM }),
};

/** Redis settings compared; the default first. */
const CONFIGURATIONS: ReadonlyArray<{ readonly name: string; readonly args: readonly string[] }> = [
  { name: 'Redis defaults (hash-max-listpack-entries 128, -value 64)', args: [] },
  { name: 'hash-max-listpack-entries 256, -value 512 (docs/redis.md)', args: ['--hash-max-listpack-entries', '256', '--hash-max-listpack-value', '512'] },
];

/** What a key holds, by its name (src/store/redis/keys.ts). */
function kindOf(key: string): string {
  if (key.startsWith('ts:u:')) return 'user index';
  if (key.startsWith('ts:us:')) return "user's sessions";
  const suffix = /:(\w)$/.exec(key)?.[1];
  return { m: 'metadata', d: 'devices', c: 'cart', p: 'preferences', h: 'history', q: 'parked records' }[suffix ?? ''] ?? `other (${key.replace(/\{.*\}/, '{…}')})`;
}

async function usedMemory(redis: RedisServer): Promise<number> {
  const info = String(await redis.command('INFO', 'memory'));
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

interface Measured {
  readonly name: string;
  readonly grownPerSession: number;
  readonly jsonPerSession: number;
  readonly generatorBytes: number;
  readonly byKind: ReadonlyMap<string, { bytes: number; keys: number; encodings: Map<string, number> }>;
}

async function measure(name: string, args: readonly string[]): Promise<Measured> {
  const redis = await startRedis({ args: [...args] });
  const { tessera, origin } = await tesseraOnRedis(redis, KEY, FORMS);
  try {
    const before = await usedMemory(redis);
    const seeded = await seedTessera({ origin, apiKey: KEY, count: SESSIONS, dataSeed: DATA_SEED });
    const grown = (await usedMemory(redis)) - before;

    const byKind = new Map<string, { bytes: number; keys: number; encodings: Map<string, number> }>();
    let cursor = '0';
    do {
      const [next, keys] = (await redis.command('SCAN', cursor, 'COUNT', 1000)) as [string, string[]];
      cursor = next;
      for (const key of keys) {
        const kind = kindOf(key);
        const entry = byKind.get(kind) ?? { bytes: 0, keys: 0, encodings: new Map<string, number>() };
        entry.bytes += Number(await redis.command('MEMORY', 'USAGE', key, 'SAMPLES', 0));
        entry.keys += 1;
        const encoding = String(await redis.command('OBJECT', 'ENCODING', key));
        entry.encodings.set(encoding, (entry.encodings.get(encoding) ?? 0) + 1);
        byKind.set(kind, entry);
      }
    } while (cursor !== '0');

    let json = 0;
    for (let i = 0; i < SAMPLE; i++) {
      const token = seeded.credentials[Math.floor((i * SESSIONS) / SAMPLE)]!;
      const response = await fetch(`${origin}/v1/session?parts=cart,prefs,history,devices`, {
        headers: { authorization: `Bearer ${KEY}`, 'tessera-token': token },
      });
      json += Buffer.byteLength(await response.text());
    }
    return { name, grownPerSession: grown / SESSIONS, jsonPerSession: json / SAMPLE, generatorBytes: seeded.meanSessionBytes, byKind };
  } finally {
    await tessera.close();
    await redis.stop();
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

const results: Measured[] = [];
for (const { name, args } of CONFIGURATIONS) results.push(await measure(name, args));

console.log(`# Redis memory per session (${fmt(SESSIONS)} sessions of the bench data set, ${process.version}; histories kept as ${HISTORY_FORM === 'hash' ? 'hashes' : 'sorted sets'}, a user's sessions as ${USER_SESSIONS_FORM === 'set' ? 'a set' : 'a hash'})\n`);
console.log('| configuration | used_memory grown / session | public JSON of GET /v1/session (all parts) | ratio | the parts alone (generator) | ratio |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of results) {
  console.log(
    `| ${r.name} | ${fmt(r.grownPerSession)} B | ${fmt(r.jsonPerSession)} B | ${(r.grownPerSession / r.jsonPerSession).toFixed(2)}× | ` +
      `${fmt(r.generatorBytes)} B | ${(r.grownPerSession / r.generatorBytes).toFixed(2)}× |`,
  );
}
for (const r of results) {
  console.log(`\n## ${r.name}: MEMORY USAGE by key, per session\n`);
  console.log('| key | keys | bytes / session | encodings |');
  console.log('| --- | --- | --- | --- |');
  for (const [kind, { bytes, keys, encodings }] of [...r.byKind].sort((a, b) => b[1].bytes - a[1].bytes)) {
    const shares = [...encodings].map(([encoding, n]) => `${encoding} ${fmt(n)}`).join(', ');
    console.log(`| ${kind} | ${fmt(keys)} | ${fmt(bytes / SESSIONS)} B | ${shares} |`);
  }
}
