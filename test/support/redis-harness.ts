/**
 * Starts real Redis servers for tests: a standalone `redis-server`, or a
 * 6-node Redis Cluster (3 masters, 3 replicas) built with
 * `redis-cli --cluster create`. Every server listens on 127.0.0.1 on a free
 * port, keeps its files in a fresh temporary folder, persists nothing
 * (`--save '' --appendonly no`, unless `startRedis({ args })` says otherwise), and is killed and its folder removed by
 * `stop()` — or, should a test crash, when the test process exits.
 *
 * Never touches a Redis the machine may already run on 6379.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { exitOnStopSignals, freePorts } from '../../sim/processes.js';
import { respCommand, type RespReply } from './resp.js';

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 10_000;

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Runs one command on the server (for assertions and fault injection). */
  command(...args: (string | number)[]): Promise<RespReply>;
  /** Kills the process (its port and folder are kept for `restart`). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open, nothing answers. */
  pause(): void;
  /** Thaws a paused process (SIGCONT). */
  resume(): void;
  /** Starts the server again on the same port: empty, unless `args` turned persistence on. */
  restart(): Promise<void>;
  /** Kills the process and removes its folder; safe to call twice. */
  stop(): Promise<void>;
}

export interface ClusterNode {
  readonly id: string;
  readonly port: number;
  readonly role: 'master' | 'replica';
  /** For a replica, the id of its master. */
  readonly masterId: string | null;
  readonly slotRanges: readonly (readonly [number, number])[];
  readonly failed: boolean;
}

export interface RedisCluster {
  /** Seed list, `host:port` per node (what `TESSERA_REDIS_NODES` takes). */
  readonly nodes: readonly string[];
  readonly ports: readonly number[];
  /** With `tls`: each node's TLS port as `rediss://host:port`, the same order as `nodes`. */
  readonly tlsNodes: readonly string[];
  /** The topology as the node on `port` (default: any live node) sees it. */
  topology(port?: number): Promise<ClusterNode[]>;
  /** Runs one command on the node at `port`. */
  command(port: number, ...args: (string | number)[]): Promise<RespReply>;
  /** Runs `redis-cli` with these arguments (e.g. `--cluster reshard …`); resolves with its output. */
  cli(args: readonly string[]): Promise<string>;
  /** What every node has logged so far, one text per node (its `redis.log`). */
  logs(): string[];
  /** SIGKILLs one node; the cluster fails it over by itself after the node timeout. */
  killNode(port: number): Promise<void>;
  /** Resolves once every live node reports cluster_state:ok and agrees on the slot owners. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** `cluster-node-timeout`: how long before a silent master is failed over. @default 1000 */
  readonly nodeTimeoutMs?: number;
  /**
   * PEM files: every node also listens with TLS on a port of its own, requires a client
   * certificate signed by `ca` there, and speaks TLS on the cluster bus and to its replicas.
   * A client on a TLS port is told the TLS ports of the others; the plain ports stay, for the
   * harness. The server certificate must name 127.0.0.1, the address the nodes announce.
   */
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca: string };
}

// ---------------------------------------------------------------------------
// Processes and cleanup

const live = new Set<RedisProcess>();
const folders = new Set<string>();
process.once('exit', () => {
  for (const server of live) server.killNow();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});
exitOnStopSignals();

