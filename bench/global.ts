/**
 * `npm run bench:global` — the global mode measured in the simulation
 * (sim/harness.ts): three regions on this machine, routes through delay
 * proxies, one Redis and one Tessera node per region. For inter-region round
 * trips of 20, 60 and 100 ms (one simulation, `setRtt` between them), from
 * every region, one call at a time:
 *
 * - write latency per durability class: a sign-in (global: a majority of
 *   regions acknowledged it) and a cart add (regional: local, shipped after);
 * - auth changes: a rotation and a logout at the session's home (a logout
 *   returns once every region applied it: the revocation barrier), and a
 *   rotation asked in another region (forwarded to the home);
 * - a token check (local read);
 * - replication lag: from a cart add's answer in one region until another
 *   region's read shows it;
 * - API CPU per write with replication on, against a single-region node on
 *   the same machine (process CPU from each node's /metrics).
 *
 * Prints Markdown tables (docs/PERFORMANCE.md, docs/replication.md). The
 * machine is shared and has 2 cores: medians are what to read; p99 of the
 * samples taken here is their second-largest, a tail, not a service level.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSim, type Sim } from '../sim/harness.js';
import { freePorts } from '../sim/processes.js';
import { TesseraNode } from '../sim/tessera-node.js';
import { metricOf } from '../test/sim/support.js';
import { startRedis } from '../test/support/redis-harness.js';

const RTTS = (process.env.GLOBAL_BENCH_RTTS ?? '20,60,100').split(',').map(Number);
const SAMPLES = Number(process.env.GLOBAL_BENCH_SAMPLES ?? 40);
const CPU_WRITES = Number(process.env.GLOBAL_BENCH_CPU_WRITES ?? 300);
const REGIONS = ['eu', 'us', 'ap'] as const;
const KEY = 'global-bench-key-0123456789abcdef';
/** The simulation's nodes accept its own generated key; the single-region node, KEY. */
let apiKey = KEY;

interface Call {
  readonly status: number;
  readonly body: any;
  readonly ms: number;
}

