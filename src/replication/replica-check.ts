/**
 * Compares the replicas of this region's streams, server by server, because
 * JetStream 2.9.10 does not: after a partition and heal, a replica was seen to
 * stay messages short without a warning, and a leader moved onto it lost
 * acknowledged messages. Every server's own view of each stream comes from its
 * monitoring endpoint (`/jsz?streams=true`). A replica that the leader takes
 * for current, yet that has not reached even what the leader held at the
 * previous check, at two checks in a row that each follow new writes, is
 * removed from the stream's peers, so it can never lead, and JetStream places
 * and fills a fresh one (on another server of its region; with a single server
 * there is none, and the stream goes on with the others). One check is not
 * enough: a replica just back from a restart or a cut is short at the first
 * check after it returns and has caught up by the next, and in a quiet stream
 * a healthy follower can stay a message behind. Removing such replicas took a
 * region's only replica of a stream away for good (D79). A leader that is
 * behind one of its replicas steps down. What the stream lost meanwhile is the
 * repair's to restore (`anti-entropy.ts`), from the stores.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { streamName } from './layout.js';
import type { ReplicationObserver } from './observer.js';
import type { ReplicationSettings } from './settings.js';

export interface ServerView {
  readonly server: string;
  readonly lastSeq: number;
  readonly leader: string | undefined;
  /** The leader's view of the other replicas: those it knows to be catching up or away. */
  readonly behind: ReadonlySet<string>;
}

interface JszStream {
  readonly name: string;
  readonly cluster?: {
    readonly leader?: string;
    /** `active`: nanoseconds since the leader last heard from the replica (2.9.10 keeps `current` true through a cut). */
    readonly replicas?: ReadonlyArray<{ readonly name: string; readonly current?: boolean; readonly offline?: boolean; readonly active?: number }>;
  };
  readonly state?: { readonly last_seq?: number };
}

/** A replica the leader has not heard from for this long is away (cut off, down), not silently short. */
const UNHEARD_NS = 3_000_000_000;

/** Checks in a row at which a replica must be short before it is removed (see the top of this file). */
export const SHORT_CHECKS = 2;

/** What the checks of one stream remember from one to the next. */
export interface StreamMemory {
  /** The leader's last sequence at the previous check. */
  leaderSeq?: number;
  /** server → checks in a row at which its replica was short while the leader took it for current. */
  readonly strikes: Map<string, number>;
}

export type Verdict =
  | { readonly action: 'leader-stepped-down'; readonly server: string; readonly leaderSeq: number; readonly replicaSeq: number }
  | { readonly action: 'peer-removed'; readonly server: string; readonly behind: number };

/**
 * One check of one stream, from every server's view of it: the leader to step
 * down, or the replicas to remove (and `memory` updated for the next check).
 * `gap` reports every replica's distance behind the leader, for the metrics.
 */
export function judgeStream(replicas: readonly ServerView[], memory: StreamMemory, gap: (server: string, behind: number) => void = () => undefined): Verdict[] {
  const leaderName = replicas.find((v) => v.leader !== undefined)?.leader;
  const leader = replicas.find((v) => v.server === leaderName);
  // Strikes count checks in a row: one that cannot judge a replica (no leader, the server away) starts its count again.
  for (const server of memory.strikes.keys()) if (leader === undefined || !replicas.some((v) => v.server === server)) memory.strikes.delete(server);
  if (leader === undefined || replicas.length < 2) return [];
  const ahead = Math.max(...replicas.map((v) => v.lastSeq));
  // The leader lacks what a replica holds: it must not stay leader.
  if (leader.lastSeq < ahead) {
    memory.strikes.clear();
    return [{ action: 'leader-stepped-down', server: leader.server, leaderSeq: leader.lastSeq, replicaSeq: ahead }];
  }
  const earlier = memory.leaderSeq;
  memory.leaderSeq = leader.lastSeq;
  const verdicts: Verdict[] = [];
  for (const replica of replicas) {
    const behind = leader.lastSeq - replica.lastSeq;
    gap(replica.server, Math.max(0, behind));
    // Only an interval in which the leader appended can tell: a follower may apply the last entry it
    // holds only when the next one arrives, so in a quiet stream a healthy one can stay a message
    // behind (every wrongful removal seen in the simulations was one message behind, the load stopped).
    if (earlier === undefined || leader.lastSeq <= earlier) continue;
    // Short: below even what the leader held a whole interval ago, not lagging behind writes. Only a
    // replica the leader takes for current can be short unnoticed: one it knows is catching up or cut
    // off (a partition) will be filled by JetStream itself.
    if (replica.lastSeq >= earlier || leader.behind.has(replica.server)) {
      memory.strikes.delete(replica.server);
      continue;
    }
    const strikes = (memory.strikes.get(replica.server) ?? 0) + 1;
    if (strikes < SHORT_CHECKS) {
      memory.strikes.set(replica.server, strikes);
      continue;
    }
    memory.strikes.delete(replica.server);
    verdicts.push({ action: 'peer-removed', server: replica.server, behind });
  }
  return verdicts;
}