class RedisProcess {
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly extraArgs: readonly string[],
  ) {}

  async start(): Promise<void> {
    const args = [
      '--port', String(this.port),
      '--bind', HOST,
      '--dir', this.dir,
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'no',
      '--logfile', join(this.dir, 'redis.log'),
      ...this.extraArgs,
    ];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.#child = child;
    live.add(this);
    let exitCode: number | null = null;
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        exitCode = code ?? -1;
        resolve();
      });
      child.once('error', () => {
        exitCode = -1;
        resolve();
      });
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exitCode !== null) break;
      try {
        if ((await respCommand(this.port, ['PING'], 500)) === 'PONG') {
          // Only our own child counts: another process may have taken the port while this one was down.
          if (this.#answeredBy(String(await respCommand(this.port, ['INFO', 'server'], 500))) === child.pid) return;
          break;
        }
      } catch {
        // not listening yet
      }
      await sleep(15);
    }
    await this.kill();
    throw new Error(`redis-server on port ${this.port} did not start (exit ${exitCode}):\n${this.logTail()}`);
  }

  #answeredBy(info: string): number | undefined {
    const pid = /^process_id:(\d+)/m.exec(info)?.[1];
    return pid === undefined ? undefined : Number(pid);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    await this.#exited;
    this.#child = null;
    live.delete(this);
  }

  signal(signal: NodeJS.Signals): void {
    this.#child?.kill(signal);
  }

  killNow(): void {
    // A paused process dies of SIGKILL too.
    this.#child?.kill('SIGKILL');
  }

  logTail(): string {
    try {
      return readFileSync(join(this.dir, 'redis.log'), 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tessera-${label}-`));
  folders.add(dir);
  return dir;
}

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  folders.delete(dir);
}

async function withRetries<T>(attempts: number, work: () => Promise<T>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i += 1) {
    try {
      return await work();
    } catch (error) {
      // Most likely another process took a port between probing and binding it.
      last = error;
    }
  }
  throw last;
}

// ---------------------------------------------------------------------------
// Standalone

export interface RedisOptions {
  /**
   * Extra `redis-server` arguments, after the defaults (so they override them),
   * e.g. `['--appendonly', 'yes']` for a server that keeps its data across `restart`.
   * @default []
   */
  readonly args?: readonly string[];
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  return withRetries(3, async () => {
    const [port] = await freePorts(1);
    const dir = tempDir('redis');
    const server = new RedisProcess(port!, dir, options.args ?? []);
    try {
      await server.start();
    } catch (error) {
      removeDir(dir);
      throw error;
    }
    let stopped = false;
    return {
      url: `redis://${HOST}:${port}`,
      port: port!,
      dir,
      command: (...args) => respCommand(port!, args),
      kill: (signal) => server.kill(signal),
      pause: () => server.signal('SIGSTOP'),
      resume: () => server.signal('SIGCONT'),
      restart: () => server.start(),
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await server.kill();
        removeDir(dir);
      },
    };
  });
}

// ---------------------------------------------------------------------------
// Cluster

export async function startRedisCluster(options: ClusterOptions = {}): Promise<RedisCluster> {
  return withRetries(2, () => buildCluster(options.nodeTimeoutMs ?? 1000, options.tls));
}

async function buildCluster(nodeTimeoutMs: number, tls: ClusterOptions['tls']): Promise<RedisCluster> {
  const ports = await freePorts(18);
  const tlsPorts = ports.slice(12, 18);
  const dir = tempDir('redis-cluster');
  const nodes = ports.slice(0, 6).map((port, i) => {
    const nodeDir = join(dir, String(port));
    const tlsArgs = tls === undefined ? [] : [
      '--tls-port', String(tlsPorts[i]),
      '--tls-cert-file', tls.cert,
      '--tls-key-file', tls.key,
      '--tls-ca-cert-file', tls.ca,
      '--tls-auth-clients', 'yes',
      '--tls-cluster', 'yes',
      '--tls-replication', 'yes',
    ];
    return new RedisProcess(port, nodeDir, [
      ...tlsArgs,
      '--cluster-enabled', 'yes',
      '--cluster-port', String(ports[6 + i]),
      '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', String(nodeTimeoutMs),
      // A replica may always take over, however long it was cut off: tests kill masters on purpose.
      '--cluster-replica-validity-factor', '0',
      // Only the slots of a failed master stop answering, not the whole cluster.
      '--cluster-require-full-coverage', 'no',
      // Replicas sync at once instead of waiting 5 s for more replicas to share one transfer.
      '--repl-diskless-sync-delay', '0',
    ]);
  });
  const stopAll = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.kill()));
    removeDir(dir);
  };
  try {
    for (const node of nodes) mkdirSync(node.dir, { recursive: true });
    await Promise.all(nodes.map((n) => n.start()));
    const addresses = nodes.map((n) => `${HOST}:${n.port}`);
    await runCli(['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes']);
    const tlsNodes = tls === undefined ? [] : tlsPorts.map((port) => `rediss://${HOST}:${port}`);
    const cluster = clusterHandle(nodes, addresses, tlsNodes, stopAll);
    await cluster.waitUntilHealthy(20_000);
    return cluster;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function clusterHandle(nodes: RedisProcess[], addresses: string[], tlsNodes: string[], stopAll: () => Promise<void>): RedisCluster {
  const killed = new Set<number>();
  const livePorts = (): number[] => nodes.map((n) => n.port).filter((p) => !killed.has(p));
  let stopped = false;

  const topology = async (port?: number): Promise<ClusterNode[]> => {
    const candidates = port === undefined ? livePorts() : [port];
    let last: unknown;
    for (const candidate of candidates) {
      try {
        const reply = await respCommand(candidate, ['CLUSTER', 'NODES']);
        if (typeof reply !== 'string') throw new Error(`CLUSTER NODES answered ${String(reply)}`);
        return parseClusterNodes(reply);
      } catch (error) {
        last = error;
      }
    }
    throw last;
  };

  return {
    nodes: addresses,
    ports: nodes.map((n) => n.port),
    tlsNodes,
    topology,
    command: (port, ...args) => respCommand(port, args),
    cli: (args) => runCli(args),
    logs: () => nodes.map((n) => readFileSync(join(n.dir, 'redis.log'), 'utf8')),
    async killNode(port) {
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`no cluster node on port ${port}`);
      killed.add(port);
      await node.kill();
    },
    async waitUntilHealthy(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      let problem = 'not checked yet';
      while (Date.now() < deadline) {
        problem = await clusterProblem(livePorts());
        if (problem === '') return;
        await sleep(50);
      }
      throw new Error(`the cluster did not become healthy within ${timeoutMs} ms: ${problem}`);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopAll();
    },
  };
}

