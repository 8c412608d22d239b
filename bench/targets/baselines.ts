/** The two baselines, each as a child process running a file from bench/servers/. */
import { fileURLToPath } from 'node:url';
import { fakeCredentials, seedExpressSession, seedRedisFloor } from '../dataset/seed.js';
import { freePort, spawnService, waitForHttp } from '../lib/proc.js';
import { mergeCommandStats, parseCommandStats, redisPid, redisUsedMemory, settleRedis, startConfiguredRedis } from './redis.js';
import type { Target, TargetContext } from './target.js';

const server = (file: string): string => fileURLToPath(new URL(`../servers/${file}`, import.meta.url));

/** The event loop's largest delay since the last read, from a baseline server (`servers/loop-delay.ts`). */
async function readLoopDelay(origin: string): Promise<number | null> {
  try {
    const body = (await (await fetch(`${origin}/readyz/loop-delay`, { signal: AbortSignal.timeout(2_000) })).json()) as { maxMs?: unknown };
    return typeof body.maxMs === 'number' ? body.maxMs : null;
  } catch {
    return null;
  }
}

export async function startFastifyHello(ctx: TargetContext): Promise<Target> {
  const port = await freePort();
  const service = spawnService({
    name: 'fastify-hello',
    command: process.execPath,
    args: ['--import', 'tsx', server('fastify-hello.ts')],
    env: { NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1', API_KEY: ctx.apiKey },
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}/readyz`, service);
  return {
    id: 'fastify-hello',
    origin,
    credentialHeader: 'tessera-token',
    pids: new Map([['server', [service.pid]]]),
    seed: async (count) => ({ credentials: fakeCredentials(count), requests: 0, elapsedMs: 0, meanSessionBytes: 0 }),
    footprint: async () => null,
    exitReport: () => service.exitReport(),
    loopDelayMaxMs: () => readLoopDelay(origin),
    stop: () => service.stop(),
  };
}

export async function startExpressSession(ctx: TargetContext): Promise<Target> {
  const redis = await startConfiguredRedis();
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  try {
    const service = spawnService({
      name: 'express-session',
      command: process.execPath,
      args: ['--import', 'tsx', server('express-session.ts')],
      env: { NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1', API_KEY: ctx.apiKey, REDIS_URL: redis.url },
    });
    await waitForHttp(`${origin}/readyz`, service);
    return {
      id: 'express-session',
      origin,
      credentialHeader: 'cookie',
      pids: new Map([
        ['server', [service.pid]],
        ['store', [await redisPid(redis)]],
      ]),
      seed: (count, dataSeed, onProgress) => seedExpressSession({ origin, apiKey: ctx.apiKey, count, dataSeed, onProgress }),
      footprint: async () => ({ bytes: await redisUsedMemory(redis), what: 'Redis used_memory' }),
      exitReport: () => service.exitReport(),
      loopDelayMaxMs: () => readLoopDelay(origin),
      store: { kind: 'redis', url: redis.url },
      settle: () => settleRedis((...args) => redis.command(...args)),
      commandStats: {
        reset: async () => void (await redis.command('CONFIG', 'RESETSTAT')),
        read: async () => mergeCommandStats([parseCommandStats(await redis.command('INFO', 'commandstats'))]),
      },
      async stop() {
        await service.stop();
        await redis.stop();
      },
    };
  } catch (error) {
    await redis.stop();
    throw error;
  }
}

export async function startRedisFloor(ctx: TargetContext): Promise<Target> {
  const redis = await startConfiguredRedis();
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  try {
    const service = spawnService({
      name: 'redis-floor',
      command: process.execPath,
      args: ['--import', 'tsx', server('redis-floor.ts')],
      env: { NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1', API_KEY: ctx.apiKey, REDIS_URL: redis.url },
    });
    await waitForHttp(`${origin}/readyz`, service);
    return {
      id: 'redis-floor',
      origin,
      credentialHeader: 'tessera-token',
      pids: new Map([
        ['server', [service.pid]],
        ['store', [await redisPid(redis)]],
      ]),
      seed: (count, dataSeed, onProgress) => seedRedisFloor({ origin, apiKey: ctx.apiKey, count, dataSeed, onProgress }),
      footprint: async () => ({ bytes: await redisUsedMemory(redis), what: 'Redis used_memory' }),
      exitReport: () => service.exitReport(),
      settle: () => settleRedis((...args) => redis.command(...args)),
      commandStats: {
        reset: async () => void (await redis.command('CONFIG', 'RESETSTAT')),
        read: async () => mergeCommandStats([parseCommandStats(await redis.command('INFO', 'commandstats'))]),
      },
      async stop() {
        await service.stop();
        await redis.stop();
      },
    };
  } catch (error) {
    await redis.stop();
    throw error;
  }
}
