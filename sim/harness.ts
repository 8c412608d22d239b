/**
 * The multi-region simulation: N regions on this machine, each with one
 * nats-server (all in one cluster, stretched over the regions), one
 * redis-server (or a SQLite file per node) and Tessera nodes, with the links
 * between regions going through delay proxies that can be slowed down and cut.
 * Used by `npm run sim`, by the tests under test/sim/ and by the benchmark.
 *
 * @example
 * const sim = await startSim({ regions: ['eu', 'us', 'ap'], rttMs: 60 });
 * try {
 *   await fetch(`${sim.region('eu').urls[0]}/v1/sessions`, { method: 'POST', headers: { authorization: `Bearer ${sim.apiKey}` } });
 *   await sim.partition('eu');   // eu's routes and cross-region client links go silent
 *   await sim.heal('eu');
 *   await sim.killRegion('us');  // SIGKILL nats-server, redis-server and Tessera nodes of us
 *   await sim.restartRegion('us');
 * } finally {
 *   await sim.stop();
 * }
 *
 * Topology (see network.ts and nats-server.ts for the details and the why):
 *
 *   eu: nats-server ──route proxies (RTT/2 each way)── us: nats-server ── … ── ap
 *        ▲ direct                                        ▲ direct
 *   eu Tessera nodes ──client proxies to us/ap servers──┘
 *
 * - A Tessera node gets `TESSERA_NATS_URL` = its own region's server (direct)
 *   first, then the other regions' servers through client proxies.
 * - Redis runs with AOF (`appendonly yes`, `appendfsync everysec`), so a killed
 *   region restarts with its data, less at most the last second of writes — as
 *   a production Redis configured that way would.
 * - `partition(r)` cuts every link of r (routes and client links, both ways);
 *   see tcp-delay-proxy.ts for what a cut looks like to TCP. NATS notices by
 *   its pings (`ping_interval` 1 s, `ping_max` 3): routes drop after ~3–4 s.
 * - Every process is a child of this one, on free ports, in `dir`; all are
 *   SIGKILLed when this process exits or gets SIGINT/SIGTERM/SIGHUP.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { startRedis, type RedisServer } from '../test/support/redis-harness.js';
import { NatsServer, type NatsUser } from './nats-server.js';
import { Network, type RttSpec } from './network.js';
import { freePorts, waitUntil } from './processes.js';
import { TesseraNode } from './tessera-node.js';

export const DEFAULT_REGIONS: readonly string[] = ['eu', 'us', 'ap'];
const HOST = '127.0.0.1';
const CLUSTER_TIMEOUT_MS = 30_000;
const REDIS_ARGS = ['--appendonly', 'yes', '--appendfsync', 'everysec'];

export interface SimOptions {
  /** Region names ([a-z0-9-], unique). @default ['eu', 'us', 'ap'] */
  readonly regions?: readonly string[];
  /** One RTT for every pair, or per pair keyed `a-b` (either order) plus an optional `default`. @default 60 */
  readonly rttMs?: RttSpec;
  /**
   * During a partition, how long TCP keeps retransmitting before it resets a connection that has
   * unacknowledged bytes (see tcp-delay-proxy.ts); `Infinity` for never. @default 12000 (tcp_retries2 = 5)
   */
  readonly tcpGiveUpMs?: number;
  /** Tessera nodes per region. @default 1 */
  readonly nodesPerRegion?: number;
  /** Store of each region: one redis-server per region, or one SQLite file per node. @default 'redis' */
  readonly engine?: 'redis' | 'sqlite';
  /** Start Tessera nodes; false runs NATS (and Redis) only. @default true */
  readonly tessera?: boolean;
  /**
   * Regions whose Tessera nodes' wall clocks run ahead (positive) or behind (negative) by this
   * many milliseconds (libfaketime; `faketime` must be installed). @default none
   */
  readonly clockOffsetMs?: Readonly<Record<string, number>>;
  /** NATS users with some subjects denied (every server; clients without credentials keep every right). @default none */
  readonly natsUsers?: readonly NatsUser[];
  /** Extra environment for every Tessera node (overrides the simulation's). */
  readonly tesseraEnv?: Readonly<Record<string, string>>;
  /**
   * Working folder (one subfolder per region: NATS config, log and JetStream store, Tessera logs and
   * SQLite files); kept after `stop()` when given, for reading the logs. Give an empty or new folder.
   * @default a new temporary folder, removed by `stop()` (kept, under it, when TESSERA_SIM_DIR is set)
   */
  readonly dir?: string;
}

