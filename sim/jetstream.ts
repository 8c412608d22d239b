/**
 * JetStream helpers shared by the simulation's tests and `sim/measure-nats.ts`:
 * clients on a region's server, stream placement, leader moves, and each
 * replica's own view of a stream (from its server's /jsz).
 */
import { jetstreamManager, JetStreamApiError, type JetStreamManager, type StreamConfig, type StreamInfo } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Sim } from './harness.js';
import { waitUntil } from './processes.js';

/** A client connected to one region's server only (directly, no reconnect elsewhere), as one of `natsUsers` if given. */
export function connectTo(sim: Sim, region: string, name = `sim-${region}`, as?: { readonly user: string; readonly password: string }): Promise<NatsConnection> {
  return connect({ servers: sim.region(region).natsUrl, name, maxReconnectAttempts: -1, reconnectTimeWait: 250, ...(as && { user: as.user, pass: as.password }) });
}

/** The server names holding a stream: leader first, then the other replicas. */
export function replicaServers(info: StreamInfo): string[] {
  const cluster = info.cluster;
  if (cluster === undefined) return [];
  return [...(cluster.leader ? [cluster.leader] : []), ...(cluster.replicas ?? []).map((r) => r.name)];
}

/** JetStream's "system temporarily unavailable": the meta group has no leader, as for seconds after a heal on nats-server 2.9.10 (no pre-vote). */
const META_LEADERLESS = 10008;

/**
 * Adds a stream, retrying while JetStream's meta group elects a leader or the
 * request times out (both pass within seconds of a heal); any other refusal,
 * such as replicas that cannot be placed, is thrown at once.
 */
export async function addStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }, timeoutMs = 30_000): Promise<StreamInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await jsm.streams.add(config);
    } catch (error) {
      const passing = apiErrorCode(error) === META_LEADERLESS || (error as Error).name === 'TimeoutError';
      if (!passing || Date.now() >= deadline) throw error;
      await sleep(250);
    }
  }
}

/** Waits until the stream has a leader (after creation, a step-down or a failure). */
export async function waitForLeader(jsm: JetStreamManager, stream: string, timeoutMs = 30_000): Promise<StreamInfo> {
  let info: StreamInfo | undefined;
  await waitUntil(`stream ${stream} to have a leader`, timeoutMs, async () => {
    info = await jsm.streams.info(stream);
    return info.cluster?.leader ? null : 'no leader';
  }, 100);
  return info!;
}

/**
 * Asks the stream's leader to step down and waits for a leader other than the old one.
 * Returns the new leader, or null when no other leader was elected within `timeoutMs`.
 */
export async function stepDown(nc: NatsConnection, jsm: JetStreamManager, stream: string, timeoutMs = 15_000): Promise<string | null> {
  const before = (await waitForLeader(jsm, stream)).cluster?.leader;
  try {
    await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: 5_000 });
  } catch {
    // The answer can be lost in the election; what counts is who leads afterwards.
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const leader = (await jsm.streams.info(stream)).cluster?.leader;
      if (leader && leader !== before) return leader;
    } catch {
      // no leader for a moment
    }
    await sleep(100);
  }
  return null;
}

/**
 * Steps the leader down until `wanted` leads; returns how many step-downs it took, or null after
 * `maxTries`. Before each step-down it lets `wanted` catch up: a replica that is behind (after a
 * kill or a cut, for seconds) cannot be elected, and stepping down meanwhile only moves the
 * leader between the others.
 */
export async function moveLeaderTo(nc: NatsConnection, jsm: JetStreamManager, stream: string, wanted: string, maxTries = 12): Promise<number | null> {
  for (let tries = 0; tries <= maxTries; tries += 1) {
    if ((await waitForLeader(jsm, stream)).cluster?.leader === wanted) return tries;
    if (tries === maxTries) break;
    await waitForCurrent(jsm, stream, wanted, 15_000);
    await stepDown(nc, jsm, stream);
  }
  return null;
}

/** Waits (at most `timeoutMs`, then goes on) until `server`'s replica of the stream is current, or leads it. */
async function waitForCurrent(jsm: JetStreamManager, stream: string, server: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const cluster = (await jsm.streams.info(stream)).cluster;
      if (cluster?.leader === server || cluster?.replicas?.some((replica) => replica.name === server && replica.current)) return;
    } catch {
      // no leader for a moment
    }
    await sleep(200);
  }
}

export interface ReplicaState {
  readonly server: string;
  readonly messages: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly leader: string | null;
}

/** Each running server's own copy of `stream` (from its /jsz), by server name; servers without one are left out. */
export async function replicaStates(sim: Sim, stream: string): Promise<ReplicaState[]> {
  const states: ReplicaState[] = [];
  for (const region of sim.regions) {
    try {
      const response = await fetch(`${region.natsMonitorUrl}/jsz?accounts=true&streams=true`, { signal: AbortSignal.timeout(2000) });
      const jsz = (await response.json()) as {
        account_details?: { stream_detail?: { name: string; cluster?: { leader?: string }; state: { messages: number; first_seq: number; last_seq: number } }[] }[];
      };
      for (const account of jsz.account_details ?? []) {
        for (const detail of account.stream_detail ?? []) {
          if (detail.name !== stream) continue;
          states.push({
            server: region.name,
            messages: detail.state.messages,
            firstSeq: detail.state.first_seq,
            lastSeq: detail.state.last_seq,
            leader: detail.cluster?.leader ?? null,
          });
        }
      }
    } catch {
      // the server is down or cut off from us: no state from it
    }
  }
  return states;
}

/**
 * Every message of the stream as the current leader holds it, by sequence: `STREAM.MSG.GET`,
 * which only the leader answers in 2.9.10 (no `allow_direct`), many requests in flight. With
 * `header`, the value of that header of each message (e.g. `Nats-Msg-Id`) instead of its body.
 */
export async function readStream(jsm: JetStreamManager, stream: string, header?: string): Promise<Map<number, string>> {
  const info = await waitForLeader(jsm, stream);
  const bySeq = new Map<number, string>();
  let next = info.state.first_seq;
  const worker = async (): Promise<void> => {
    while (next <= info.state.last_seq) {
      const seq = next;
      next += 1;
      const message = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (message) bySeq.set(seq, header === undefined ? message.string() : (message.header.get(header) ?? ''));
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return bySeq;
}

/** The JetStream API error code of `error` (e.g. 10071 wrong last sequence), or null when it is not one. */
export function apiErrorCode(error: unknown): number | null {
  return error instanceof JetStreamApiError ? error.code : null;
}

export { jetstreamManager };
