/** Tessera as a child process on each of its three engines. */
import { existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { seedTessera } from '../dataset/seed.js';
import { freePort, spawnService, waitForHttp, type Service } from '../lib/proc.js';
import { clusterMasterMemory, clusterPids, mergeCommandStats, parseCommandStats, redisPid, redisUsedMemory, settleRedis, startConfiguredCluster, startConfiguredRedis } from './redis.js';
import { SLOW_MS, type RuntimeStats, type StoreCommandStats, type StoreHandle, type Target, type TargetContext, type TargetId } from './target.js';

type Engine = 'sqlite' | 'redis' | 'redis-cluster';

/** Heap and GC totals from Tessera's /metrics (prom-client's default Node metrics). */
async function readRuntimeStats(origin: string): Promise<RuntimeStats | null> {
  try {
    const text = await (await fetch(`${origin}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
    const value = (pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? 0);
    const majorCount = value(/^\w*nodejs_gc_duration_seconds_count\{kind="major"\} ([\d.e+-]+)$/m);
    // Summed over every label set: count, and count at or under the SLOW_MS bucket.
    const histogram = (name: string): { count: number; slow: number } => {
      let count = 0;
      let fast = 0;
      const le = String(SLOW_MS / 1000);
      for (const [, labels, n] of text.matchAll(new RegExp(`^${name}_(?:count|bucket)(\\{[^}]*\\}) ([\\d.e+-]+)$`, 'gm'))) {
        if (labels!.includes('le=')) {
          if (labels!.includes(`le="${le}"`)) fast += Number(n);
        } else count += Number(n);
      }
      return { count, slow: count - fast };
    };
    return {
      heapUsedBytes: value(/^\w*nodejs_heap_size_used_bytes ([\d.e+-]+)$/m),
      gcMajorCount: majorCount,
      gcMajorOver100ms: majorCount - value(/^\w*nodejs_gc_duration_seconds_bucket\{le="0\.1",kind="major"\} ([\d.e+-]+)$/m),
      gcMajorSeconds: value(/^\w*nodejs_gc_duration_seconds_sum\{kind="major"\} ([\d.e+-]+)$/m),
      gcMinorSeconds: value(/^\w*nodejs_gc_duration_seconds_sum\{kind="minor"\} ([\d.e+-]+)$/m),
      requests: histogram('tessera_http_request_duration_seconds'),
      storeCalls: histogram('tessera_store_call_duration_seconds'),
      loopDelayMaxSeconds: value(/^\w*nodejs_eventloop_lag_max_seconds ([\d.e+-]+)$/m),
    };
  } catch {
    return null;
  }
}

/** An OTLP/HTTP receiver that takes every export and keeps nothing but counts: what traced targets send to. */
async function startSpanSink(): Promise<{ readonly url: string; readonly exports: () => number; stop(): Promise<void> }> {
  let exports = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      exports += 1;
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    exports: () => exports,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface TesseraTargetOptions {
  /** OpenTelemetry tracing on, sampling 1 % of traces (parentbased_traceidratio 0.01), exported to a local sink. @default false */
  readonly traced?: boolean;
}

export async function startTessera(engine: Engine, ctx: TargetContext, options: TesseraTargetOptions = {}): Promise<Target> {
  const base: TargetId = engine === 'sqlite' ? 'tessera-sqlite' : engine === 'redis' ? 'tessera-redis' : 'tessera-cluster';
  const id = options.traced ? (`${base}-traced` as TargetId) : base;
  const port = await freePort();
  const adminPort = await freePort();
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    TESSERA_PORT: String(port),
    TESSERA_ADMIN_PORT: String(adminPort),
    TESSERA_HOST: '127.0.0.1',
    TESSERA_STORE: engine,
    TESSERA_API_KEYS: `bench:${ctx.apiKey}`,
    TESSERA_LOG_LEVEL: 'warn',
    ...(process.env['TESSERA_L1'] ? { TESSERA_L1: process.env['TESSERA_L1'] } : {}),
    ...(process.env['TESSERA_L1_MAX_BYTES'] ? { TESSERA_L1_MAX_BYTES: process.env['TESSERA_L1_MAX_BYTES'] } : {}),
  };
  const pids = new Map<string, number[]>();
  const sink = options.traced ? await startSpanSink() : null;
  if (sink !== null) {
    Object.assign(env, {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: sink.url,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.01',
    });
  }
  let stopStore: () => Promise<void> = async () => {
    await sink?.stop();
  };
  let footprint: Target['footprint'] = async () => null;
  let store: StoreHandle;
  let commandStats: StoreCommandStats | undefined;
  let settle: (() => Promise<void>) | undefined;
  try {
    if (engine === 'sqlite') {
      const path = join(ctx.tmpDir, `tessera-${port}.db`);
      env['TESSERA_SQLITE_PATH'] = path;
      store = { kind: 'sqlite', path };
      footprint = async () => {
        const size = (p: string): number => (existsSync(p) ? statSync(p).size : 0);
        return { bytes: size(path) + size(`${path}-wal`), what: 'SQLite file + WAL' };
      };
    } else if (engine === 'redis') {
      const redis = await startConfiguredRedis();
      env['TESSERA_REDIS_URL'] = redis.url;
      store = { kind: 'redis', url: redis.url };
      pids.set('store', [await redisPid(redis)]);
      stopStore = async () => {
        await redis.stop();
        await sink?.stop();
      };
      footprint = async () => ({ bytes: await redisUsedMemory(redis), what: 'Redis used_memory' });
      settle = () => settleRedis((...args) => redis.command(...args));
      commandStats = {
        reset: async () => void (await redis.command('CONFIG', 'RESETSTAT')),
        read: async () => mergeCommandStats([parseCommandStats(await redis.command('INFO', 'commandstats'))]),
      };
    } else {
      const cluster = await startConfiguredCluster();
      env['TESSERA_REDIS_NODES'] = cluster.nodes.join(',');
      store = { kind: 'redis', url: `redis://${cluster.nodes[0]}` };
      pids.set('store', await clusterPids(cluster));
      stopStore = async () => {
        await cluster.stop();
        await sink?.stop();
      };
      footprint = async () => ({ bytes: await clusterMasterMemory(cluster), what: 'Redis used_memory, sum of the 3 masters' });
      settle = async () => void (await Promise.all(cluster.ports.map((port) => settleRedis((...args) => cluster.command(port, ...args)))));
      commandStats = {
        reset: async () => void (await Promise.all(cluster.ports.map((p) => cluster.command(p, 'CONFIG', 'RESETSTAT')))),
        read: async () => mergeCommandStats(await Promise.all(cluster.ports.map(async (p) => parseCommandStats(await cluster.command(p, 'INFO', 'commandstats'))))),
      };
    }
  } catch (error) {
    await stopStore();
    throw error;
  }
  const origin = `http://127.0.0.1:${port}`;
  const launch = async (nodeOptions: readonly string[]): Promise<Service> => {
    const service = spawnService({ name: id, command: ctx.tessera.command, args: [...nodeOptions, ...ctx.tessera.args], env });
    await waitForHttp(`${origin}/readyz`, service, 60_000);
    pids.set('server', [service.pid]);
    return service;
  };
  let server: Service;
  try {
    server = await launch([]);
  } catch (error) {
    await stopStore();
    throw error;
  }
  return {
    id,
    origin,
    credentialHeader: 'tessera-token',
    pids,
    seed: (count, dataSeed, onProgress) => seedTessera({ origin, apiKey: ctx.apiKey, count, dataSeed, onProgress }),
    footprint,
    exitReport: () => server.exitReport(),
    // Metrics are on the management listener.
    runtimeStats: () => readRuntimeStats(`http://127.0.0.1:${adminPort}`),
    store,
    ...(commandStats ? { commandStats } : {}),
    ...(settle ? { settle } : {}),
    snapshotFamily: engine === 'sqlite' ? 'tessera-sqlite' : 'tessera-redis',
    async restartServer(nodeOptions, whileStopped) {
      await server.stop();
      await whileStopped?.();
      server = await launch(nodeOptions);
    },
    async stop() {
      await server.stop();
      await stopStore();
    },
  };
}