export interface SimRegion {
  readonly name: string;
  /** Tessera base URLs of this region's nodes (empty with `tessera: false`). */
  readonly urls: readonly string[];
  /** The same nodes' management listeners (`/metrics`, `/readyz`). */
  readonly adminUrls: readonly string[];
  /** This region's NATS server, client port, direct. */
  readonly natsUrl: string;
  /** What this region's Tessera nodes get as TESSERA_NATS_URL: own server first, then the others through the delay proxies. */
  readonly natsUrls: readonly string[];
  /** `http://127.0.0.1:<port>` of the NATS monitoring endpoints (/varz, /jsz, /routez). */
  readonly natsMonitorUrl: string;
  /** With `engine: 'redis'`. */
  readonly redisUrl?: string;
}

/** What `status()` reports of one region. */
export interface RegionStatus {
  readonly name: string;
  readonly partitioned: boolean;
  readonly nats: boolean;
  /** Regions whose servers this region's server has a route to (from /routez). */
  readonly routesTo: readonly string[];
  /** The JetStream meta leader as this region's server sees it. */
  readonly metaLeader: string | null;
  readonly redis: boolean | null;
  readonly tessera: readonly boolean[];
}

export interface Sim {
  readonly dir: string;
  readonly regions: readonly SimRegion[];
  region(name: string): SimRegion;
  /** An admin API key every node accepts (TESSERA_API_KEYS). */
  readonly apiKey: string;
  /** The configured RTT between two regions, in ms. */
  rtt(a: string, b: string): number;
  /** Changes the RTT between two regions at once (connections open now included). */
  setRtt(a: string, b: string, ms: number): void;
  /** Cuts every link between this region and the others, both ways: its routes and the client links to and from its server. */
  partition(region: string): Promise<void>;
  /** Undoes `partition` (links to regions that are themselves partitioned stay cut). */
  heal(region: string): Promise<void>;
  /** SIGKILLs the region's nats-server, redis-server and Tessera nodes. */
  killRegion(region: string): Promise<void>;
  /** Starts them again on the same ports and data (NATS keeps its JetStream folder, Redis its AOF). */
  restartRegion(region: string): Promise<void>;
  killNats(region: string): Promise<void>;
  /** Starts the region's nats-server again and waits for its routes to the reachable running servers. */
  restartNats(region: string): Promise<void>;
  /** SIGKILLs one node (`node` counts from 0) or, without `node`, all of the region's nodes. */
  killTessera(region: string, node?: number): Promise<void>;
  restartTessera(region: string, node?: number): Promise<void>;
  /**
   * Kills the region's Tessera nodes and Redis, deletes their store (Redis AOF / SQLite files) and starts Redis
   * again, empty; NATS is left running. The nodes stay down until `restartTessera`, so the empty store can be seen.
   */
  wipeRegion(region: string): Promise<void>;
  /** Resolves once every running server has a route to every running server it is not cut off from, and a meta leader is known. */
  waitForRoutes(timeoutMs?: number): Promise<void>;
  status(): Promise<RegionStatus[]>;
  /** Kills everything and removes the temporary folder. Safe to call twice. */
  stop(): Promise<void>;
}

interface RegionParts {
  readonly name: string;
  readonly dir: string;
  readonly nats: NatsServer;
  redis: RedisServer | null;
  redisUp: boolean;
  readonly nodes: TesseraNode[];
  readonly info: SimRegion;
}

