/**
 * Creates the streams at start-up, idempotently, and refuses to go on when
 * the NATS cluster cannot give the guarantees the classes promise: JetStream
 * on, a server tagged `region:<name>` in every configured region, and the
 * global streams' replicas one per region (`unique_tag: "region:"`).
 */
import type { JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { DiscardPolicy, RetentionPolicy, StorageType, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { streamName, subjectOf, type StreamRef } from './layout.js';
import type { ReplicationSettings } from './settings.js';

/** A NATS cluster that cannot hold the streams as the classes need them; the message says what to change. */
export class ReplicationSetupError extends Error {
  constructor(
    message: string,
    options?: { cause?: unknown },
    /** The variables to look at, for the start-up error. */
    readonly variables: readonly string[] = ['TESSERA_NATS_URL', 'TESSERA_REGIONS'],
  ) {
    super(message, options);
    this.name = 'ReplicationSetupError';
  }
}

const nanos = (ms: number): number => ms * 1_000_000;

/** What JetStream answers when no set of servers can hold a stream's replicas as asked (errors 10005, 10023, 10074). */
const PLACEMENT_ERROR = /tags not matched|no suitable peers|insufficient resources|replicas > 1 not supported/i;

function configOf(ref: StreamRef, settings: ReplicationSettings, replicas: number): Partial<StreamConfig> & { name: string } {
  return {
    name: streamName(ref),
    subjects: [subjectOf(ref)],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(settings.retentionMs),
    duplicate_window: nanos(settings.duplicateWindowMs),
    num_replicas: replicas,
    ...(ref.durability === 'regional' ? { placement: { cluster: '', tags: [`region:${ref.origin}`] } } : {}),
  };
}

async function ensure(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    const info = await jsm.streams.info(config.name);
    if (info.config.num_replicas !== config.num_replicas || info.config.max_age !== config.max_age) {
      await jsm.streams.update(config.name, { ...info.config, max_age: config.max_age!, num_replicas: config.num_replicas! });
    }
  } catch (error) {
    if (!/stream not found/i.test(String((error as Error).message))) throw error;
    await jsm.streams.add(config);
  }
}

/**
 * The JetStream manager of `nc`, which asks the servers for the account's
 * JetStream first. A server still starting (or a timeout) is tried again by the
 * caller; JetStream switched off — on the server (nothing answers its API) or for
 * the account — is a setup error: no retry would change it.
 */
export async function openJetStream(nc: NatsConnection): Promise<JetStreamManager> {
  try {
    return await jetstreamManager(nc, { timeout: 5_000 });
  } catch (error) {
    // The client's JetStreamNotEnabled, which its package does not export.
    if (!(error instanceof Error) || error.name !== 'JetStreamNotEnabled') throw error;
    throw new ReplicationSetupError(
      `JetStream is not available on the NATS servers of TESSERA_NATS_URL (${error.message}); start every server with JetStream enabled`,
      { cause: error },
    );
  }
}

/**
 * This region's streams (the others create theirs): its global streams with a
 * replica per region, its regional streams inside it.
 */
export async function ensureStreams(jsm: JetStreamManager, settings: ReplicationSettings): Promise<void> {
  const { region, regions, shards } = settings;
  const regionalServers = new Map<string, Set<string>>();
  for (const origin of regions) regionalServers.set(origin, new Set());

  for (let shard = 0; shard < shards; shard += 1) {
    const ref: StreamRef = { origin: region, durability: 'regional', shard };
    let replicas = settings.regionalReplicas;
    for (;;) {
      try {
        await ensure(jsm, configOf(ref, settings, replicas));
        break;
      } catch (error) {
        const message = String((error as Error).message);
        if (PLACEMENT_ERROR.test(message) && replicas > 1) {
          replicas -= 1;
          continue;
        }
        if (PLACEMENT_ERROR.test(message)) {
          throw new ReplicationSetupError(
            `no JetStream server is tagged "region:${region}": give this region's NATS servers server_tags: ["region:${region}"] (TESSERA_REGION=${region})`,
            { cause: error },
          );
        }
        throw error;
      }
    }
    const info = await jsm.streams.info(streamName(ref));
    for (const name of [info.cluster?.leader, ...(info.cluster?.replicas ?? []).map((r) => r.name)]) {
      if (name !== undefined) regionalServers.get(region)!.add(name);
    }
  }

  for (let shard = 0; shard < shards; shard += 1) {
    const ref: StreamRef = { origin: region, durability: 'global', shard };
    try {
      await ensure(jsm, configOf(ref, settings, regions.length));
    } catch (error) {
      // A timeout or a meta group still electing its leader passes; a cluster that cannot place the replicas does not.
      if (!PLACEMENT_ERROR.test(String((error as Error).message))) throw error;
      throw new ReplicationSetupError(
        `cannot place ${streamName(ref)} with one replica in each of the ${regions.length} regions of TESSERA_REGIONS (${(error as Error).message}); ` +
          'the NATS cluster must span every region, each server tagged "region:<name>", with unique_tag: "region:" in its jetstream block',
        { cause: error },
      );
    }
  }
  await checkPlacement(jsm, settings, regionalServers);
}

/**
 * The global streams' replicas must sit in distinct regions. What region a
 * server is in is known from the regional streams (placed by region tag): a
 * global stream with two replicas on servers of one region means the cluster
 * lacks `unique_tag`.
 */
async function checkPlacement(jsm: JetStreamManager, settings: ReplicationSettings, known: Map<string, Set<string>>): Promise<void> {
  for (const origin of settings.regions) {
    if (origin === settings.region) continue;
    try {
      const info = await jsm.streams.info(streamName({ origin, durability: 'regional', shard: 0 }));
      for (const name of [info.cluster?.leader, ...(info.cluster?.replicas ?? []).map((r) => r.name)]) {
        if (name !== undefined) known.get(origin)?.add(name);
      }
    } catch {
      // That region has not started yet: its servers are not known.
    }
  }
  const regionOf = new Map<string, string>();
  for (const [region, servers] of known) for (const server of servers) regionOf.set(server, region);
  for (let shard = 0; shard < settings.shards; shard += 1) {
    const name = streamName({ origin: settings.region, durability: 'global', shard });
    const info = await jsm.streams.info(name);
    const peers = [info.cluster?.leader, ...(info.cluster?.replicas ?? []).map((r) => r.name)].filter((p): p is string => p !== undefined);
    const regionsOfPeers = peers.map((peer) => regionOf.get(peer)).filter((r): r is string => r !== undefined);
    if (new Set(regionsOfPeers).size < regionsOfPeers.length) {
      throw new ReplicationSetupError(
        `${name} has two replicas in one region (${peers.join(', ')}): set unique_tag: "region:" in the jetstream block of every NATS server`,
      );
    }
  }
}
