/**
 * The capacity model: from the per-core figures this run measured (CPU time per
 * request of Tessera on Redis and of its Redis, bytes per stored session) to
 * the fleet the requirement needs: 500 M active sessions, 100 k req/s normal,
 * 1 M req/s peak, in several regions that each hold every session.
 * Every assumption is a named constant below and is printed with the result.
 */
import type { BenchResults } from './results.js';

export const ASSUMPTIONS = {
  activeSessions: 500_000_000,
  normalRps: 100_000,
  peakRps: 1_000_000,
  /** Request mix at peak: validate + read, part mutations, sign-ins. */
  mix: { reads: 0.89, mutations: 0.1, logins: 0.01 },
  regions: 3,
  /** Traffic shares of the regions (nearest-region routing). */
  regionShares: [0.4, 0.35, 0.25],
  /** API CPU utilisation to plan for at peak with every region up (keeps p99 low: see the open-loop curves). */
  apiUtilisation: 0.6,
  /** …and with the worst single region lost at peak (its users move to the others). */
  apiUtilisationDegraded: 0.85,
  /** Share of an API host's CPU left for TLS, the load balancer agent, metrics, GC threads. */
  apiOverhead: 0.15,
  /** Redis main-thread utilisation to plan for at peak. */
  redisUtilisation: 0.5,
  /** Data (used_memory) per Redis master: small enough for quick resync and failover. */
  redisDataPerMasterBytes: 25 * 2 ** 30,
  /** used_memory may reach this share of the node's memory (fork copy-on-write, fragmentation). */
  redisMemoryFill: 0.7,
  /** Copies of each shard in a region: a master and one replica. */
  redisCopies: 2,
} as const;

export interface CapacityInputs {
  readonly apiUs: { readonly reads: number; readonly mutations: number; readonly logins: number };
  readonly redisUs: { readonly reads: number; readonly mutations: number; readonly logins: number };
  readonly bytesPerSession: number;
  readonly source: string;
}

export interface CapacityResult {
  readonly inputs: CapacityInputs;
  readonly apiUsPerRequest: number;
  readonly redisUsPerRequest: number;
  readonly redisUsPerAppliedWrite: number;
  /** Requests/s one API core serves at 100 % (measured cost only). */
  readonly perCoreRps: number;
  readonly regions: ReadonlyArray<{
    readonly share: number;
    readonly peakRps: number;
    readonly degradedRps: number;
    readonly apiCores: number;
    readonly redisOpsPerS: number;
    readonly mastersForCpu: number;
    readonly mastersForMemory: number;
    readonly masters: number;
    readonly redisNodes: number;
    readonly redisMemoryBytes: number;
  }>;
  readonly totals: { readonly apiCores: number; readonly redisNodes: number; readonly redisMemoryBytes: number; readonly normalApiCores: number };
}

/** The figures of Tessera on Redis in this run, or null when they are missing. */
export function capacityInputs(r: BenchResults): CapacityInputs | null {
  const per = (mix: 'reads' | 'mutations' | 'login', role: string): number | null => {
    const p = r.peaks.find((x) => x.target === 'tessera-redis' && x.mix === mix);
    const cpu = p?.cpu?.perRole[role];
    return p && cpu !== undefined && p.rps > 0 ? (cpu / 100) * (1e6 / p.rps) : null;
  };
  const seed = r.targets.find((t) => t.id === 'tessera-redis')?.seed;
  const values = [per('reads', 'server'), per('mutations', 'server'), per('login', 'server'), per('reads', 'store'), per('mutations', 'store'), per('login', 'store')];
  if (values.some((v) => v === null) || !seed?.bytesPerSession) return null;
  const [ar, am, al, rr, rm, rl] = values as number[];
  return {
    apiUs: { reads: ar!, mutations: am!, logins: al! },
    redisUs: { reads: rr!, mutations: rm!, logins: rl! },
    bytesPerSession: seed.bytesPerSession,
    source: `${r.mode} run of ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${seed.sessions.toLocaleString('en-US')} seeded sessions`,
  };
}

export function capacityModel(inputs: CapacityInputs, a = ASSUMPTIONS): CapacityResult {
  const m = a.mix;
  const apiUs = m.reads * inputs.apiUs.reads + m.mutations * inputs.apiUs.mutations + m.logins * inputs.apiUs.logins;
  const redisUs = m.reads * inputs.redisUs.reads + m.mutations * inputs.redisUs.mutations + m.logins * inputs.redisUs.logins;
  // Every region applies every other region's writes to its own copy (global mode): cost ≈ a mutation in Redis.
  const writeShare = m.mutations + m.logins;
  const appliedWriteUs = inputs.redisUs.mutations;
  const perCoreRps = 1e6 / apiUs;
  const usableCore = 1 - a.apiOverhead;
  const dataBytes = a.activeSessions * inputs.bytesPerSession;
  const mastersForMemory = Math.ceil(dataBytes / a.redisDataPerMasterBytes);
  const regions = a.regionShares.map((share) => {
    const peakRps = share * a.peakRps;
    // Worst single region lost: its users spread over the others in proportion to their shares.
    const degradedShare = Math.max(...a.regionShares.filter((s) => s !== share).map((lost) => share / (1 - lost)));
    const degradedRps = degradedShare * a.peakRps;
    const apiCores = Math.ceil(Math.max((peakRps * apiUs) / 1e6 / a.apiUtilisation, (degradedRps * apiUs) / 1e6 / a.apiUtilisationDegraded) / usableCore);
    // Redis work in this region: its own requests, plus the writes of the other regions applied here.
    const remoteWrites = (1 - share) * a.peakRps * writeShare;
    const redisBusyUsPerS = Math.max(degradedRps, peakRps) * redisUs + remoteWrites * appliedWriteUs;
    const mastersForCpu = Math.ceil(redisBusyUsPerS / 1e6 / a.redisUtilisation);
    const masters = Math.max(mastersForCpu, mastersForMemory);
    return {
      share,
      peakRps,
      degradedRps: Math.round(degradedRps),
      apiCores,
      redisOpsPerS: Math.round(Math.max(degradedRps, peakRps) + remoteWrites),
      mastersForCpu,
      mastersForMemory,
      masters,
      redisNodes: masters * a.redisCopies,
      redisMemoryBytes: Math.round((dataBytes * a.redisCopies) / a.redisMemoryFill),
    };
  });
  const normalApiCores = Math.ceil(((a.normalRps * apiUs) / 1e6 / a.apiUtilisation / usableCore) * 1);
  return {
    inputs,
    apiUsPerRequest: Math.round(apiUs * 10) / 10,
    redisUsPerRequest: Math.round(redisUs * 10) / 10,
    redisUsPerAppliedWrite: Math.round(appliedWriteUs * 10) / 10,
    perCoreRps: Math.round(perCoreRps),
    regions,
    totals: {
      apiCores: regions.reduce((s, x) => s + x.apiCores, 0),
      redisNodes: regions.reduce((s, x) => s + x.redisNodes, 0),
      redisMemoryBytes: regions.reduce((s, x) => s + x.redisMemoryBytes, 0),
      normalApiCores,
    },
  };
}