const START_ATTEMPTS = 3;

export async function startSim(options: SimOptions = {}): Promise<Sim> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startSimOnce(options);
    } catch (error) {
      // Ports are picked free and bound a moment later: another process may take one in between.
      const portTaken = /address already in use|EADDRINUSE|already in use|port taken/i.test((error as Error).message);
      if (!portTaken || attempt === START_ATTEMPTS) throw error;
    }
  }
}

async function startSimOnce(options: SimOptions): Promise<Sim> {
  const names = [...(options.regions ?? DEFAULT_REGIONS)];
  checkRegions(names);
  const nodesPerRegion = options.nodesPerRegion ?? 1;
  if (!Number.isInteger(nodesPerRegion) || nodesPerRegion < 0) throw new RangeError(`nodesPerRegion must be an integer ≥ 0, got ${nodesPerRegion}`);
  const engine = options.engine ?? 'redis';
  const withTessera = options.tessera ?? true;
  // TESSERA_SIM_DIR keeps every simulation's folder (logs included) under it, for reading after a failed test.
  const keepUnder = process.env.TESSERA_SIM_DIR;
  const ownDir = options.dir === undefined && keepUnder === undefined;
  if (keepUnder !== undefined) mkdirSync(keepUnder, { recursive: true });
  // A kept folder is named after the test file that made it, so a failed run's logs point at their test.
  const maker = keepUnder === undefined ? '' : `${basename(process.argv[1] ?? 'sim').replace(/\.(test\.)?[cm]?[jt]s$/, '')}-`;
  const dir = options.dir ?? mkdtempSync(join(keepUnder ?? tmpdir(), `tessera-sim-${maker}`));
  mkdirSync(dir, { recursive: true });
  const apiKey = `sim_${randomBytes(16).toString('hex')}`;

  const cleanups: (() => Promise<void>)[] = [];
  const regions = new Map<string, RegionParts>();
  let network: Network | null = null;
  const stopAll = async (): Promise<void> => {
    await Promise.all([...regions.values()].flatMap((r) => [...r.nodes.map((n) => n.kill()), r.nats.kill()]));
    await Promise.all([...regions.values()].map((r) => r.redis?.stop()));
    await network?.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const refuser = await startRefuser();
    cleanups.push(() => new Promise((resolve) => refuser.server.close(() => resolve())));
    const ports = await freePorts(names.length * (3 + (withTessera ? 2 * nodesPerRegion : 0)));
    const take = (): number => ports.shift()!;
    const clientPorts = new Map(names.map((n) => [n, take()]));
    const clusterPorts = new Map(names.map((n) => [n, take()]));
    const monitorPorts = new Map(names.map((n) => [n, take()]));
    const monitorUrls = names.map((n) => `http://${HOST}:${monitorPorts.get(n)!}`);
    network = await Network.start(names, options.rttMs, clusterPorts, clientPorts, options.tcpGiveUpMs);
    const net = network;

    for (const name of names) {
      const regionDir = join(dir, name);
      const nats = new NatsServer({
        region: name,
        clientPort: clientPorts.get(name)!,
        clusterPort: clusterPorts.get(name)!,
        monitorPort: monitorPorts.get(name)!,
        routePorts: net.routePorts(name),
        advertisePort: refuser.port,
        dir: join(regionDir, 'nats'),
        users: options.natsUsers,
      });
      const redis = engine === 'redis' ? await startRedis({ args: REDIS_ARGS }) : null;
      const natsUrls = [nats.url, ...names.filter((other) => other !== name).map((other) => `nats://${HOST}:${net.clientPort(name, other)}`)];
      const nodes: TesseraNode[] = [];
      const adminUrls: string[] = [];
      for (let i = 0; withTessera && i < nodesPerRegion; i += 1) {
        const id = `${name}-${i}`;
        const nodeDir = join(regionDir, id);
        const adminPort = take();
        adminUrls.push(`http://${HOST}:${adminPort}`);
        nodes.push(
          new TesseraNode(id, take(), nodeDir, {
            TESSERA_HOST: HOST,
            ...(redis !== null
              ? { TESSERA_STORE: 'redis', TESSERA_REDIS_URL: redis.url }
              : { TESSERA_STORE: 'sqlite', TESSERA_SQLITE_PATH: join(nodeDir, 'tessera.db') }),
            TESSERA_API_KEYS: `sim:${apiKey}:admin`,
            TESSERA_REGION: name,
            TESSERA_REGIONS: names.join(','),
            TESSERA_NATS_URL: natsUrls.join(','),
            // Every server's monitoring port: the replica check compares the copies of each stream.
            TESSERA_NATS_MONITOR_URLS: monitorUrls.join(','),
            TESSERA_ADMIN_PORT: String(adminPort),
            TESSERA_LOG_LEVEL: 'warn',
            TESSERA_SHUTDOWN_DELAY: '0s',
            ...options.tesseraEnv,
          }, options.clockOffsetMs?.[name] ?? 0),
        );
      }
      const info: SimRegion = {
        name,
        urls: nodes.map((n) => n.url),
        adminUrls,
        natsUrl: nats.url,
        natsUrls,
        natsMonitorUrl: nats.monitorUrl,
        ...(redis !== null ? { redisUrl: redis.url } : {}),
      };
      regions.set(name, { name, dir: regionDir, nats, redis, redisUp: redis !== null, nodes, info });
    }

    await Promise.all([...regions.values()].map((r) => r.nats.start()));
    const sim = handle();
    await sim.waitForRoutes(CLUSTER_TIMEOUT_MS);
    await Promise.all([...regions.values()].flatMap((r) => r.nodes.map((n) => n.start())));
    return sim;
  } catch (error) {
    await stopAll();
    // A given folder is kept, but not the half-started regions' files: a retry starts afresh.
    for (const name of names) rmSync(join(dir, name), { recursive: true, force: true });
    throw error;
  }

  function part(name: string): RegionParts {
    const found = regions.get(name);
    if (found === undefined) throw new Error(`no region "${name}" (regions: ${names.join(', ')})`);
    return found;
  }

  function nodesOf(region: string, node: number | undefined): TesseraNode[] {
    const all = part(region).nodes;
    if (node === undefined) return all;
    const one = all[node];
    if (one === undefined) throw new Error(`region ${region} has no Tessera node ${node} (it has ${all.length})`);
    return [one];
  }

  /** Problems keeping the running servers from being one cluster, as text; null when there are none. */
  async function clusterProblem(): Promise<string | null> {
    const running = [...regions.values()].filter((r) => r.nats.running);
    const ids = new Map<string, string>();
    for (const r of running) ids.set((await r.nats.varz()).server_id, r.name);
    const leaders = new Set<string>();
    for (const r of running) {
      const expected = running.filter((o) => o !== r && network!.connected(r.name, o.name)).map((o) => o.name);
      const seen = new Set(((await r.nats.routez()).routes ?? []).map((route) => ids.get(route.remote_id) ?? route.remote_id));
      const missing = expected.filter((name) => !seen.has(name));
      if (missing.length > 0) return `${r.name} has no route to ${missing.join(', ')}`;
      const reachable = expected.length + 1;
      // A meta leader exists only on the side of a cut that holds a majority.
      if (reachable * 2 > names.length) {
        const leader = (await r.nats.jsz()).meta_cluster?.leader;
        if (!leader) return `${r.name} knows no JetStream meta leader`;
        leaders.add(leader);
      }
    }
    return leaders.size > 1 ? `servers disagree on the meta leader (${[...leaders].join(', ')})` : null;
  }

  async function killRedis(r: RegionParts): Promise<void> {
    if (r.redis === null || !r.redisUp) return;
    r.redisUp = false;
    await r.redis.kill();
  }

  async function restartRedis(r: RegionParts): Promise<void> {
    await r.redis!.restart();
    r.redisUp = true;
  }

  function handle(): Sim {
    let stopped = false;
    const sim: Sim = {
      dir,
      regions: names.map((n) => part(n).info),
      region: (name) => part(name).info,
      apiKey,
      rtt: (a, b) => network!.rtt(a, b),
      setRtt: (a, b, ms) => network!.setRtt(a, b, ms),
      async partition(region) {
        part(region);
        network!.partition(region);
      },
      async heal(region) {
        part(region);
        network!.heal(region);
      },
      async killRegion(region) {
        const r = part(region);
        await Promise.all([...r.nodes.map((n) => n.kill()), r.nats.kill(), killRedis(r)]);
      },
      async restartRegion(region) {
        const r = part(region);
        if (!r.nats.running) await sim.restartNats(region);
        if (r.redis !== null && !r.redisUp) await restartRedis(r);
        await Promise.all(r.nodes.filter((n) => !n.running).map((n) => n.start()));
      },
      killNats: (region) => part(region).nats.kill(),
      async restartNats(region) {
        const r = part(region);
        if (!r.nats.running) await r.nats.start();
        await sim.waitForRoutes();
      },
      async killTessera(region, node) {
        await Promise.all(nodesOf(region, node).map((n) => n.kill()));
      },
      async restartTessera(region, node) {
        await Promise.all(nodesOf(region, node).filter((n) => !n.running).map((n) => n.start()));
      },
      async wipeRegion(region) {
        const r = part(region);
        await Promise.all([...r.nodes.map((n) => n.kill()), killRedis(r)]);
        if (r.redis !== null) {
          for (const file of ['appendonlydir', 'dump.rdb']) rmSync(join(r.redis.dir, file), { recursive: true, force: true });
          await restartRedis(r);
        } else {
          for (const node of r.nodes) {
            for (const suffix of ['', '-wal', '-shm']) rmSync(join(node.dir, `tessera.db${suffix}`), { force: true });
          }
        }
      },
      waitForRoutes: (timeoutMs = CLUSTER_TIMEOUT_MS) => waitUntil('the NATS cluster to form', timeoutMs, clusterProblem, 100),
      async status() {
        const ids = new Map<string, string>();
        for (const r of regions.values()) {
          if (r.nats.running) ids.set((await r.nats.varz().catch(() => ({ server_id: '' }))).server_id, r.name);
        }
        return Promise.all(
          [...regions.values()].map(async (r): Promise<RegionStatus> => {
            const routes = r.nats.running ? await r.nats.routez().catch(() => ({ routes: [] })) : { routes: [] };
            const jsz = r.nats.running ? await r.nats.jsz().catch(() => null) : null;
            return {
              name: r.name,
              partitioned: network!.partitioned.has(r.name),
              nats: r.nats.running,
              routesTo: (routes.routes ?? []).map((route) => ids.get(route.remote_id) ?? route.remote_id).sort(),
              metaLeader: jsz?.meta_cluster?.leader ?? null,
              redis: r.redis === null ? null : r.redisUp,
              tessera: r.nodes.map((n) => n.running),
            };
          }),
        );
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopAll();
      },
    };
    return sim;
  }
}

function checkRegions(names: readonly string[]): void {
  if (names.length === 0) throw new RangeError('at least one region is needed');
  for (const name of names) {
    if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(name)) throw new RangeError(`region name "${name}" must be 1-32 characters of [a-z0-9-]`);
  }
  if (new Set(names).size !== names.length) throw new RangeError(`region names must be unique: ${names.join(', ')}`);
}

/**
 * A port that accepts TCP connections and closes them at once: the cluster
 * address every server advertises, so that routes learnt through gossip fail
 * and only the configured routes (through the proxies) exist.
 */
async function startRefuser(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return { server, port: address.port };
}
