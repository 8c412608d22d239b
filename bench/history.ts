/**
 * `npm run bench:history`: what a view costs inside Redis with the history
 * kept as a sorted set (decision D93) against the hash of earlier releases.
 * Each form gets a redis-server of its own and the same sessions, every one
 * with a full history (100 views: each new view pushes the oldest out). The
 * phases alternate form by form, round by round, and report Redis's CPU per
 * view (/proc) and its time per `FCALL` (`INFO commandstats`), with cart
 * writes beside them for scale, then the memory of a full history in each
 * form. Each write says the version it holds of its part, as a node's L1
 * does, so the reply leaves the part out.
 *
 *   npm run bench:history                 # 500 sessions, 5 rounds of 5,000 views per form
 *   HISTORY_SESSIONS=2000 HISTORY_ROUNDS=7 npm run bench:history
 */
import { DEFAULT_LIMITS } from '../src/domain/limits.js';
import { RedisStore } from '../src/store/redis/redis-store.js';
import type { Caller, RedisHistoryForm, SessionStore } from '../src/store/session-store.js';
import { settings, signIn, stamp } from '../test/store/conformance/support.js';
import { startRedis, type RedisServer } from '../test/support/redis-harness.js';
import { processCpuMs } from './lib/proc.js';

const SESSIONS = Number(process.env.HISTORY_SESSIONS ?? 500);
const ROUNDS = Number(process.env.HISTORY_ROUNDS ?? 5);
const VIEWS = Number(process.env.HISTORY_VIEWS ?? 5_000);
const CONCURRENCY = 32;
const LIMIT = DEFAULT_LIMITS.historyItems;
const FORMS: readonly RedisHistoryForm[] = ['hash', 'zset'];

interface Target {
  readonly form: RedisHistoryForm;
  readonly redis: RedisServer;
  readonly pid: number;
  readonly store: SessionStore;
  readonly sessions: ReadonlyArray<{ readonly id: string; readonly caller: Caller }>;
}

/** A product id of the benchmark's catalog shape. */
const product = (n: number): string => `PROD-${String(n).padStart(6, '0')}`;

async function fcallStats(redis: RedisServer): Promise<{ calls: number; usec: number }> {
  const info = String(await redis.command('INFO', 'commandstats'));
  const line = /cmdstat_fcall:calls=(\d+),usec=(\d+)/.exec(info);
  return { calls: Number(line?.[1] ?? 0), usec: Number(line?.[2] ?? 0) };
}

/** Runs `count` calls of `call`, CONCURRENCY at a time. */
async function inParallel(count: number, call: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) await call(next++);
  }));
}

async function prepare(form: RedisHistoryForm): Promise<Target> {
  const redis = await startRedis();
  const pid = Number(/process_id:(\d+)/.exec(String(await redis.command('INFO', 'server')))?.[1]);
  const store = await RedisStore.connect({ ...settings({ historyItems: LIMIT }, 3_600_000, { slideAfterMs: 60_000, feedConsumers: [] }), engine: 'redis', url: redis.url, tuning: { historyForm: form } });
  const sessions: Array<{ id: string; caller: Caller }> = [];
  for (let s = 0; s < SESSIONS; s += 1) {
    const signed = await signIn(store, { idleMs: 3_600_000 });
    sessions.push({ id: signed.id, caller: signed.caller });
  }
  const base = Date.now() - 3_000_000;
  await inParallel(SESSIONS * LIMIT, async (i) => {
    const session = sessions[i % SESSIONS]!;
    const view = Math.floor(i / SESSIONS);
    await store.apply(session.id, session.caller, { kind: 'history.add', productId: product(view), viewedAt: base + view * 1000 }, { now: Date.now(), hlc: stamp() });
  });
  return { form, redis, pid, store, sessions };
}

let clock = Date.now();
/** The version of each session's part after this process's last write of it ("<session> <part>"). */
const known = new Map<string, string>();

type Write = 'view' | 'cart';

/**
 * One phase of VIEWS writes, Redis µs per write: views of products never seen by their session
 * (each drops the oldest), or, for scale, cart writes (a line's quantity set).
 */
