/**
 * One region's nats-server in the simulation: its configuration file, its
 * process, and reads of its monitoring endpoints.
 *
 * The configuration, and why:
 * - `server_tags: ["region:<name>"]` and `jetstream { unique_tag: "region:" }`:
 *   the placement of an untagged R3 stream puts one replica in each region; a
 *   stream tagged `region:x` stays in x.
 * - `ping_interval: "1s"`, `ping_max: 3`: 2.9.10 has no per-route ping settings
 *   (those came in 2.10), so these top-level ones apply to routes and clients
 *   alike. A cut route is closed as stale after about 3–4 s instead of the
 *   default 2 min × 2, which is what makes partitions visible quickly in /routez.
 *   At the simulated RTTs (≤ a few hundred ms) 1 s leaves room for no false alarm.
 * - `routes`: the delay proxies this server dials, one per other region. The
 *   cluster `advertise` address points at a port that accepts and closes at once
 *   (see harness.ts): a server that learns of a peer through gossip connects
 *   there, fails once and gives up (implicit routes have no retries), so every
 *   route really goes through a proxy and can be delayed and cut.
 * - `cluster { no_advertise: true }`: clients are not told other servers' client
 *   URLs, so a client stays on the URLs it was given (its own region's server
 *   directly, the others through proxies) and never bypasses a proxy.
 * - `authorization` (only when a test asks for users): its users, plus one
 *   with every right that clients without credentials are (`no_auth_user`),
 *   so that everything else connects as before. A user denied publishing to
 *   some subjects is a region whose JetStream answers some requests and not
 *   others.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getJson, LoggedProcess, waitUntil } from './processes.js';

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 15_000;

export const CLUSTER_NAME = 'tessera-sim';
export const PING_INTERVAL = '1s';
export const PING_MAX = 3;

export interface NatsServerSettings {
  readonly region: string;
  readonly clientPort: number;
  readonly clusterPort: number;
  readonly monitorPort: number;
  /** Ports of the delay proxies leading to the other regions' cluster ports. */
  readonly routePorts: readonly number[];
  /** Cluster address advertised to peers (one that refuses routes; see above). */
  readonly advertisePort: number;
  /** Folder for the configuration, log and JetStream store. */
  readonly dir: string;
  /** Users besides the anonymous one that has every right (see above). @default none: no authorization */
  readonly users?: readonly NatsUser[];
}

/** A user of the simulation's NATS servers, and the subjects it may not publish to. */
export interface NatsUser {
  readonly user: string;
  readonly password: string;
  readonly denyPublish: readonly string[];
}

/** The user that clients without credentials are when the servers have users. */
const ANONYMOUS = 'anonymous';

/** `/routez` as far as the simulation reads it. */
export interface Routez {
  readonly num_routes: number;
  readonly routes?: readonly { readonly remote_id: string; readonly did_solicit: boolean; readonly rtt?: string }[];
}

/** `/varz` as far as the simulation reads it. */
export interface Varz {
  readonly server_id: string;
  readonly server_name: string;
  readonly version: string;
}

/** `/jsz` as far as the simulation reads it. */
export interface Jsz {
  readonly server_id: string;
  readonly streams: number;
  readonly messages: number;
  readonly meta_cluster?: { readonly leader?: string; readonly cluster_size: number };
  readonly account_details?: readonly {
    readonly name: string;
    readonly stream_detail?: readonly {
      readonly name: string;
      readonly cluster?: { readonly leader?: string; readonly replicas?: readonly { name: string; current: boolean; lag?: number }[] };
      readonly state: { readonly messages: number; readonly first_seq: number; readonly last_seq: number };
    }[];
  }[];
}

export function natsConfig(settings: NatsServerSettings): string {
  const q = JSON.stringify;
  return [
    `server_name: ${q(settings.region)}`,
    `listen: ${q(`${HOST}:${settings.clientPort}`)}`,
    `http: ${q(`${HOST}:${settings.monitorPort}`)}`,
    `server_tags: [${q(`region:${settings.region}`)}]`,
    `ping_interval: ${q(PING_INTERVAL)}`,
    `ping_max: ${PING_MAX}`,
    `jetstream {`,
    `  store_dir: ${q(join(settings.dir, 'jetstream'))}`,
    `  unique_tag: "region:"`,
    `  max_memory_store: 256MB`,
    `  max_file_store: 4GB`,
    `}`,
    `cluster {`,
    `  name: ${q(CLUSTER_NAME)}`,
    `  listen: ${q(`${HOST}:${settings.clusterPort}`)}`,
    `  advertise: ${q(`${HOST}:${settings.advertisePort}`)}`,
    `  no_advertise: true`,
    `  routes: [${settings.routePorts.map((port) => q(`nats-route://${HOST}:${port}`)).join(', ')}]`,
    `}`,
    ...(settings.users === undefined || settings.users.length === 0
      ? []
      : [
          `authorization {`,
          `  users: [`,
          `    { user: ${q(ANONYMOUS)}, password: ${q(ANONYMOUS)} }`,
          ...settings.users.map((u) => `    { user: ${q(u.user)}, password: ${q(u.password)}, permissions: { publish: { deny: [${u.denyPublish.map((s) => q(s)).join(', ')}] } } }`),
          `  ]`,
          `}`,
          `no_auth_user: ${q(ANONYMOUS)}`,
        ]),
    '',
  ].join('\n');
}

export class NatsServer {
  readonly #process: LoggedProcess;
  readonly url: string;
  readonly monitorUrl: string;

  constructor(readonly settings: NatsServerSettings) {
    mkdirSync(settings.dir, { recursive: true });
    const configPath = join(settings.dir, 'nats.conf');
    writeFileSync(configPath, natsConfig(settings));
    this.#process = new LoggedProcess(`nats-server ${settings.region}`, 'nats-server', ['-c', configPath], join(settings.dir, 'nats.log'));
    this.url = `nats://${HOST}:${settings.clientPort}`;
    this.monitorUrl = `http://${HOST}:${settings.monitorPort}`;
  }

  get running(): boolean {
    return this.#process.running;
  }

  /** Starts the process and resolves once its monitoring port answers as this server. */
  async start(): Promise<void> {
    this.#process.start();
    try {
      await waitUntil(`${this.#process.label} to listen`, START_TIMEOUT_MS, async () => {
        if (!this.#process.running) throw new Error(`exited ${JSON.stringify(this.#process.exit)}`);
        const varz = await this.varz();
        return varz.server_name === this.settings.region ? null : `port taken by ${varz.server_name}`;
      });
    } catch (error) {
      await this.#process.kill();
      throw new Error(`${(error as Error).message}\n${this.#process.logTail()}`);
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.#process.kill(signal);
  }

  varz(): Promise<Varz> {
    return getJson<Varz>(`${this.monitorUrl}/varz`);
  }

  routez(): Promise<Routez> {
    return getJson<Routez>(`${this.monitorUrl}/routez`);
  }

  /** `/jsz`; with `streams`, each stream's local replica state, leader and replicas. */
  jsz(options: { streams?: boolean } = {}): Promise<Jsz> {
    const query = options.streams ? '?accounts=true&streams=true&config=true' : '';
    return getJson<Jsz>(`${this.monitorUrl}/jsz${query}`);
  }

  logTail(lines?: number): string {
    return this.#process.logTail(lines);
  }
}
