/**
 * What the global mode is built with. `loadConfig` reads it from the
 * environment (`TESSERA_NATS_URL` turns it on); defaults suit production, the
 * simulation and tests shorten the intervals.
 */
import type { CachedPart, TlsFiles } from '../store/session-store.js';

export interface ReplicationSettings {
  /** This region. */
  readonly region: string;
  /** Every region, this one included. */
  readonly regions: readonly string[];
  /** NATS servers, this region's first: the client keeps to that order. Without credentials: those are `natsAuth`. */
  readonly natsUrls: readonly string[];
  /** What the node authenticates with: the URLs' `user:password@` or `token@`, a credentials file or an NKey seed file. @default none */
  readonly natsAuth?: NatsAuth;
  /**
   * TLS towards the NATS servers beyond what a `tls://` URL or the servers ask for: the CA that
   * signed their certificates (else the system's), and this node's certificate and key for servers
   * that verify clients. PEM files. @default none
   */
  readonly natsTls?: TlsFiles;
  /** Monitoring endpoints of the NATS servers (`http://host:8222`), for the replica check; none: no check. */
  readonly natsMonitorUrls: readonly string[];
  /** A name for this node (leases, the NATS connection). */
  readonly nodeId: string;
  /** Data parts written with the global class; the session's existence, devices and tokens always are. @default [] */
  readonly globalParts: readonly CachedPart[];
  /** Streams per origin region and class. @default 4 */
  readonly shards: number;
  /** Replicas of a regional stream, inside its region (fewer when the region has fewer JetStream servers). @default 3 */
  readonly regionalReplicas: number;
  /** How long a stream keeps changes: the longest outage a region can come back from by the log alone. @default 24 h */
  readonly retentionMs: number;
  /** JetStream's de-duplication window (a change published twice within it is stored once). @default 2 min */
  readonly duplicateWindowMs: number;
  /** Longest a global-class write waits for its acknowledgement before it answers 503. @default 5 s */
  readonly globalPublishTimeoutMs: number;
  /** Longest a regional-class write waits to learn its stream position (for its consistency token). @default 250 ms */
  readonly regionalPublishTimeoutMs: number;
  /** Longest a read that presents a consistency token waits for this region to catch up. @default 500 ms */
  readonly consistencyWaitMs: number;
  /** How often the replicas of every stream are compared. @default 15 s */
  readonly replicaCheckIntervalMs: number;
  /** How often this region's sessions are compared with every other region's. @default 60 s */
  readonly repairIntervalMs: number;
  /** Buckets sessions are compared in (a digest per bucket, then per session in the buckets that differ). @default 256 */
  readonly repairBuckets: number;
}

/**
 * A user and password or a token, as the NATS client takes them, or the path of a credentials
 * file (a user JWT and its NKey seed) or of an NKey seed file, read at each connection
 * (`credentials.ts`).
 */
export type NatsAuth =
  | { readonly user: string; readonly pass: string }
  | { readonly token: string }
  | { readonly credsFile: string }
  | { readonly nkeyFile: string };

export const DEFAULT_REPLICATION = {
  globalParts: [] as readonly CachedPart[],
  shards: 4,
  regionalReplicas: 3,
  retentionMs: 24 * 3_600_000,
  duplicateWindowMs: 120_000,
  globalPublishTimeoutMs: 5_000,
  regionalPublishTimeoutMs: 250,
  consistencyWaitMs: 500,
  replicaCheckIntervalMs: 15_000,
  repairIntervalMs: 60_000,
  repairBuckets: 256,
} as const;
