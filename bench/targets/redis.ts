/**
 * Redis for the targets, through the test harness (its own servers on free
 * ports), configured as deploy/redis.conf recommends for production (compact
 * hash encodings, AOF every second) — for every Redis-backed target alike.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../../test/support/redis-harness.js';

export type { RedisCluster, RedisServer };
export { startRedis, startRedisCluster };

const DEPLOY_CONF = fileURLToPath(new URL('../../deploy/redis.conf', import.meta.url));

/** The directives of deploy/redis.conf, as [name, value] pairs (empty if there is none). */
export function deployRedisSettings(): Array<[string, string]> {
  if (!existsSync(DEPLOY_CONF)) return [];
  return readFileSync(DEPLOY_CONF, 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((line) => {
      const [name, ...rest] = line.split(/\s+/);
      return [name!, rest.join(' ')] as [string, string];
    });
}

type Command = (...args: (string | number)[]) => Promise<unknown>;

/** CONFIG SETs deploy/redis.conf on one server; throws naming the directive Redis refused. */
export async function applyDeploySettings(command: Command): Promise<void> {
  for (const [name, value] of deployRedisSettings()) {
    const reply = await command('CONFIG', 'SET', name, value);
    if (reply instanceof Error) throw new Error(`redis refused deploy/redis.conf's "${name} ${value}": ${reply.message}`);
  }
}

export async function startConfiguredRedis(): Promise<RedisServer> {
  const redis = await startRedis();
  try {
    await applyDeploySettings((...args) => redis.command(...args));
    return redis;
  } catch (error) {
    await redis.stop();
    throw error;
  }
}

export async function startConfiguredCluster(): Promise<RedisCluster> {
  const cluster = await startRedisCluster();
  try {
    for (const port of cluster.ports) await applyDeploySettings((...args) => cluster.command(port, ...args));
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/**
 * Waits until a Redis node has no background work left from seeding: an AOF
 * rewrite (started here, so that none starts mid-measurement: restoring or
 * seeding 100 000 sessions doubles the AOF, which triggers one), a save, or a
 * replica's initial sync. Each of those forks and writes hundreds of MB, and
 * on two shared cores shows up as latency in whichever phase it overlaps.
 */
export async function settleRedis(command: Command, timeoutMs = 300_000): Promise<void> {
  const persistence = String(await command('INFO', 'persistence'));
  if (infoField(persistence, 'aof_enabled') === '1' && infoField(persistence, 'aof_rewrite_in_progress') !== '1') {
    await command('BGREWRITEAOF');
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = String(await command('INFO', 'persistence')) + String(await command('INFO', 'replication'));
    const busy =
      infoField(info, 'aof_rewrite_in_progress') === '1' ||
      infoField(info, 'aof_rewrite_scheduled') === '1' ||
      infoField(info, 'rdb_bgsave_in_progress') === '1' ||
      (infoField(info, 'role') === 'slave' && (infoField(info, 'master_link_status') !== 'up' || infoField(info, 'master_sync_in_progress') === '1'));
    if (!busy) return;
    if (Date.now() > deadline) throw new Error(`Redis still busy with background work after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function infoField(info: unknown, field: string): string | undefined {
  return typeof info === 'string' ? new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim() : undefined;
}

export async function redisPid(server: RedisServer): Promise<number> {
  return Number(infoField(await server.command('INFO', 'server'), 'process_id'));
}

export async function redisUsedMemory(server: RedisServer): Promise<number> {
  return Number(infoField(await server.command('INFO', 'memory'), 'used_memory'));
}

export async function redisKeys(server: RedisServer): Promise<number> {
  return Number(await server.command('DBSIZE'));
}

export async function clusterPids(cluster: RedisCluster): Promise<number[]> {
  return Promise.all(cluster.ports.map(async (port) => Number(infoField(await cluster.command(port, 'INFO', 'server'), 'process_id'))));
}

/** used_memory summed over the masters (replicas hold a copy each). */
export async function clusterMasterMemory(cluster: RedisCluster): Promise<number> {
  const masters = (await cluster.topology()).filter((n) => n.role === 'master' && !n.failed);
  const used = await Promise.all(masters.map(async (n) => Number(infoField(await cluster.command(n.port, 'INFO', 'memory'), 'used_memory'))));
  return used.reduce((a, b) => a + b, 0);
}

export interface CommandStat {
  readonly command: string;
  readonly calls: number;
  /** Time Redis spent executing the command (not counting I/O), µs. */
  readonly usec: number;
}

/** Parses INFO commandstats. */
export function parseCommandStats(info: unknown): CommandStat[] {
  if (typeof info !== 'string') return [];
  const out: CommandStat[] = [];
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) out.push({ command: m[1]!, calls: Number(m[2]), usec: Number(m[3]) });
  return out;
}

export function mergeCommandStats(lists: readonly CommandStat[][]): CommandStat[] {
  const byName = new Map<string, { calls: number; usec: number }>();
  for (const list of lists) {
    for (const s of list) {
      const e = byName.get(s.command) ?? { calls: 0, usec: 0 };
      e.calls += s.calls;
      e.usec += s.usec;
      byName.set(s.command, e);
    }
  }
  return [...byName].map(([command, e]) => ({ command, ...e })).sort((a, b) => b.usec - a.usec);
}