async function call(base: string, method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<Call> {
  const headers: Record<string, string> = { authorization: `Bearer ${apiKey}` };
  if (options.token !== undefined) headers['tessera-token'] = options.token;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const started = performance.now();
  const response = await fetch(`${base}${path}`, { method, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
  const text = await response.text();
  const ms = performance.now() - started;
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text), ms };
}

/** A call retried while it answers 503 (retry-safe); the latency kept is the successful attempt's. */
async function ok(expected: number, attempt: () => Promise<Call>): Promise<Call> {
  for (let tries = 0; ; tries += 1) {
    const answer = await attempt();
    if (answer.status === expected) return answer;
    if (answer.status !== 503 || tries >= 50) throw new Error(`expected ${expected}, got ${answer.status}: ${JSON.stringify(answer.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const quantile = (values: readonly number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
};
const fmt = (ms: number): string => (ms < 10 ? ms.toFixed(1) : Math.round(ms).toString());
const cell = (values: readonly number[]): string => `${fmt(quantile(values, 0.5))} / ${fmt(quantile(values, 0.99))}`;

async function cpuSeconds(adminUrl: string): Promise<number> {
  const seconds = await metricOf(adminUrl, 'tessera_process_cpu_seconds_total');
  if (seconds === null) throw new Error(`no tessera_process_cpu_seconds_total at ${adminUrl}`);
  return seconds;
}

type Kind = 'sign-in (global)' | 'cart add (regional)' | 'token check' | 'rotate at home' | 'rotate elsewhere (forwarded)' | 'logout (barrier)' | 'replication lag';
const KINDS: readonly Kind[] = ['sign-in (global)', 'cart add (regional)', 'token check', 'rotate at home', 'rotate elsewhere (forwarded)', 'logout (barrier)', 'replication lag'];

async function measureRegion(sim: Sim, region: string, rtt: number): Promise<Map<Kind, number[]>> {
  const samples = new Map<Kind, number[]>(KINDS.map((kind) => [kind, []]));
  const add = (kind: Kind, ms: number) => samples.get(kind)!.push(ms);
  const base = sim.region(region).urls[0]!;
  const other = REGIONS[(REGIONS.indexOf(region as (typeof REGIONS)[number]) + 1) % REGIONS.length]!;
  const elsewhere = sim.region(other).urls[0]!;
  for (let i = 0; i < SAMPLES; i += 1) {
    const signIn = await ok(201, () => call(base, 'POST', '/v1/sessions', { body: { userId: `bench-${region}-${rtt}-${i}-${Date.now()}` } }));
    add('sign-in (global)', signIn.ms);
    let token: string = signIn.body.token;
    const sku = `sku-${i}`;
    const added = await ok(200, () => call(base, 'POST', '/v1/session/cart/items', { token, body: { sku, quantity: 1 } }));
    add('cart add (regional)', added.ms);
    const addedAt = performance.now();
    // Replication lag, as another region's caller would see it: until its read shows the line.
    for (;;) {
      const read = await call(elsewhere, 'GET', '/v1/session?parts=cart', { token });
      if (read.status === 200 && read.body.cart.items.some((item: { sku: string }) => item.sku === sku)) break;
      if (performance.now() - addedAt > 30_000) throw new Error('a cart line did not reach another region in 30 s');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    add('replication lag', performance.now() - addedAt);
    add('token check', (await ok(200, () => call(base, 'GET', '/v1/session', { token }))).ms);
    const rotated = await ok(200, () => call(base, 'POST', '/v1/session/rotate', { token }));
    add('rotate at home', rotated.ms);
    token = rotated.body.token;
    const forwarded = await ok(200, () => call(elsewhere, 'POST', '/v1/session/rotate', { token }));
    add('rotate elsewhere (forwarded)', forwarded.ms);
    token = forwarded.body.token;
    add('logout (barrier)', (await ok(204, () => call(base, 'DELETE', '/v1/session', { token }))).ms);
  }
  return samples;
}

/** CPU seconds of the node per write (a sign-in and a cart add), over `CPU_WRITES` of each. */
async function cpuPerWrite(base: string, adminUrl: string, label: string): Promise<{ signIn: number; cartAdd: number }> {
  const tokens: string[] = [];
  const before = await cpuSeconds(adminUrl);
  for (let i = 0; i < CPU_WRITES; i += 1) {
    tokens.push((await ok(201, () => call(base, 'POST', '/v1/sessions', { body: { userId: `cpu-${label}-${i}-${Date.now()}` } }))).body.token);
  }
  const mid = await cpuSeconds(adminUrl);
  for (let i = 0; i < CPU_WRITES; i += 1) await ok(200, () => call(base, 'POST', '/v1/session/cart/items', { token: tokens[i]!, body: { sku: `cpu-${i}`, quantity: 1 } }));
  const after = await cpuSeconds(adminUrl);
  return { signIn: ((mid - before) / CPU_WRITES) * 1e6, cartAdd: ((after - mid) / CPU_WRITES) * 1e6 };
}

async function singleRegionCpu(): Promise<{ signIn: number; cartAdd: number }> {
  const redis = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-global-bench-'));
  const [port, adminPort] = await freePorts(2);
  const node = new TesseraNode('single-0', port!, dir, {
    TESSERA_HOST: '127.0.0.1',
    TESSERA_STORE: 'redis',
    TESSERA_REDIS_URL: redis.url,
    TESSERA_API_KEYS: `bench:${KEY}:admin`,
    TESSERA_ADMIN_PORT: String(adminPort),
    TESSERA_LOG_LEVEL: 'warn',
    TESSERA_SHUTDOWN_DELAY: '0s',
  });
  try {
    await node.start();
    await cpuPerWrite(node.url, `http://127.0.0.1:${adminPort}`, 'warm-single');
    return await cpuPerWrite(node.url, `http://127.0.0.1:${adminPort}`, 'single');
  } finally {
    await node.kill();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const sim = await startSim({ regions: REGIONS, rttMs: RTTS[0]!, tesseraEnv: { TESSERA_STREAM_SHARDS: '1' } });
  const lines: string[] = [];
  try {
    apiKey = sim.apiKey;
    for (const rtt of RTTS) {
      for (const a of REGIONS) for (const b of REGIONS) if (a < b) sim.setRtt(a, b, rtt);
      // Leases and freshness settle on the new round trips.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      lines.push(`\n#### RTT ${rtt} ms between every two regions (p50 / p99 ms, ${SAMPLES} samples per cell)\n`);
      lines.push(`| region | ${KINDS.join(' | ')} |`);
      lines.push(`| --- | ${KINDS.map(() => '---').join(' | ')} |`);
      for (const region of REGIONS) {
        const samples = await measureRegion(sim, region, rtt);
        lines.push(`| ${region} | ${KINDS.map((kind) => cell(samples.get(kind)!)).join(' | ')} |`);
        console.error(`rtt ${rtt} ms, ${region}: done`);
      }
    }
    for (const a of REGIONS) for (const b of REGIONS) if (a < b) sim.setRtt(a, b, RTTS[0]!);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    await cpuPerWrite(sim.region('eu').urls[0]!, sim.region('eu').adminUrls[0]!, 'warm-global');
    const on = await cpuPerWrite(sim.region('eu').urls[0]!, sim.region('eu').adminUrls[0]!, 'global');
    await sim.stop();
    apiKey = KEY;
    const off = await singleRegionCpu();
    lines.push(`\n#### API CPU per write (µs of the Tessera process, ${CPU_WRITES} writes, one at a time, RTT ${RTTS[0]} ms)\n`);
    lines.push('| write | single-region | global mode | ratio |');
    lines.push('| --- | --- | --- | --- |');
    lines.push(`| sign-in (global class) | ${Math.round(off.signIn)} | ${Math.round(on.signIn)} | ${(on.signIn / off.signIn).toFixed(2)}× |`);
    lines.push(`| cart add (regional class) | ${Math.round(off.cartAdd)} | ${Math.round(on.cartAdd)} | ${(on.cartAdd / off.cartAdd).toFixed(2)}× |`);
  } finally {
    await sim.stop();
  }
  console.log(lines.join('\n'));
}

await main();