async function phase(target: Target, round: number, write: Write): Promise<{ cpu: number; fcall: number }> {
  await target.redis.command('CONFIG', 'RESETSTAT');
  const cpuBefore = processCpuMs(target.pid)!;
  await inParallel(VIEWS, async (i) => {
    const session = target.sessions[i % target.sessions.length]!;
    clock += 1;
    const op = write === 'view'
      ? { kind: 'history.add' as const, productId: product(1_000 + round * VIEWS + i), viewedAt: clock }
      : { kind: 'cart.set' as const, sku: 'SKU-1', quantity: 1 + (i % 5) };
    // As the node's L1 does: the part's version held, so that the reply leaves the part out.
    const part = write === 'view' ? 'history' : 'cart';
    const knownVersion = known.get(`${session.id} ${part}`);
    const result = await target.store.apply(session.id, session.caller, op, { now: Date.now(), hlc: stamp(), ...(knownVersion === undefined ? {} : { knownVersion }) });
    if (result.status !== 'applied') throw new Error(`a write was not applied: ${JSON.stringify(result)}`);
    known.set(`${session.id} ${part}`, result.session.versions[part]);
  });
  const cpu = ((processCpuMs(target.pid)! - cpuBefore) * 1000) / VIEWS;
  const stats = await fcallStats(target.redis);
  return { cpu, fcall: stats.usec / stats.calls };
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const us = (value: number): string => value.toFixed(1);

async function main(): Promise<void> {
  console.log(`# A view added to a full history (${LIMIT} views), Redis 7, ${SESSIONS} sessions per form, ${ROUNDS} rounds of ${VIEWS} views\n`);
  const targets: Target[] = [];
  try {
    for (const form of FORMS) targets.push(await prepare(form));
    const results = new Map<string, Array<{ cpu: number; fcall: number }>>();
    const row = (form: RedisHistoryForm, write: Write) => `${write === 'view' ? 'views' : 'cart writes'}, ${form}`;
    // Warm-up, then rounds in alternating order.
    for (const target of targets) await phase(target, 0, 'view');
    for (let round = 1; round <= ROUNDS; round += 1) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const write of ['view', 'cart'] as const) {
        for (const target of order) {
          const rows = results.get(row(target.form, write)) ?? [];
          rows.push(await phase(target, round, write));
          results.set(row(target.form, write), rows);
        }
      }
    }
    console.log('| writes, form | Redis CPU per write, µs (rounds) | median | FCALL µs per call (rounds) | median |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const write of ['view', 'cart'] as const) {
      for (const form of FORMS) {
        const rows = results.get(row(form, write))!;
        console.log(`| ${row(form, write)} | ${rows.map((r) => us(r.cpu)).join(' / ')} | ${us(median(rows.map((r) => r.cpu)))} | ${rows.map((r) => us(r.fcall)).join(' / ')} | ${us(median(rows.map((r) => r.fcall)))} |`);
      }
    }
    const [hash, zset] = FORMS.map((form) => results.get(row(form, 'view'))!);
    const ratios = hash!.map((row, i) => zset![i]!.fcall / row.fcall);
    console.log(`\nViews, zset / hash, FCALL time per round: ${ratios.map((r) => r.toFixed(2)).join(' ')} (median ${median(ratios).toFixed(2)})\n`);

    console.log(`| form | type and encoding of a full history | \`MEMORY USAGE\` of it, mean of ${Math.min(100, SESSIONS)} sessions |`);
    console.log('| --- | --- | --- |');
    for (const target of targets) {
      const keys = target.sessions.slice(0, 100).map((session) => `ts:{${session.id}}:h`);
      const encoding = `${String(await target.redis.command('TYPE', keys[0]!))}, ${String(await target.redis.command('OBJECT', 'ENCODING', keys[0]!))}`;
      let bytes = 0;
      for (const key of keys) bytes += Number(await target.redis.command('MEMORY', 'USAGE', key));
      console.log(`| ${target.form} | ${encoding} | ${Math.round(bytes / keys.length)} B |`);
    }
  } finally {
    for (const target of targets) {
      await target.store.close();
      await target.redis.stop();
    }
  }
}

await main();
