/** A user's data for privacy requests: every session of theirs found, and erased to tombstones that name no one. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Change } from '../../../src/domain/parts.js';
import type { SessionStore } from '../../../src/store/session-store.js';
import { admin, applied, CONSUMER, settings, signIn, stamp, useStore, type StoreFactory } from './support.js';

/** Every change the consumer has not acknowledged, acknowledged now. */
async function drain(store: SessionStore): Promise<Change[]> {
  const all: Change[] = [];
  for (;;) {
    // A cluster learns of new entries from a slot's bell (or its next sweep): wait a little for them.
    const entries = await store.feed!.read(CONSUMER, 500, SETTLE_MS);
    if (entries.length === 0) return all;
    all.push(...entries.map((e) => e.change));
    await store.feed!.ack(CONSUMER, entries);
  }
}

/** Long enough for a cluster's feed reader to hear a bell, or to sweep every slot again (once a second before it hears them). */
const SETTLE_MS = 1_500;

export function privacySuite(makeStore: StoreFactory): void {
  describe("a user's data (privacy export and erasure)", () => {
    const store = useStore(makeStore, settings());

    it('finds every session of a user: the live one and those that ended', async () => {
      const userId = `privacy-${Math.random()}`;
      const first = await signIn(store(), { userId });
      await applied(store(), first.id, first.caller, { kind: 'session.end' });
      const second = await signIn(store(), { userId });
      assert.notEqual(second.id, first.id);
      assert.deepEqual((await store().userSessions(userId)).sort(), [first.id, second.id].sort());
      assert.deepEqual(await store().userSessions(`nobody-${Math.random()}`), []);
    });

    it('erases every session of the user to a tombstone that names no one; the live one ends for "erased" first', async () => {
      const userId = `erase-${Math.random()}`;
      const ended = await signIn(store(), { userId, label: { name: 'old laptop', userAgent: 'UA/old', ip: '192.0.2.0' } });
      await applied(store(), ended.id, ended.caller, { kind: 'cart.add', sku: 'OLD', quantity: 1 });
      await applied(store(), ended.id, ended.caller, { kind: 'session.end' });
      const live = await signIn(store(), { userId, label: { name: 'phone', country: 'DE' } });
      await applied(store(), live.id, live.caller, { kind: 'prefs.patch', patch: { theme: 'dark' } });
      await applied(store(), live.id, live.caller, { kind: 'history.add', productId: 'p1', viewedAt: Date.now() });
      await drain(store());

      const now = Date.now();
      assert.equal(await store().eraseUser(userId, now, stamp()), 2);

      const changes = await drain(store());
      const end = changes.find((c) => c.sessionId === live.id && c.records.some((r) => r.part === 'meta' && r.state.endedAt !== undefined));
      assert.ok(end, 'the live session’s end went to the feed');
      const revoked = end.records.find((r) => r.part === 'devices')!.state as { devices: Record<string, { revokedFor?: string }> };
      assert.equal(revoked.devices[live.deviceId]?.revokedFor, 'erased');
      for (const id of [ended.id, live.id]) {
        const snapshot = await store().snapshot(id);
        assert.ok(snapshot, 'a tombstone stays, so that a late change cannot bring the session back');
        assert.equal(snapshot.meta.userId, null);
        assert.equal(snapshot.meta.csrfSecret, '');
        assert.ok(snapshot.meta.endedAt !== undefined);
        assert.deepEqual([snapshot.devices, snapshot.cart, snapshot.prefs, snapshot.history], [{ devices: {} }, { lines: {} }, { keys: {} }, { items: {} }]);
      }
      assert.equal(await store().findUserSession(userId, now), null);
      assert.deepEqual(await store().userSessions(userId), []);
      assert.equal(await store().load(live.id, ['cart'], now, { credential: { deviceId: live.deviceId, hash: live.hash } }), null);
      assert.deepEqual(await store().apply(live.id, live.caller, { kind: 'cart.add', sku: 'A', quantity: 1 }, { now, hlc: stamp() }), { status: 'not-found' });
    });

    // (A late *metadata* record from another region would name the user again: erasure in the global mode must travel as its own message.)
    it('an erased session stays erased when a late change of its data arrives; the user may sign in afresh', async () => {
      const userId = `late-${Math.random()}`;
      const s = await signIn(store(), { userId });
      const now = Date.now();
      await store().eraseUser(userId, now, stamp());
      const late = { sessionId: s.id, part: 'cart' as const, state: { lines: { LATE: { n: { eu: [1, 0] as const }, at: now } } }, hlc: stamp(), origin: 'us' };
      await store().merge([late], now);
      const snapshot = await store().snapshot(s.id);
      assert.deepEqual(snapshot?.cart, { lines: {} });
      assert.equal(snapshot?.meta.userId, null);
      assert.equal(await store().findUserSession(userId, now), null);
      const again = await signIn(store(), { userId });
      assert.equal(again.result.status, 'created');
      assert.deepEqual(await store().userSessions(userId), [again.id]);
    });

    it('erasing a user with nothing stored erases nothing', async () => {
      assert.equal(await store().eraseUser(`nobody-${Math.random()}`, Date.now(), stamp()), 0);
    });

    it('an operator may still end an erased user’s sessions: nothing happens', async () => {
      const userId = `idem-${Math.random()}`;
      const s = await signIn(store(), { userId });
      await store().eraseUser(userId, Date.now(), stamp());
      assert.deepEqual(await store().apply(s.id, admin, { kind: 'session.end' }, { now: Date.now(), hlc: stamp() }), { status: 'not-found' });
    });
  });
}
