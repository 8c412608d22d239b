/**
 * How changes are laid out in NATS JetStream: a fixed number of streams per
 * origin region and durability class, never a subject or stream per session.
 *
 *   TESSERA_G_<origin>_<shard>   global class: one replica in every region
 *                                (`unique_tag: "region:"`), acknowledged by a
 *                                majority of regions before a write returns
 *   TESSERA_R_<origin>_<shard>   regional class: replicas inside the origin
 *                                region (placement tag `region:<origin>`); the
 *                                origin's whole feed, in feed order
 *
 * Subjects are `tessera.<g|r>.<origin>.<shard>`; a session's shard is a hash of
 * its id, so one session's changes of one class stay in one stream, in order.
 * Each message is one change (`domain/parts.ts` `Change`) as JSON, with the
 * change's id as `Nats-Msg-Id`, so that a change published twice — by the
 * writer and again by the relay, or after a timeout — is stored once.
 */
import { hash } from 'node:crypto';
import type { Change } from '../domain/parts.js';

export type DurabilityClass = 'global' | 'regional';

const CLASS_LETTER: Readonly<Record<DurabilityClass, 'G' | 'R'>> = { global: 'G', regional: 'R' };

export interface StreamRef {
  readonly origin: string;
  readonly durability: DurabilityClass;
  readonly shard: number;
}

export function streamName({ origin, durability, shard }: StreamRef): string {
  return `TESSERA_${CLASS_LETTER[durability]}_${origin}_${shard}`;
}

export function subjectOf({ origin, durability, shard }: StreamRef): string {
  return `tessera.${CLASS_LETTER[durability].toLowerCase()}.${origin}.${shard}`;
}

/** Which of `shards` streams a session's changes go to. */
export function shardOf(sessionId: string, shards: number): number {
  return Number.parseInt(hash('sha1', sessionId, 'hex').slice(0, 8), 16) % shards;
}

/** Every stream of every region, for appliers and checks. */
export function allStreams(regions: readonly string[], shards: number): StreamRef[] {
  const streams: StreamRef[] = [];
  for (const origin of regions) {
    for (const durability of ['global', 'regional'] as const) {
      for (let shard = 0; shard < shards; shard += 1) streams.push({ origin, durability, shard });
    }
  }
  return streams;
}

export function encodeChange(change: Change): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(change));
}

/** A change as published; throws on anything else (a message that is not Tessera's). */
export function decodeChange(data: Uint8Array): Change {
  const change = JSON.parse(new TextDecoder().decode(data)) as Change;
  if (typeof change.sessionId !== 'string' || typeof change.hlc !== 'string' || typeof change.origin !== 'string' || !Array.isArray(change.records)) {
    throw new TypeError('not a Tessera change');
  }
  return change;
}

/**
 * The consistency token a write answers with (`Tessera-Consistency`): where
 * the change was stored — `<origin>.<g|r>.<shard>.<sequence>` — so that a read
 * in another region can wait until its appliers have passed that point.
 */
export function formatToken(ref: StreamRef, sequence: number): string {
  return `${ref.origin}.${CLASS_LETTER[ref.durability].toLowerCase()}.${ref.shard}.${sequence}`;
}

export function parseToken(token: string): { readonly ref: StreamRef; readonly sequence: number } | null {
  const match = /^([A-Za-z0-9_-]{1,32})\.([gr])\.(\d{1,4})\.(\d{1,16})$/.exec(token);
  if (match === null) return null;
  const ref: StreamRef = { origin: match[1]!, durability: match[2] === 'g' ? 'global' : 'regional', shard: Number(match[3]) };
  return { ref, sequence: Number(match[4]) };
}
