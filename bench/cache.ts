/**
 * `npm run bench:cache`: the L1 cache on and off, side by side in one run.
 *
 * Two Tessera processes on one Redis — one with TESSERA_L1=on, one off — serve
 * the same reads (GET /v1/session?parts=cart,prefs,history, closed loop with
 * autocannon) over sessions of about 4 KB and 16 KB. Reported per cell: req/s,
 * p50 and p99, and bytes read from Redis per request (the
 * `tessera_store_read_bytes` histogram, sum / count). Rounds alternate on/off
 * so drift on this shared machine hits both alike; the table shows the median
 * round. Writes docs/cache-benchmark.md.
 */
import autocannon from 'autocannon';
import { writeFileSync } from 'node:fs';
import { startRedis } from '../test/support/redis-harness.js';
import { startTesseraProcess, type TesseraProcess } from '../test/support/process.js';

const API_KEY = 'bench-cache-key-0123456789';
const SESSIONS = 100;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 32;

interface Cell {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly bytesPerRead: number;
}

async function api(node: TesseraProcess, method: string, path: string, token?: string, body?: unknown): Promise<any> {
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${API_KEY}`,
      ...(token ? { 'tessera-token': token } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? undefined : response.json();
}

/** A session of about `kb` KB of parts: cart lines with attributes, preferences, viewed products. */
async function seed(node: TesseraProcess, index: number, kb: 4 | 16): Promise<string> {
  const { token } = await api(node, 'POST', '/v1/sessions', undefined, { userId: `bench-${kb}-${index}`, device: { name: 'phone', kind: 'mobile' } });
  const lines = kb === 4 ? 10 : 40;
  const views = kb === 4 ? 50 : 100;
  for (let i = 0; i < lines; i++) {
    await api(node, 'POST', '/v1/session/cart/items', token, { sku: `SKU-${index}-${i}`, quantity: 1 + (i % 3), attributes: { size: 'M', colour: 'navy', gift: i % 2 === 0 } });
  }
  const prefs: Record<string, unknown> = { theme: { mode: 'dark', density: 'compact' }, lang: 'en-GB', currency: 'EUR' };
  for (let i = 0; i < (kb === 4 ? 4 : 40); i++) prefs[`filter-${i}`] = { brand: ['acme', 'globex'], maxPrice: 100 + i, sort: 'price-asc' };
  await api(node, 'PATCH', '/v1/session/prefs', token, prefs);
  const t0 = Date.now() - views * 1000;
  for (let i = 0; i < views; i++) {
    await api(node, 'POST', '/v1/session/history', token, { productId: `product-${index}-${i}-${'x'.repeat(kb === 4 ? 8 : 40)}`, viewedAt: new Date(t0 + i * 1000).toISOString() });
  }
  return token;
}

async function readBytes(node: TesseraProcess): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${node.adminUrl}/metrics`)).text();
  const value = (name: string) => Number(text.split('\n').find((l) => l.startsWith(name))?.split(' ').pop() ?? 0);
  return { sum: value('tessera_store_read_bytes_sum'), count: value('tessera_store_read_bytes_count') };
}

async function measure(node: TesseraProcess, tokens: readonly string[]): Promise<Cell> {
  const before = await readBytes(node);
  let next = 0;
  // autocannon's bundled typings lag its API (headers, latency); the shapes used here are its documented ones.
  const run = autocannon as unknown as (options: Record<string, unknown>) => Promise<{
    requests: { average: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
  }>;
  const result = await run({
    url: `${node.url}/v1/session?parts=cart,prefs,history`,
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { authorization: `Bearer ${API_KEY}` },
    requests: [
      {
        setupRequest: (request: any) => {
          request.headers = { ...request.headers, 'tessera-token': tokens[next++ % tokens.length] };
          return request;
        },
      },
    ],
  });
  const after = await readBytes(node);
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    bytesPerRead: (after.sum - before.sum) / Math.max(1, after.count - before.count),
  };
}

const median = (cells: Cell[], key: keyof Cell): number => [...cells].map((c) => c[key]).sort((a, b) => a - b)[Math.floor(cells.length / 2)]!;

async function main(): Promise<void> {
  const redis = await startRedis();
  const env = { TESSERA_STORE: 'redis', TESSERA_REDIS_URL: redis.url, TESSERA_API_KEYS: `bench:${API_KEY}`, TESSERA_LOG_LEVEL: 'info' };
  const on = await startTesseraProcess({ ...env, TESSERA_L1: 'on' });
  const off = await startTesseraProcess({ ...env, TESSERA_L1: 'off' });
  const rows: string[] = [];
  try {
    for (const kb of [4, 16] as const) {
      process.stdout.write(`seeding ${SESSIONS} sessions of ~${kb} KB…\n`);
      const tokens: string[] = [];
      for (let i = 0; i < SESSIONS; i++) tokens.push(await seed(on, i, kb));
      const sample = await api(on, 'GET', '/v1/session?parts=cart,prefs,history', tokens[0]);
      const payload = Buffer.byteLength(JSON.stringify(sample));
      const cells: Record<'on' | 'off', Cell[]> = { on: [], off: [] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, node] of [['on', on], ['off', off]] as const) {
          process.stdout.write(`  ${kb} KB, L1 ${name}, round ${round + 1}/${ROUNDS}… `);
          const cell = await measure(node, tokens);
          cells[name].push(cell);
          process.stdout.write(`${Math.round(cell.rps)} req/s, p99 ${cell.p99} ms, ${Math.round(cell.bytesPerRead)} B/read\n`);
        }
      }
      for (const name of ['on', 'off'] as const) {
        rows.push(
          `| ~${kb} KB (response ${payload} B) | ${name} | ${Math.round(median(cells[name], 'rps'))} | ${median(cells[name], 'p50')} | ${median(cells[name], 'p99')} | ${Math.round(median(cells[name], 'bytesPerRead'))} |`,
        );
      }
      const ratio = median(cells.on, 'rps') / median(cells.off, 'rps');
      rows.push(`| | **on ÷ off** | **${ratio.toFixed(2)}×** | | | **${(median(cells.on, 'bytesPerRead') / median(cells.off, 'bytesPerRead')).toFixed(2)}×** |`);
    }
  } finally {
    await Promise.all([on.stop(), off.stop()]);
    await redis.stop();
  }
  const report = `# L1 cache benchmark

Produced by \`npm run bench:cache\` (${new Date().toISOString().slice(0, 16)} UTC, ${ROUNDS} alternating rounds of ${SECONDS} s per cell, median shown;
${CONNECTIONS} connections, closed loop, autocannon in the same process as the script).
Two Tessera processes on one Redis, L1 on and off, read \`GET /v1/session?parts=cart,prefs,history\`
over ${SESSIONS} sessions per size. Everything shares one 2-core machine: compare the ratios.

| session | L1 | req/s | p50 ms | p99 ms | bytes read from Redis per request |
|---|---|---|---|---|---|
${rows.join('\n')}

Every request still makes its one round trip (auth is never cached); with L1 on, an unchanged
part stays in Redis and the answer reuses the part's cached JSON text.
`;
  writeFileSync(new URL('../docs/cache-benchmark.md', import.meta.url), report);
  process.stdout.write(`\n${report}`);
}

await main();
