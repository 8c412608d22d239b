/** What the runner needs from each system under test. */
import type { SeedResult, SeedProgress } from '../dataset/seed.js';

export type TargetId =
  | 'tessera-redis'
  | 'tessera-cluster'
  | 'tessera-sqlite'
  | 'tessera-redis-traced'
  | 'tessera-sqlite-traced'
  | 'fastify-hello'
  | 'express-session'
  | 'redis-floor';

/** A traced target and the one it is compared with: the same engine with tracing off. */
export const TRACED_TARGETS: Partial<Record<TargetId, TargetId>> = {
  'tessera-redis-traced': 'tessera-redis',
  'tessera-sqlite-traced': 'tessera-sqlite',
};

export const TARGET_LABEL: Record<TargetId, string> = {
  'tessera-redis': 'Tessera · Redis',
  'tessera-cluster': 'Tessera · Redis Cluster',
  'tessera-sqlite': 'Tessera · SQLite',
  'tessera-redis-traced': 'Tessera · Redis, traced 1 %',
  'tessera-sqlite-traced': 'Tessera · SQLite, traced 1 %',
  'fastify-hello': 'Fastify hello-world',
  'express-session': 'express-session + connect-redis',
  'redis-floor': 'Fastify + one Redis command (floor)',
};

export const TARGET_DESCRIPTION: Record<TargetId, string> = {
  'tessera-redis': 'Tessera (compiled JavaScript, run with node) on one redis-server; L1 cache on (the default for Redis).',
  'tessera-cluster': 'Tessera on a 6-node Redis Cluster (3 masters + 3 replicas) on this machine; L1 cache on.',
  'tessera-sqlite': 'Tessera on the embedded SQLite engine (WAL, one file in a temp folder); L1 cache off (the default).',
  'tessera-redis-traced':
    'tessera-redis with OpenTelemetry tracing on: OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=0.01, OTLP/HTTP protobuf to a receiver in the runner that discards what it gets.',
  'tessera-sqlite-traced': 'tessera-sqlite with the same tracing settings as tessera-redis-traced.',
  'fastify-hello': 'HTTP ceiling: Fastify 5 answering every route with a small JSON after checking the bearer key. No store.',
  'express-session':
    'Ecosystem default: Express 5 + express-session 1.19 + connect-redis 9 on node-redis 5 and one redis-server; the same session shape stored as one JSON document.',
  'redis-floor':
    'Diagnostic floor, not a product: Fastify + node-redis, a read is one GET of the pre-rendered cart+prefs JSON sent back unparsed, a write is one HSET. The least any Redis-backed session service does.',
};

export interface StoreFootprint {
  /** Bytes the store holds for its data: Redis used_memory (masters only), SQLite file + WAL. */
  readonly bytes: number;
  readonly what: string;
}

/** Where a target keeps its sessions, for snapshots of seeded data. */
export type StoreHandle =
  | { readonly kind: 'redis'; readonly url: string }
  | { readonly kind: 'sqlite'; readonly path: string };

/** The server's heap and garbage-collection totals, from its Prometheus metrics (Tessera only). */
export interface RuntimeStats {
  readonly heapUsedBytes: number;
  readonly gcMajorCount: number;
  /** Major collections longer than 100 ms. */
  readonly gcMajorOver100ms: number;
  readonly gcMajorSeconds: number;
  readonly gcMinorSeconds: number;
  /** Requests Tessera answered (every route), and those it took over `SLOW_MS` for, from first byte parsed to reply sent. */
  readonly requests: { readonly count: number; readonly slow: number };
  /** Calls to Redis, and those over `SLOW_MS`, retries included. */
  readonly storeCalls: { readonly count: number; readonly slow: number };
  /** The event loop's largest delay since the last scrape (prom-client resets it when scraped), seconds. */
  readonly loopDelayMaxSeconds: number;
}

/** Where the report splits slow requests from the rest: a bucket bound of Tessera's latency histograms. */
export const SLOW_MS = 25;

/** Per-command execution time inside the store (Redis INFO commandstats), for "where the time goes". */
export interface StoreCommandStats {
  reset(): Promise<void>;
  read(): Promise<ReadonlyArray<{ readonly command: string; readonly calls: number; readonly usec: number }>>;
}

export interface Target {
  readonly id: TargetId;
  readonly origin: string;
  /** Lower-case header carrying the end-user credential. */
  readonly credentialHeader: string;
  /** Processes to account CPU to, by role ('server', 'store'). */
  readonly pids: ReadonlyMap<string, readonly number[]>;
  seed(count: number, dataSeed: number, onProgress: (p: SeedProgress) => void): Promise<SeedResult>;
  footprint(): Promise<StoreFootprint | null>;
  /** Null while the server runs; else how it ended and what it printed last. */
  exitReport(): string | null;
  /** The store, when seeded data can be snapshotted (a Redis URL may be a cluster seed). */
  readonly store?: StoreHandle;
  readonly commandStats?: StoreCommandStats;
  runtimeStats?(): Promise<RuntimeStats | null>;
  /** A server without `runtimeStats`: its event loop's largest delay since the last call, ms. */
  loopDelayMaxMs?(): Promise<number | null>;
  /** Waits for the store's background work after seeding (AOF rewrite, replica sync) to finish. */
  settle?(): Promise<void>;
  /** Targets of one family store seeded data identically and share a snapshot (default: the id). */
  readonly snapshotFamily?: string;
  /**
   * Restarts the server process (not the store) with extra Node options, e.g.
   * --cpu-prof; `whileStopped` runs between stop and start.
   */
  restartServer?(nodeOptions: readonly string[], whileStopped?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

export interface TargetContext {
  readonly apiKey: string;
  /** How to start Tessera: a built `node dist/src/main.js` or `node --import tsx src/main.ts`. */
  readonly tessera: { readonly command: string; readonly args: readonly string[] };
  readonly tmpDir: string;
}
