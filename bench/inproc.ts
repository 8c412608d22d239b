/**
 * `npm run bench:inproc`: CPU time per call of the read and write paths, in
 * one process, to compare Node.js releases (or builds) on a busy machine.
 * Throughput and latency swing with whatever else the cores run; the CPU time
 * a process spends per call (process.cpuUsage) moves far less. Prints the
 * median of rounds, per path, for the Redis engine (L1 on) and the embedded
 * one.
 *
 *   npm run bench:inproc                      # machine's Node
 *   scripts/with-node.sh 26.12.1 npm run bench:inproc   # after `npm ci` under it
 *   INPROC_ONLY=attributes INPROC_ENGINES=redis npm run bench:inproc   # one path, one engine
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { DEFAULT_LIMITS } from '../src/domain/limits.js';
import { createLogger } from '../src/logging.js';
import { createTessera, type Tessera } from '../src/tessera.js';
import { startRedis } from '../test/support/redis-harness.js';
import { lineAttributes } from './dataset/catalog.js';
import { PREFS_PATCHES } from './load/workload.js';

const SESSIONS = 200;
const CONCURRENCY = 50;
const CALLS = Number(process.env.INPROC_CALLS ?? 20_000);
const ROUNDS = Number(process.env.INPROC_ROUNDS ?? 5);
const KEY = 'inproc-bench-key-0123456789';
/** Views per session's history before measuring: the default limit, so that every view added pushes one out. */
const HISTORY_VIEWS = DEFAULT_LIMITS.historyItems;
/**
 * Sessions whose histories grow while measured, as most shoppers' do: 20 views each before, a new
 * product per call, as many sessions as keep them at 80 views or fewer through the warm-up and
 * every round (1,000 at 10,000 calls × 5 rounds).
 */
const GROWING_VIEWS = 20;
const GROWING_SESSIONS = Math.ceil(((ROUNDS + 1) * CALLS) / 60);
/** Only the paths whose name includes this text, and only the engines named (`redis`, `sqlite`). */
const ONLY = process.env.INPROC_ONLY;
const ENGINES = process.env.INPROC_ENGINES?.split(',');
const wanted = (path: string): boolean => ONLY === undefined || path.includes(ONLY);
const FULL_HISTORY_PATH = 'POST /v1/session/history, a full history (inject)';
const GROWING_PATH = 'POST /v1/session/history, a growing history (inject)';

interface Path {
  readonly name: string;
  call(i: number): Promise<unknown>;
}