export class ReplicaCheck {
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  /** stream → what its previous checks saw. */
  readonly #memory = new Map<string, StreamMemory>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly settings: ReplicationSettings,
    private readonly logger: Logger,
    private readonly observer: ReplicationObserver,
  ) {}

  start(): void {
    this.#timer ??= setInterval(() => {
      this.#running ??= this.checkOnce()
        .then(() => undefined)
        .catch((error: unknown) => this.logger.warn({ err: error }, 'comparing stream replicas failed'))
        .finally(() => {
          this.#running = null;
        });
    }, this.settings.replicaCheckIntervalMs);
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  /** One comparison of every stream of this region; returns the repairs made (for tests and logs). */
  async checkOnce(): Promise<Array<{ stream: string; server: string; action: Verdict['action'] }>> {
    const views = await this.#views();
    const actions: Array<{ stream: string; server: string; action: Verdict['action'] }> = [];
    for (const durability of ['global', 'regional'] as const) {
      for (let shard = 0; shard < this.settings.shards; shard += 1) {
        const stream = streamName({ origin: this.settings.region, durability, shard });
        const replicas = views.get(stream) ?? [];
        let memory = this.#memory.get(stream);
        if (memory === undefined) this.#memory.set(stream, (memory = { strikes: new Map() }));
        for (const verdict of judgeStream(replicas, memory, (server, behind) => this.observer.replicaBehind(stream, server, behind))) {
          actions.push({ stream, server: verdict.server, action: verdict.action });
          if (verdict.action === 'leader-stepped-down') {
            this.logger.error({ stream, leader: verdict.server, leaderSeq: verdict.leaderSeq, replicaSeq: verdict.replicaSeq }, 'a stream leader is behind one of its replicas: stepping it down');
            await this.nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: 5_000 }).catch(() => undefined);
          } else {
            this.logger.error({ stream, server: verdict.server, behind: verdict.behind }, 'a stream replica stays behind its leader: removing it so a fresh one is filled');
            await this.nc
              .request(`$JS.API.STREAM.PEER.REMOVE.${stream}`, JSON.stringify({ peer: verdict.server }), { timeout: 5_000 })
              .catch((error: unknown) => this.logger.warn({ err: error, stream }, 'removing a short replica failed'));
          }
        }
      }
    }
    return actions;
  }

  /** Each server's view of the streams it holds. */
  async #views(): Promise<Map<string, ServerView[]>> {
    const views = new Map<string, ServerView[]>();
    await Promise.all(
      this.settings.natsMonitorUrls.map(async (url) => {
        try {
          const [varz, jsz] = await Promise.all([
            fetchJson(`${url}/varz`) as Promise<{ server_name?: string }>,
            fetchJson(`${url}/jsz?streams=true`) as Promise<{ account_details?: Array<{ stream_detail?: JszStream[] }> }>,
          ]);
          const server = varz.server_name ?? url;
          for (const account of jsz.account_details ?? []) {
            for (const stream of account.stream_detail ?? []) {
              const list = views.get(stream.name) ?? [];
              const behind = new Set(
                (stream.cluster?.replicas ?? []).filter((r) => r.current !== true || r.offline === true || (r.active ?? 0) > UNHEARD_NS).map((r) => r.name),
              );
              list.push({ server, lastSeq: stream.state?.last_seq ?? 0, leader: stream.cluster?.leader, behind });
              views.set(stream.name, list);
            }
          }
        } catch {
          // A server that does not answer has no view to compare; NATS itself reports it down.
        }
      }),
    );
    return views;
  }
}

async function fetchJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}
