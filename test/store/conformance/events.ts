/**
 * Session events derived from each engine's own feed (what webhooks deliver):
 * the records a Lua script wrote must say what the TypeScript engine's say —
 * sign-in, rotation and step-up, revocations and their reasons, the end —
 * and activity, carts and guests must say nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventsOf, type SessionEvent } from '../../../src/events/session-events.js';
import type { SessionStore } from '../../../src/store/session-store.js';
import { admin, applied, CONSUMER, randomHash, settings, signIn, stamp, useStore, type StoreFactory } from './support.js';

/** The events of every change not yet acknowledged, acknowledged now. */
async function drainEvents(store: SessionStore): Promise<SessionEvent[]> {
  const userOf = async (id: string) => (await store.snapshot(id))?.meta.userId ?? null;
  const events: SessionEvent[] = [];
  for (;;) {
    // A cluster learns of new entries from a slot's bell (or its next sweep): wait a little for them.
    const entries = await store.feed!.read(CONSUMER, 500, SETTLE_MS);
    if (entries.length === 0) return events;
    for (const entry of entries) events.push(...(await eventsOf(entry.change, userOf)));
    await store.feed!.ack(CONSUMER, entries);
  }
}

/** Long enough for a cluster's feed reader to hear a bell, or to sweep every slot again (once a second before it hears them). */
const SETTLE_MS = 1_500;

export function eventsSuite(makeStore: StoreFactory): void {
  describe('session events from the feed', () => {
    const store = useStore(makeStore, settings({ devices: 2 }));

    it('say what happened to a user’s session, and nothing of activity, carts or guests', async () => {
      await drainEvents(store());
      const userId = `events-${Math.random()}`;
      const guest = await signIn(store());
      await applied(store(), guest.id, guest.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
      const laptop = await signIn(store(), { userId, label: { name: 'laptop', country: 'DE' }, auth: { authLevel: 'pwd' } });
      const phone = await signIn(store(), { userId, auth: { transient: { idleTimeoutMs: 60_000, absoluteExpiresAt: Date.now() + 600_000 } } });
      await applied(store(), laptop.id, laptop.caller, { kind: 'cart.add', sku: 'B', quantity: 1 });
      await store().touch(laptop.id, laptop.deviceId, Date.now() + 1, stamp());
      const next = randomHash();
      await applied(store(), laptop.id, laptop.caller, { kind: 'device.rotate', deviceId: laptop.deviceId, hash: next, graceMs: 1_000, reauth: { authLevel: 'otp' } });
      const third = await signIn(store(), { userId, atDeviceLimit: 'end-least-recent' });
      await applied(store(), laptop.id, admin, { kind: 'device.revoke', deviceId: third.deviceId, reason: 'reuse' });
      await applied(store(), laptop.id, admin, { kind: 'session.end', reason: 'admin' });

      const events = await drainEvents(store());
      assert.ok(events.every((e) => e.data.userId === userId && e.data.sessionId === laptop.id), 'only the user’s session');
      const summary = events.map((e) => [e.type, e.data.deviceId, e.data.reason].filter(Boolean).join(' '));
      // In commit order; the sign-in at the limit ended the least recently active device in the same change.
      const limitChange = summary.slice(3, 5).sort();
      assert.deepEqual(
        [...summary.slice(0, 3), ...limitChange, ...summary.slice(5)],
        [
          `session.signed_in ${laptop.deviceId}`,
          `session.signed_in ${phone.deviceId}`,
          `session.rotated ${laptop.deviceId}`,
          ...[`session.device_revoked ${phone.deviceId} limit`, `session.signed_in ${third.deviceId}`].sort(),
          `session.token_reused ${third.deviceId}`,
          'session.ended admin',
        ],
      );
      const [first, second, rotated] = events;
      assert.deepEqual(first!.data.device, { name: 'laptop', country: 'DE' });
      assert.deepEqual([first!.data.authLevel, first!.data.persistent, second!.data.persistent], ['pwd', true, false]);
      assert.deepEqual([rotated!.data.generation, rotated!.data.authLevel], [1, 'otp']);
      assert.deepEqual(events.at(-1)!.data.deviceIds, [laptop.deviceId]);
      assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'ids are unique');
    });

    it('the feed lease lets one node read a consumer at a time: renewed by its holder, free once given up or lapsed', async () => {
      const feed = store().feed!;
      const consumer = `lease-${Math.random()}`;
      assert.equal(await feed.lease(consumer, 'node-a', 60_000), true);
      assert.equal(await feed.lease(consumer, 'node-b', 60_000), false, 'held by another');
      assert.equal(await feed.lease(consumer, 'node-a', 60_000), true, 'renewed by its holder');
      assert.equal(await feed.lease(consumer, 'node-b', 0), false, 'only the holder gives it up');
      assert.equal(await feed.lease(consumer, 'node-a', 0), false, 'given up');
      assert.equal(await feed.lease(consumer, 'node-b', 100), true, 'taken by the next');
      await new Promise((done) => setTimeout(done, 150));
      assert.equal(await feed.lease(consumer, 'node-c', 60_000), true, 'taken once lapsed');
    });

    it('a guest merged into a user’s session is an event of the user’s session', async () => {
      await drainEvents(store());
      const userId = `merge-${Math.random()}`;
      const user = await signIn(store(), { userId });
      const guest = await signIn(store());
      await applied(store(), guest.id, admin, { kind: 'session.end', reason: `merged:${user.id}` });
      const events = await drainEvents(store());
      // Two sessions: on a cluster, two slots, whose feeds are read in no set order.
      const seen = events.map((e) => [e.type, e.data.sessionId, e.data.userId, e.data.guestSessionId]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      assert.deepEqual(seen, [
        ['session.guest_merged', user.id, userId, guest.id],
        ['session.signed_in', user.id, userId, undefined],
      ]);
    });
  });
}
