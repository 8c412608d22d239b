/**
 * The simulated network between regions: for every ordered pair of regions
 * (a, b), one delay proxy that a's nats-server dials as its route to b's
 * cluster port, and one that a's Tessera nodes use as their NATS URL for b's
 * server. Each adds RTT(a, b) / 2 to each direction, so a round trip over a
 * route (a → b → a) costs RTT(a, b), and so does a client round trip from a
 * to b's server.
 *
 * A link is cut while either of its regions is partitioned: partitioning
 * two regions isolates each from the other as well as from the rest.
 */
import { startDelayProxy, type DelayProxy } from './tcp-delay-proxy.js';

export const DEFAULT_RTT_MS = 60;

/** One RTT for every pair, or per pair keyed `a-b` (either order), with `default` for the rest. */
export type RttSpec = number | Readonly<Record<string, number>>;

/** The RTT between two regions under `spec`; throws on a negative or missing value. */
export function rttBetween(spec: RttSpec | undefined, a: string, b: string): number {
  let ms: number | undefined;
  if (spec === undefined) ms = DEFAULT_RTT_MS;
  else if (typeof spec === 'number') ms = spec;
  else ms = spec[`${a}-${b}`] ?? spec[`${b}-${a}`] ?? spec.default ?? DEFAULT_RTT_MS;
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`rtt between ${a} and ${b} must be a number of ms ≥ 0, got ${ms}`);
  return ms;
}

interface Link {
  readonly from: string;
  readonly to: string;
  readonly route: DelayProxy;
  readonly client: DelayProxy;
}

export class Network {
  readonly #links: Link[] = [];
  readonly #partitioned = new Set<string>();
  readonly #rtt = new Map<string, number>();

  private constructor(readonly regions: readonly string[]) {}

  /** Starts the proxies; `clusterPorts` and `clientPorts` are the servers' ports by region. */
  static async start(
    regions: readonly string[],
    rtt: RttSpec | undefined,
    clusterPorts: ReadonlyMap<string, number>,
    clientPorts: ReadonlyMap<string, number>,
    giveUpMs?: number,
  ): Promise<Network> {
    const network = new Network(regions);
    try {
      for (const from of regions) {
        for (const to of regions) {
          if (from === to) continue;
          const ms = rttBetween(rtt, from, to);
          network.#rtt.set(pairKey(from, to), ms);
          const route = await startDelayProxy({ targetPort: clusterPorts.get(to)!, oneWayMs: ms / 2, label: `route ${from}→${to}`, ...(giveUpMs !== undefined ? { giveUpMs } : {}) });
          const client = await startDelayProxy({ targetPort: clientPorts.get(to)!, oneWayMs: ms / 2, label: `client ${from}→${to}`, ...(giveUpMs !== undefined ? { giveUpMs } : {}) });
          network.#links.push({ from, to, route, client });
        }
      }
    } catch (error) {
      await network.close();
      throw error;
    }
    return network;
  }

  /** Ports of the route proxies `from`'s server dials, one per other region. */
  routePorts(from: string): number[] {
    return this.#links.filter((l) => l.from === from).map((l) => l.route.port);
  }

  /** Port of the proxy through which `from`'s clients reach `to`'s server. */
  clientPort(from: string, to: string): number {
    return this.#link(from, to).client.port;
  }

  rtt(a: string, b: string): number {
    const ms = this.#rtt.get(pairKey(a, b));
    if (ms === undefined) throw new Error(`no link between ${a} and ${b}`);
    return ms;
  }

  setRtt(a: string, b: string, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`rtt must be a number of ms ≥ 0, got ${ms}`);
    this.#link(a, b); // throws on an unknown pair
    this.#rtt.set(pairKey(a, b), ms);
    for (const link of this.#links) {
      if (pairKey(link.from, link.to) !== pairKey(a, b)) continue;
      link.route.oneWayMs = ms / 2;
      link.client.oneWayMs = ms / 2;
    }
  }

  get partitioned(): ReadonlySet<string> {
    return this.#partitioned;
  }

  partition(region: string): void {
    this.#partitioned.add(region);
    this.#apply();
  }

  heal(region: string): void {
    this.#partitioned.delete(region);
    this.#apply();
  }

  /** Whether traffic flows between two regions now. */
  connected(a: string, b: string): boolean {
    return !this.#partitioned.has(a) && !this.#partitioned.has(b);
  }

  async close(): Promise<void> {
    await Promise.all(this.#links.flatMap((l) => [l.route.close(), l.client.close()]));
    this.#links.length = 0;
  }

  #apply(): void {
    for (const link of this.#links) {
      for (const proxy of [link.route, link.client]) {
        if (this.connected(link.from, link.to)) proxy.heal();
        else proxy.cut();
      }
    }
  }

  #link(from: string, to: string): Link {
    const link = this.#links.find((l) => l.from === from && l.to === to);
    if (link === undefined) throw new Error(`no link from ${from} to ${to} (regions: ${this.regions.join(', ')})`);
    return link;
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}