/** CPU µs per call over `CALLS` calls, `CONCURRENCY` at a time. */
async function cpuPerCall(path: Path): Promise<number> {
  const before = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CALLS) await path.call(next++);
    }),
  );
  const used = process.cpuUsage(before);
  return (used.user + used.system) / CALLS;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function measure(engine: string, tessera: Tessera): Promise<void> {
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const tokens: string[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const signedIn = await tessera.service.signIn({ userId: `inproc-${i}`, device: { name: 'bench' } });
    tokens.push(signedIn.token);
    await tessera.service.mutate(signedIn.token, { kind: 'cart.add', sku: `SKU-${i}`, quantity: 1 });
    // Histories full, as the bench's sessions: every view added pushes the oldest out.
    for (let v = 0; wanted(FULL_HISTORY_PATH) && v < HISTORY_VIEWS; v++) {
      await tessera.service.mutate(signedIn.token, { kind: 'history.add', productId: `P-${i}-${v}`, viewedAt: Date.now() });
    }
  }
  const token = (i: number) => tokens[i % SESSIONS]!;
  const growing: string[] = [];
  if (wanted(GROWING_PATH)) {
    for (let i = 0; i < GROWING_SESSIONS; i++) {
      const signedIn = await tessera.service.signIn({ userId: `inproc-growing-${i}`, device: { name: 'bench' } });
      growing.push(signedIn.token);
      for (let v = 0; v < GROWING_VIEWS; v++) {
        await tessera.service.mutate(signedIn.token, { kind: 'history.add', productId: `G-${i}-${v}`, viewedAt: Date.now() });
      }
    }
  }
  let grown = 0;
  const paths: Path[] = [
    { name: 'authenticate (service, cart + prefs)', call: (i) => tessera.service.authenticate(token(i), ['cart', 'prefs']) },
    {
      name: 'GET /v1/session?parts=cart,prefs (inject)',
      call: (i) => tessera.app.inject({ method: 'GET', url: '/v1/session?parts=cart,prefs', headers: { ...headers, 'tessera-token': token(i) } }),
    },
    {
      // As the benchmark's cart adds: one of 12 SKUs per session, eight attributes; carts grow to 12 such lines.
      name: 'POST /v1/session/cart/items, 12 lines with attributes (inject)',
      call: (i) => {
        const n = Math.floor(i / SESSIONS) % 12;
        return tessera.app.inject({
          method: 'POST',
          url: '/v1/session/cart/items',
          headers: { ...headers, 'tessera-token': token(i) },
          payload: JSON.stringify({ sku: `SKU-A${n}`, quantity: 1, attributes: lineAttributes(n, 'EUR') }),
        });
      },
    },
    {
      // As the benchmark's history appends: a product from a large catalogue, into a full history.
      name: FULL_HISTORY_PATH,
      call: (i) =>
        tessera.app.inject({
          method: 'POST',
          url: '/v1/session/history',
          headers: { ...headers, 'tessera-token': token(i) },
          payload: JSON.stringify({ productId: `P-${(i * 7_919) % 50_000}` }),
        }),
    },
    {
      name: GROWING_PATH,
      call: (i) =>
        tessera.app.inject({
          method: 'POST',
          url: '/v1/session/history',
          headers: { ...headers, 'tessera-token': growing[i % GROWING_SESSIONS]! },
          payload: JSON.stringify({ productId: `N-${grown++}` }),
        }),
    },
    {
      name: 'PATCH /v1/session/prefs (inject)',
      call: (i) =>
        tessera.app.inject({
          method: 'PATCH',
          url: '/v1/session/prefs',
          headers: { ...headers, 'tessera-token': token(i), 'content-type': 'application/merge-patch+json' },
          payload: PREFS_PATCHES[i % PREFS_PATCHES.length]!,
        }),
    },
    {
      name: 'POST /v1/session/cart/items (inject)',
      call: (i) =>
        tessera.app.inject({
          method: 'POST',
          url: '/v1/session/cart/items',
          headers: { ...headers, 'tessera-token': token(i) },
          payload: JSON.stringify({ sku: `SKU-${i % 7}`, quantity: 1 }),
        }),
    },
  ];
  for (const path of paths.filter((p) => wanted(p.name))) {
    await cpuPerCall(path); // warm-up: JIT, L1 filled with every session
    const rounds: number[] = [];
    for (let r = 0; r < ROUNDS; r++) rounds.push(await cpuPerCall(path));
    const spread = `${Math.min(...rounds).toFixed(1)}–${Math.max(...rounds).toFixed(1)}`;
    console.log(`${process.version}\t${engine}\t${path.name}\t${median(rounds).toFixed(1)} µs CPU/call\t(rounds ${spread})`);
  }
}

async function main(): Promise<void> {
  const base = { TESSERA_API_KEYS: `bench:${KEY}`, TESSERA_LOG_LEVEL: 'silent', TESSERA_PORT: '0', TESSERA_SHUTDOWN_DELAY: '0s' };
  const redis = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-inproc-'));
  try {
    for (const [engine, env] of [
      ['redis (L1 on)', { TESSERA_STORE: 'redis', TESSERA_REDIS_URL: redis.url }],
      ['sqlite', { TESSERA_STORE: 'sqlite', TESSERA_SQLITE_PATH: join(dir, 'inproc.db') }],
    ] as const) {
      if (ENGINES !== undefined && !ENGINES.some((name) => engine.startsWith(name))) continue;
      const config = loadConfig({ ...base, ...env });
      const tessera = await createTessera(config, { logger: createLogger('silent') });
      try {
        await measure(engine, tessera);
      } finally {
        await tessera.close();
      }
    }
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