/** Why the cluster seen from these nodes is not healthy yet, or '' when it is. */
async function clusterProblem(ports: readonly number[]): Promise<string> {
  try {
    const views: string[] = [];
    for (const port of ports) {
      const info = await respCommand(port, ['CLUSTER', 'INFO'], 1000);
      if (typeof info !== 'string' || !info.includes('cluster_state:ok')) return `node ${port} is not in state ok`;
      if (!info.includes('cluster_slots_assigned:16384')) return `node ${port} does not see every slot assigned`;
      const topology = parseClusterNodes(String(await respCommand(port, ['CLUSTER', 'NODES'], 1000)));
      const me = topology.find((n) => n.port === port);
      if (me?.role === 'replica') {
        const replication = String(await respCommand(port, ['INFO', 'replication'], 1000));
        if (!replication.includes('master_link_status:up')) return `replica ${port} is not in sync with its master`;
      }
      const owners = topology
        .filter((n) => n.role === 'master' && !n.failed && n.slotRanges.length > 0)
        .map((n) => `${n.port}=${n.slotRanges.map((r) => r.join('-')).join(',')}`)
        .sort()
        .join(' ');
      views.push(owners);
    }
    return new Set(views).size === 1 ? '' : 'nodes disagree on slot owners';
  } catch (error) {
    return (error as Error).message;
  }
}

export function parseClusterNodes(text: string): ClusterNode[] {
  return text
    .trim()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const [id, address, flags, master, , , , , ...slots] = line.split(' ');
      const port = Number(address!.split('@')[0]!.split(':')[1]);
      const flagList = flags!.split(',');
      return {
        id: id!,
        port,
        role: flagList.includes('master') ? 'master' : 'replica',
        masterId: master === '-' ? null : master!,
        failed: flagList.includes('fail') || flagList.includes('fail?'),
        slotRanges: slots
          .filter((s) => !s.startsWith('['))
          .map((s) => {
            const [from, to] = s.split('-').map(Number);
            return [from!, to ?? from!] as const;
          }),
      } satisfies ClusterNode;
    });
}

const CLI_TIMEOUT_MS = 120_000;

function runCli(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS);
    child.once('exit', () => clearTimeout(timer));
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0 && !/\[ERR\]/.test(output)) resolve(output);
      else reject(new Error(`redis-cli ${args.join(' ')} failed (exit ${code}):\n${output}`));
    });
  });
}
