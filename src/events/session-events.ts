/**
 * Session events, derived from the changes a store commits to its feed: no
 * event is written anywhere but in the change that caused it, so an event
 * exists exactly when its change does (D46), and is delivered from the feed
 * after the change committed.
 *
 * What a change says, and the event it makes:
 *   - a session's creation, or a device added (a device record at
 *     generation 0, stamped by the change) → `session.signed_in`;
 *   - a device record at a later generation, stamped by the change →
 *     `session.rotated` (a step-up re-authentication too: it moves
 *     `authenticatedAt`, which the event carries);
 *   - a device record newly revoked, by its reason: `reuse` →
 *     `session.token_reused`, `logout` → `session.logged_out`, any other →
 *     `session.device_revoked` (reason `revoked`, `admin` or `limit`);
 *   - a metadata record that ends the session → `session.ended` (reason
 *     `ended` by the user, `admin`, or `erased`) — or, for a guest session
 *     merged into a user's at sign-in, `session.guest_merged` on the user's;
 *   - activity (a device record not stamped by the change, a slide of the
 *     metadata), carts, preferences and history → nothing.
 *
 * Expiry makes no event: it is the absence of a change, which no engine
 * records (Redis lets keys lapse by themselves), and every answer tells the
 * app when a session or device expires (docs/decisions.md).
 *
 * Events are about users' sessions: a guest session's changes make none.
 */
import { mergeDevices, type DeviceState, type DevicesState } from '../domain/devices.js';
import { decodeHlc } from '../domain/hlc.js';
import { isoTime } from '../domain/iso-time.js';
import { changeId, type Change } from '../domain/parts.js';
import type { SessionMeta } from '../domain/session.js';

export type SessionEventType =
  | 'session.signed_in'
  | 'session.rotated'
  | 'session.token_reused'
  | 'session.device_revoked'
  | 'session.logged_out'
  | 'session.ended'
  | 'session.guest_merged';

export const SESSION_EVENT_TYPES: readonly SessionEventType[] = [
  'session.signed_in',
  'session.rotated',
  'session.token_reused',
  'session.device_revoked',
  'session.logged_out',
  'session.ended',
  'session.guest_merged',
];

/** A delivery's payload (Standard Webhooks: `type`, `timestamp`, `data`). */
export interface SessionEvent {
  /** Unique per event: the change's id and the event's place in it; the `webhook-id` of its deliveries. */
  readonly id: string;
  readonly type: SessionEventType;
  /** When the change was made (its stamp's wall time). */
  readonly timestamp: string;
  readonly data: SessionEventData;
}

export interface SessionEventData {
  readonly sessionId: string;
  readonly userId: string | null;
  readonly deviceId?: string;
  /** `session.signed_in`: the new device as it labelled itself. */
  readonly device?: { readonly name?: string; readonly kind?: string; readonly country?: string };
  /** `session.signed_in`, `session.rotated`: the device's token generation. */
  readonly generation?: number;
  readonly authenticatedAt?: string;
  readonly authLevel?: string;
  readonly persistent?: boolean;
  /** `session.device_revoked`, `session.ended`: why. */
  readonly reason?: string;
  readonly revokedAt?: string;
  /** `session.ended`: the devices logged out with it. */
  readonly deviceIds?: readonly string[];
  /** `session.guest_merged`: the guest session whose cart and history were merged in, and that ended. */
  readonly guestSessionId?: string;
  readonly endedAt?: string;
}

/** What the deriver needs besides the change: the session's user, when the change does not say. */
export type UserOf = (sessionId: string) => Promise<string | null>;

/**
 * The events of one change, in a fixed order (so their ids are stable when a
 * change is read again). `userOf` is asked only when the change holds no
 * metadata; a session with no user (a guest's) makes no event, but a guest
 * merged into a user's session makes `session.guest_merged` on that one.
 */
export async function eventsOf(change: Change, userOf: UserOf): Promise<SessionEvent[]> {
  const metas = change.records.filter((r) => r.part === 'meta').map((r) => r.state as SessionMeta);
  let devices: DevicesState = { devices: {} };
  for (const record of change.records) if (record.part === 'devices') devices = mergeDevices(devices, record.state as DevicesState);
  const ended = metas.find((m) => m.endedAt !== undefined);
  const timestamp = isoTime(decodeHlc(change.hlc).wall);
  const drafts: Array<Omit<SessionEvent, 'id' | 'timestamp' | 'data'> & { data: Omit<SessionEventData, 'userId' | 'sessionId'> & { sessionId?: string } }> = [];
  const entries = Object.entries(devices.devices).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

  const merged = entries.map(([, d]) => d.revokedFor).find((reason) => reason?.startsWith('merged:'));
  if (ended !== undefined && merged !== undefined) {
    // A guest session merged into a user's at sign-in: an event of the user's session.
    const into = merged.slice('merged:'.length);
    const userId = await userOf(into);
    if (userId === null) return [];
    return [{ id: `${changeId(change)}#0`, type: 'session.guest_merged', timestamp, data: { sessionId: into, userId, guestSessionId: change.sessionId, endedAt: isoTime(ended.endedAt!) } }];
  }

  if (ended !== undefined) {
    const reason = entries.map(([, d]) => d.revokedFor).find((r) => r !== undefined) ?? 'ended';
    drafts.push({ type: 'session.ended', data: { reason, endedAt: isoTime(ended.endedAt!), deviceIds: entries.map(([id]) => id) } });
  } else {
    for (const [deviceId, device] of entries) {
      const draft = deviceEvent(deviceId, device, change);
      if (draft !== null) drafts.push(draft);
    }
  }
  if (drafts.length === 0) return [];
  const userId = metas.find((m) => m.userId !== null)?.userId ?? (await userOf(change.sessionId));
  if (userId === null) return [];
  return drafts.map((draft, i) => ({
    id: `${changeId(change)}#${i}`,
    type: draft.type,
    timestamp,
    data: { sessionId: change.sessionId, userId, ...draft.data },
  }));
}

function deviceEvent(deviceId: string, device: DeviceState, change: Change) {
  if (device.revokedAt !== undefined) {
    const revokedAt = isoTime(device.revokedAt);
    if (device.revokedFor === 'reuse') return { type: 'session.token_reused' as const, data: { deviceId, revokedAt } };
    if (device.revokedFor === 'logout') return { type: 'session.logged_out' as const, data: { deviceId, revokedAt } };
    return { type: 'session.device_revoked' as const, data: { deviceId, revokedAt, reason: device.revokedFor ?? 'revoked' } };
  }
  // A device's stamp moves only with its token: a record stamped otherwise is activity.
  if (device.t !== change.hlc) return null;
  const auth = {
    generation: device.gen,
    authenticatedAt: isoTime(device.authenticatedAt ?? device.createdAt),
    ...(device.authLevel !== undefined ? { authLevel: device.authLevel } : {}),
  };
  if (device.gen > 0) return { type: 'session.rotated' as const, data: { deviceId, ...auth } };
  const label = {
    ...(device.name !== undefined ? { name: device.name } : {}),
    ...(device.kind !== undefined ? { kind: device.kind } : {}),
    ...(device.country !== undefined ? { country: device.country } : {}),
  };
  const persistent = device.idleTimeoutMs === undefined && device.absoluteExpiresAt === undefined;
  return { type: 'session.signed_in' as const, data: { deviceId, device: label, ...auth, persistent } };
}
