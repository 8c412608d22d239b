/**
 * What replication builds on, held alike on every engine: the change feed
 * written with each change, activity as change records, merges that do not
 * depend on order (parking records whose session is not there yet), tombstones
 * that outlive replication, stamps that a lagging clock cannot lose to,
 * versions that mean the same in every region, and one session per user.
 *
 * Two regions are two stores of different places (`StoreFactory`); a change
 * travels from one to the other as replication will carry it: read from the
 * first one's feed, joined into the second by `merge`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { quantityOf } from '../../../src/domain/cart.js';
import { newDevice } from '../../../src/domain/devices.js';
import { decodeHlc, HybridLogicalClock } from '../../../src/domain/hlc.js';
import { DEFAULT_LIMITS } from '../../../src/domain/limits.js';
import { CachedStore } from '../../../src/cache/cached-store.js';
import { applyOperation, type Operation } from '../../../src/domain/operations.js';
import { mergePart, type Change, type ChangeRecord, type PartStates } from '../../../src/domain/parts.js';
import type { SessionMeta } from '../../../src/domain/session.js';
import { partVersion, sessionDigest } from '../../../src/domain/versions.js';
import type { FeedEntry } from '../../../src/store/feed.js';
import type { SessionSnapshot, SessionStore } from '../../../src/store/session-store.js';
import { creationRecords, mergeTransition, newStoredSession, snapshotRecords, type StoredSession } from '../../../src/store/transition.js';
import { newDeviceId, newSessionId } from '../../../src/tokens/session-token.js';
import {
  admin,
  applied,
  CONSUMER,
  HORIZON_MS,
  IDLE_MS,
  loadAll,
  ORIGIN,
  randomHash,
  settings,
  signIn,
  stamp,
  type StoreFactory,
} from './support.js';

let places = 0;
/** A place no other test uses: a region of its own. */
const freshPlace = (): string => `r${process.pid}x${(places += 1)}x${randomBytes(3).toString('hex')}`;

/** Every entry the consumer has not acknowledged, acknowledged now. */
async function drain(store: SessionStore, consumer = CONSUMER): Promise<FeedEntry[]> {
  const all: FeedEntry[] = [];
  for (;;) {
    const entries = await store.feed!.read(consumer, 500);
    if (entries.length === 0) return all;
    all.push(...entries);
    await store.feed!.ack(consumer, entries);
  }
}

/** Carries every change of `from`'s feed into `to`, as replication does. */
async function replicate(from: SessionStore, to: SessionStore, now = Date.now()): Promise<Change[]> {
  const changes = (await drain(from)).map((entry) => entry.change);
  for (const change of changes) await to.merge(change.records, now);
  return changes;
}

function digestOf(snapshot: SessionSnapshot | null): string | null {
  return snapshot === null ? null : sessionDigest(snapshot.meta, snapshot.versions);
}

/** A session as another region ('us') would create it, and the records of its creation. */
function remoteSession(now: number, userId: string | null = null): { stored: StoredSession; records: ChangeRecord[]; deviceId: string; hash: string } {
  const clock = new HybridLogicalClock('us.n1', () => now);
  const hlc = clock.now();
  const meta: SessionMeta = {
    id: newSessionId(), userId, createdAt: now, lastActiveAt: now,
    idleExpiresAt: now + IDLE_MS, absoluteExpiresAt: now + 10 * IDLE_MS, csrfSecret: 'secret', t: hlc,
  };
  const deviceId = newDeviceId();
  const hash = randomHash();
  const stored = newStoredSession(meta, deviceId, newDevice({}, hash, now, hlc));
  return { stored, records: creationRecords(stored, { hlc, origin: 'us' }), deviceId, hash };
}

export function replicationSuite(makeStore: StoreFactory): void {
  describe('the change feed', () => {
    it('holds every committed change — creation, writes, activity, local merges — with its records, in commit order; never another region’s', async () => {
      const store = await makeStore(settings(), freshPlace());
      try {
        const s = await signIn(store, { userId: `feed-${Math.random()}` });
        const add = await applied(store, s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 2 });
        const patch = await applied(store, s.id, s.caller, { kind: 'prefs.patch', patch: { theme: 'dark' } });
        const touchStamp = stamp();
        await store.touch(s.id, s.deviceId, Date.now() + 1, touchStamp);
        const local: ChangeRecord = { sessionId: s.id, part: 'history', state: { items: { p1: Date.now() } }, hlc: stamp(), origin: ORIGIN };
        await store.merge([local], Date.now());
        await store.merge([{ sessionId: s.id, part: 'history', state: { items: { p2: Date.now() } }, hlc: stamp(), origin: 'us' }], Date.now());

        const changes = (await drain(store)).map((e) => e.change);
        assert.deepEqual(changes.map((c) => c.sessionId), [s.id, s.id, s.id, s.id, s.id]);
        assert.deepEqual(changes[0]!.records.map((r) => r.part), ['meta', 'devices'], 'the creation');
        assert.deepEqual(changes[0]!.records[0]!.state, s.meta);
        assert.deepEqual(changes[1]!.records, add.records);
        assert.equal(changes[1]!.hlc, add.hlc);
        assert.deepEqual(changes[2]!.records, patch.records);
        assert.deepEqual(changes[3]!.records.map((r) => r.part), ['meta', 'devices'], 'the activity of the touch');
        assert.equal(changes[3]!.hlc, touchStamp);
        assert.deepEqual(changes[4]!.records, [local]);
        assert.ok(changes.every((c) => c.origin === ORIGIN));
      } finally {
        await store.close();
      }
    });

    it('rejected, unauthorized and stale writes append nothing', async () => {
      const store = await makeStore(settings({ maxQuantity: 5 }), freshPlace());
      try {
        const s = await signIn(store);
        const { versions } = await applied(store, s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 }).then((r) => r.session);
        await applied(store, s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
        await drain(store);
        const now = Date.now();
        assert.equal((await store.apply(s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 9 }, { now, hlc: stamp() })).status, 'rejected');
        assert.equal((await store.apply(s.id, { kind: 'device', deviceId: s.deviceId, tokenHash: randomHash() }, { kind: 'cart.clear' }, { now, hlc: stamp() })).status, 'unauthorized');
        assert.equal((await store.apply(s.id, s.caller, { kind: 'cart.clear' }, { now, hlc: stamp(), ifVersion: versions.cart })).status, 'version-mismatch');
        assert.equal((await store.apply(newSessionId(), admin, { kind: 'cart.clear' }, { now, hlc: stamp() })).status, 'not-found');
        assert.deepEqual(await store.feed!.read(CONSUMER, 100), []);
      } finally {
        await store.close();
      }
    });

    it('gives each consumer the same entries until it acknowledges them, and trims what every consumer has', async () => {
      const store = await makeStore(settings({}, IDLE_MS, { feedConsumers: ['a', 'b'] }), freshPlace());
      try {
        const s = await signIn(store);
        await applied(store, s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
        await applied(store, s.id, s.caller, { kind: 'cart.add', sku: 'B', quantity: 1 });
        const first = await store.feed!.read('a', 100);
        assert.equal(first.length, 3);
        assert.deepEqual(await store.feed!.read('a', 100), first, 'read again without acknowledging');
        await store.feed!.ack('a', first.slice(0, 2));
        assert.deepEqual(await store.feed!.read('a', 100), first.slice(2));
        await store.feed!.ack('a', first.slice(2));
        assert.deepEqual(await store.feed!.read('a', 100), []);
        assert.equal(await store.feed!.backlog('a'), 0);
        assert.equal(await store.feed!.backlog('b'), 3, "b's entries are kept for b");
        const forB = await store.feed!.read('b', 100);
        assert.deepEqual(forB.map((e) => e.change), first.map((e) => e.change));
        await store.feed!.ack('b', forB);
        assert.equal(await store.feed!.backlog('b'), 0);
      } finally {
        await store.close();
      }
    });

    it('a store opened again on the same data finds every change not yet acknowledged (a crash loses none)', async () => {
      const place = freshPlace();
      const before = await makeStore(settings(), place);
      const s = await signIn(before);
      const add = await applied(before, s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
      await before.close();
      const after = await makeStore(settings(), place);
      try {
        const changes = (await drain(after)).map((e) => e.change);
        assert.deepEqual(changes.map((c) => c.hlc), [s.meta.t, add.hlc]);
      } finally {
        await after.close();
      }
    });
  });

  describe('activity as change records', () => {
    it('a touch is a change only when it is due: slideAfterMs after the device was last recorded active', async () => {
      const slideAfterMs = 10_000;
      const store = await makeStore(settings({}, IDLE_MS, { slideAfterMs }), freshPlace());
      try {
        const t0 = Date.now();
        const s = await signIn(store, { now: t0 });
        await drain(store);
        await store.touch(s.id, s.deviceId, t0 + slideAfterMs - 1, stamp());
        await applied(store, s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 }, t0 + slideAfterMs - 1);
        const early = (await drain(store)).flatMap((e) => e.change.records);
        assert.deepEqual(early.map((r) => r.part), ['cart'], 'a write before it is due carries no activity');
        await store.touch(s.id, s.deviceId, t0 + slideAfterMs, stamp());
        const due = (await drain(store)).flatMap((e) => e.change.records);
        assert.deepEqual(due.map((r) => r.part), ['meta', 'devices']);
        const meta = due[0]!.state as SessionMeta;
        assert.equal(meta.lastActiveAt, t0 + slideAfterMs);
        assert.equal(meta.idleExpiresAt, t0 + slideAfterMs + IDLE_MS);
      } finally {
        await store.close();
      }
    });

    it('activity in one region keeps the session alive in another', async () => {
      const [eu, us] = [await makeStore(settings(), freshPlace()), await makeStore(settings(), freshPlace())];
      try {
        const t0 = Date.now();
        const s = await signIn(eu, { now: t0 });
        await replicate(eu, us, t0);
        await eu.touch(s.id, s.deviceId, t0 + IDLE_MS * 0.8, stamp());
        await replicate(eu, us, t0 + IDLE_MS * 0.8);
        const later = t0 + IDLE_MS * 1.2;
        const loaded = await us.load(s.id, [], later, { credential: { deviceId: s.deviceId, hash: s.hash } });
        assert.equal(loaded?.credential, 'current', 'the session and its device live on in us');
        assert.equal(loaded.meta.idleExpiresAt, t0 + IDLE_MS * 1.8);
      } finally {
        await Promise.all([eu.close(), us.close()]);
      }
    });
  });

  describe('merges that do not depend on order', () => {
    it('records that arrive before their session are parked, and joined when its metadata comes', async () => {
      const store = await makeStore(settings(), freshPlace());
      try {
        const now = Date.now();
        const remote = remoteSession(now, null);
        const sessionId = remote.stored.meta.id;
        const cart: ChangeRecord = { sessionId, part: 'cart', state: { lines: { A: { n: { us: [3, 0] }, at: now } } }, hlc: stamp(), origin: 'us' };
        assert.deepEqual(await store.merge([cart], now), [{ sessionId, outcome: 'parked', changed: [] }]);
        assert.equal(await store.load(sessionId, [], now), null);
        const [report] = await store.merge(remote.records, now);
        assert.equal(report?.outcome, 'created');
        assert.deepEqual([...report!.changed].sort(), ['cart', 'devices']);
        assert.equal(quantityOf((await loadAll(store, sessionId, now)).cart!.lines.A), 3);
      } finally {
        await store.close();
      }
    });

    it('parked records are dropped once the replication horizon has passed', async () => {
      const store = await makeStore(settings(), freshPlace());
      try {
        const now = Date.now();
        const remote = remoteSession(now + HORIZON_MS + 1, null);
        const sessionId = remote.stored.meta.id;
        const cart: ChangeRecord = { sessionId, part: 'cart', state: { lines: { A: { n: { us: [3, 0] }, at: now } } }, hlc: stamp(), origin: 'us' };
        await store.merge([cart], now);
        await store.merge(remote.records, now + HORIZON_MS + 1);
        assert.deepEqual((await loadAll(store, sessionId, now + HORIZON_MS + 1)).cart, { lines: {} });
      } finally {
        await store.close();
      }
    });

    it('any permutation and duplication of a session’s records gives the state of the reference join', async () => {
      const store = await makeStore(settings({ historyItems: 4, cartLines: 50, devices: 10 }), freshPlace());
      const storeSettings = settings({ historyItems: 4, cartLines: 50, devices: 10 });
      try {
        await fc.assert(
          fc.asyncProperty(operationsArbitrary(), fc.integer(), fc.integer({ min: 1, max: 4 }), async (ops, seed, chunks) => {
            const now = Date.now();
            const remote = remoteSession(now, null);
            const records = [...remote.records, ...recordsOf(remote.stored, remote.deviceId, ops, now)];
            // The reference: every record joined in the order made.
            let reference: StoredSession | null = null;
            for (const record of records) {
              const outcome = mergeTransition(reference, [record], now, storeSettings);
              if (outcome.kind === 'store') reference = outcome.next;
            }
            const stream = shuffle([...records, ...records.filter((_, i) => (seed >> i) & 1)], seed);
            const size = Math.ceil(stream.length / chunks);
            for (let i = 0; i < stream.length; i += size) await store.merge(stream.slice(i, i + size), now);
            const snapshot = await store.snapshot(remote.stored.meta.id);
            assert.equal(digestOf(snapshot), sessionDigest(reference!.meta, reference!.versions));
            assert.deepEqual(
              { cart: snapshot!.cart, prefs: snapshot!.prefs, history: snapshot!.history, devices: snapshot!.devices },
              { cart: reference!.cart, prefs: reference!.prefs, history: reference!.history, devices: reference!.devices },
            );
          }),
          { numRuns: 20, seed: 20261204 },
        );
      } finally {
        await store.close();
      }
    });
  });

  describe('tombstones', () => {
    it('late records never bring an ended session, or its tokens, back — not even after a sweep', async () => {
      const store = await makeStore(settings(), freshPlace());
      try {
        const t0 = Date.now();
        const s = await signIn(store, { now: t0, userId: `ended-${Math.random()}` });
        await applied(store, s.id, admin, { kind: 'session.end' }, t0 + 1);
        const later = t0 + 2 * HORIZON_MS;
        await store.sweep(later, 1000);
        const ended = await store.snapshot(s.id);
        assert.ok(ended?.meta.endedAt !== undefined, 'the tombstone outlives the sweep');
        assert.equal(ended.meta.csrfSecret, '', 'and keeps no secret');
        const live: SessionMeta = { ...s.meta, lastActiveAt: later, idleExpiresAt: later + IDLE_MS };
        const hash = randomHash();
        const reports = await store.merge(
          [
            { sessionId: s.id, part: 'meta', state: live, hlc: stamp(), origin: 'us' },
            { sessionId: s.id, part: 'devices', state: { devices: { late: newDevice({}, hash, later, stamp()) } }, hlc: stamp(), origin: 'us' },
            { sessionId: s.id, part: 'cart', state: { lines: { A: { n: { us: [1, 0] }, at: later } } }, hlc: stamp(), origin: 'us' },
          ],
          later,
        );
        assert.equal(reports[0]?.outcome, 'ignored');
        assert.equal(await store.load(s.id, [], later), null);
        assert.equal(await store.load(s.id, [], later, { credential: { deviceId: 'late', hash } }), null);
        assert.equal(await store.load(s.id, [], later, { credential: { deviceId: s.deviceId, hash: s.hash } }), null);
        assert.equal(await store.findUserSession(s.meta.userId!, later), null);
        const after = await store.snapshot(s.id);
        assert.deepEqual({ cart: after?.cart, devices: after?.devices }, { cart: { lines: {} }, devices: { devices: {} } });
      } finally {
        await store.close();
      }
    });

    it('an erasure travels in the feed and wins every join: a late record that names the user does not name them again', async () => {
      const [eu, us] = [await makeStore(settings(), freshPlace()), await makeStore(settings(), freshPlace())];
      try {
        const t0 = Date.now();
        const userId = `erased-${Math.random()}`;
        const s = await signIn(eu, { now: t0, userId });
        await applied(eu, s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 }, t0 + 1);
        const before = (await drain(eu)).map((e) => e.change);
        for (const change of before) await us.merge(change.records, t0 + 2);
        assert.equal((await us.snapshot(s.id))?.meta.userId, userId, 'us holds the session');

        await eu.eraseUser(userId, t0 + 3, stamp());
        const erasure = await replicate(eu, us, t0 + 4);
        assert.ok(erasure.some((c) => c.records.some((r) => r.part === 'meta' && (r.state as SessionMeta).erasedAt !== undefined)), 'the tombstone is in the feed');
        for (const store of [eu, us]) {
          const erased = await store.snapshot(s.id);
          assert.equal(erased?.meta.userId, null, 'no region names the user');
          assert.ok(erased?.meta.erasedAt !== undefined && erased.meta.endedAt !== undefined);
          assert.deepEqual(erased.cart, { lines: {} });
        }
        // The creation and the cart line again, late (a region that had not sent them yet): they name the user.
        for (const store of [eu, us]) {
          await store.merge(before.flatMap((c) => c.records), t0 + 5);
          const erased = await store.snapshot(s.id);
          assert.equal(erased?.meta.userId, null, 'a late record does not name the user again');
          assert.deepEqual(erased?.cart, { lines: {} });
          assert.equal(await store.findUserSession(userId, t0 + 5), null);
        }
        assert.equal(digestOf(await eu.snapshot(s.id)), digestOf(await us.snapshot(s.id)), 'the regions agree');
      } finally {
        await Promise.all([eu.close(), us.close()]);
      }
    });
  });

  describe('clocks', () => {
    it('a write from a node whose clock lags minutes still wins by last-writer-wins', async () => {
      const store = await makeStore(settings(), freshPlace());
      try {
        const s = await signIn(store);
        const now = Date.now();
        const ahead = new HybridLogicalClock('eu.fast', () => now);
        const behind = new HybridLogicalClock('eu.slow', () => now - 5 * 60_000);
        const first = await store.apply(s.id, s.caller, { kind: 'prefs.patch', patch: { theme: 'first' } }, { now, hlc: ahead.now() });
        const second = await store.apply(s.id, s.caller, { kind: 'prefs.patch', patch: { theme: 'second' } }, { now: now + 1, hlc: behind.now() });
        assert.equal(first.status, 'applied');
        assert.equal(second.status, 'applied');
        if (first.status !== 'applied' || second.status !== 'applied') return;
        assert.ok(second.hlc > first.hlc, `the lagging node's change is stamped after the one it followed (${second.hlc} > ${first.hlc})`);
        assert.equal(decodeHlc(second.hlc).origin, 'eu.slow', 'with its own origin');
        assert.equal((await loadAll(store, s.id)).prefs!.keys.theme!.v, 'second');
        assert.equal((await store.load(s.id, [], now + 1))?.meta.t, second.hlc, 'the session reports its largest stamp');
      } finally {
        await store.close();
      }
    });
  });

  describe('versions', () => {
    it('are digests of the parts’ states: regions with the same state agree, and If-Match works across them', async () => {
      const [eu, us] = [await makeStore(settings(), freshPlace()), await makeStore(settings(), freshPlace())];
      try {
        const s = await signIn(eu);
        await applied(eu, s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 2, attributes: { size: 'M', '2': 'x' } });
        await applied(eu, s.id, s.caller, { kind: 'prefs.patch', patch: { theme: 'dark', layout: { b: 1, '1': 2 } } });
        await applied(eu, s.id, s.caller, { kind: 'history.add', productId: 'p1', viewedAt: Date.now() });
        await replicate(eu, us);
        const inEu = await eu.snapshot(s.id);
        const inUs = await us.snapshot(s.id);
        assert.deepEqual(inUs?.versions, inEu?.versions);
        assert.equal(digestOf(inUs), digestOf(inEu));
        for (const part of ['cart', 'prefs', 'history', 'devices'] as const) {
          assert.equal(inEu!.versions[part], partVersion(part, inEu![part] as never), `${part}: the engine's version is the domain's digest`);
        }
        const cartVersion = inEu!.versions.cart;
        const inRegion = await us.apply(s.id, s.caller, { kind: 'cart.add', sku: 'B', quantity: 1 }, { now: Date.now(), hlc: stamp(), ifVersion: cartVersion });
        assert.equal(inRegion.status, 'applied', 'a version read in eu is the current one in us');
        const stale = await us.apply(s.id, s.caller, { kind: 'cart.add', sku: 'C', quantity: 1 }, { now: Date.now(), hlc: stamp(), ifVersion: cartVersion });
        assert.equal(stale.status, 'version-mismatch');
      } finally {
        await Promise.all([eu.close(), us.close()]);
      }
    });
  });

  describe('what replication keeps in the store', () => {
    it('scan visits every stored session once — live, ended, merged away — with the digest of its snapshot', async () => {
      const store = await makeStore(settings(), freshPlace());
      try {
        const live = await signIn(store, { userId: `scan-${Math.random()}` });
        await applied(store, live.id, live.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
        const ended = await signIn(store);
        await applied(store, ended.id, admin, { kind: 'session.end' });
        const guests = await Promise.all(Array.from({ length: 25 }, () => signIn(store)));
        const seen = new Map<string, string>();
        let cursor: string | null = '';
        for (let pages = 0; cursor !== null; pages += 1) {
          assert.ok(pages < 100, 'the scan ends');
          const page: Awaited<ReturnType<SessionStore['scan']>> = await store.scan(cursor, 7);
          for (const { id, digest } of page.sessions) seen.set(id, digest);
          cursor = page.next;
        }
        for (const id of [live.id, ended.id, ...guests.map((g) => g.id)]) {
          assert.equal(seen.get(id), digestOf(await store.snapshot(id)), id);
        }
        assert.equal(seen.size, 27);
      } finally {
        await store.close();
      }
    });

    it('digests names each session’s digest as scan does, null for one never stored, and follows its writes', async () => {
      const store = await makeStore(settings(), freshPlace());
      try {
        const sessions = await Promise.all(Array.from({ length: 5 }, () => signIn(store)));
        const ended = sessions[4]!;
        await applied(store, ended.id, admin, { kind: 'session.end' });
        const ids = [sessions[0]!.id, 'never-stored', ...sessions.slice(1).map((s) => s.id)];
        const digests = await store.digests(ids);
        assert.equal(digests.length, ids.length);
        assert.equal(digests[1], null);
        for (const [i, id] of ids.entries()) {
          if (i !== 1) assert.equal(digests[i], digestOf(await store.snapshot(id)), id);
        }
        const [first] = sessions;
        await applied(store, first!.id, first!.caller, { kind: 'cart.add', sku: 'A', quantity: 2 });
        const [after] = await store.digests([first!.id]);
        assert.notEqual(after, digests[0], 'a write changes the digest');
        assert.equal(after, digestOf(await store.snapshot(first!.id)));
        assert.deepEqual(await store.digests([]), []);
        // A long list (engines may read it in batches) keeps its order.
        const known = new Map([[0, sessions[1]!.id], [120, sessions[2]!.id], [249, sessions[3]!.id]]);
        const long = Array.from({ length: 250 }, (_, i) => known.get(i) ?? `never-stored-${i}`);
        const many = await store.digests(long);
        assert.equal(many.length, 250);
        for (const [i, digest] of many.entries()) assert.equal(digest, known.has(i) ? digests[ids.indexOf(known.get(i)!)] : null, `position ${i}`);
      } finally {
        await store.close();
      }
    });

    it('keeps marks, and gives a lease to one holder at a time until it runs out', async () => {
      const store = await makeStore(settings(), freshPlace());
      try {
        assert.equal(await store.readMark('applied.us.g.0'), null);
        await store.writeMark('applied.us.g.0', '42');
        await store.writeMark('applied.us.g.0', '43');
        assert.equal(await store.readMark('applied.us.g.0'), '43');
        const name = `relay-${Math.random()}`;
        assert.equal(await store.lease(name, 'node-a', 300, Date.now()), true);
        assert.equal(await store.lease(name, 'node-b', 300, Date.now()), false);
        assert.equal(await store.lease(name, 'node-a', 300, Date.now()), true, 'the holder renews');
        await new Promise((resolve) => setTimeout(resolve, 400));
        assert.equal(await store.lease(name, 'node-b', 300, Date.now()), true, 'taken once it ran out');
        assert.equal(await store.lease(name, 'node-a', 300, Date.now()), false);
        await store.release(name, 'node-a');
        assert.equal(await store.lease(name, 'node-a', 300, Date.now()), false, 'only the holder gives it up');
        await store.release(name, 'node-b');
        assert.equal(await store.lease(name, 'node-a', 300, Date.now()), true, 'given up, it is free');
      } finally {
        await store.close();
      }
    });
  });

  describe('one session per user', () => {
    it('two regions that signed a user in at once end with the same session, the other merged into it', async () => {
      const [eu, us] = [await makeStore(settings(), freshPlace()), await makeStore(settings(), freshPlace())];
      try {
        const userId = `twice-${Math.random()}`;
        const a = await signIn(eu, { userId });
        const b = await signIn(us, { userId });
        await applied(eu, a.id, a.caller, { kind: 'cart.add', sku: 'X', quantity: 2 });
        await applied(us, b.id, b.caller, { kind: 'cart.add', sku: 'X', quantity: 1 });
        await applied(us, b.id, b.caller, { kind: 'prefs.patch', patch: { lang: 'fr' } });
        await replicate(eu, us);
        await replicate(us, eu);
        const [winner, loser] = a.meta.createdAt < b.meta.createdAt || (a.meta.createdAt === b.meta.createdAt && a.id < b.id) ? [a, b] : [b, a];
        for (const [name, region] of [['eu', eu], ['us', us]] as const) {
          const now = Date.now();
          assert.equal(await region.findUserSession(userId, now), winner.id, `${name}: the index names the same session`);
          const viaLoser = await region.load(loser.id, ['cart', 'prefs'], now, { credential: { deviceId: loser.deviceId, hash: loser.hash } });
          assert.equal(viaLoser?.meta.id, winner.id, `${name}: the other session answers with the winner`);
          assert.equal(viaLoser.credential, 'current', `${name}: its device's token still works`);
          assert.equal(viaLoser.alias?.id, loser.id);
          assert.equal(quantityOf(viaLoser.cart!.lines.X), 3, `${name}: both carts count`);
          assert.equal(viaLoser.prefs!.keys.lang?.v, 'fr');
          // Through L1, first from the store, then with the parts L1 confirmed: the CSRF secret its devices' tokens were made with stays.
          const cached = new CachedStore(region, DEFAULT_LIMITS.historyItems);
          for (const read of ['from the store', 'from L1']) {
            const viaL1 = await cached.load(loser.id, ['cart', 'prefs'], now, { credential: { deviceId: loser.deviceId, hash: loser.hash } });
            assert.deepEqual(viaL1?.alias, viaLoser.alias, `${name}, ${read}: the session asked for stays named`);
            assert.equal(quantityOf(viaL1!.cart!.lines.X), 3, `${name}, ${read}`);
          }
        }
        assert.equal(digestOf(await eu.snapshot(winner.id)), digestOf(await us.snapshot(winner.id)));
      } finally {
        await Promise.all([eu.close(), us.close()]);
      }
    });

    it('snapshots merged into an empty store give every session back with its digest, a merged-away one as a redirect (tessera import)', async () => {
      const [eu, us, copy] = [await makeStore(settings(), freshPlace()), await makeStore(settings(), freshPlace()), await makeStore(settings(), freshPlace())];
      try {
        const userId = `copied-${Math.random()}`;
        const a = await signIn(eu, { userId });
        const b = await signIn(us, { userId });
        await applied(us, b.id, b.caller, { kind: 'cart.add', sku: 'X', quantity: 1 });
        await replicate(us, eu);
        const ended = await signIn(eu);
        await applied(eu, ended.id, admin, { kind: 'session.end' });
        const loser = (await eu.snapshot(a.id))!.meta.mergedInto === undefined ? b : a;
        const ids = [a.id, b.id, ended.id];
        // The redirect first: it must be kept as itself, not only passed on to the session it names.
        for (const id of [loser.id, ...ids.filter((i) => i !== loser.id)]) {
          const snapshot = (await eu.snapshot(id))!;
          await copy.merge(snapshotRecords(snapshot, { hlc: snapshot.meta.t ?? '', origin: 'import' }), Date.now());
        }
        for (const id of ids) assert.equal(digestOf(await copy.snapshot(id)), digestOf(await eu.snapshot(id)), id);
        assert.notEqual((await copy.snapshot(loser.id))?.meta.mergedInto, undefined);
        const viaLoser = await copy.load(loser.id, ['cart'], Date.now(), { credential: { deviceId: loser.deviceId, hash: loser.hash } });
        assert.equal(viaLoser?.credential, 'current', "the merged-away session's token still works in the copy");
        assert.equal(quantityOf(viaLoser.cart!.lines.X), 1);
      } finally {
        await Promise.all([eu.close(), us.close(), copy.close()]);
      }
    });
  });
}

/** Operations another region might run on a session: data parts and devices. */
function operationsArbitrary(): fc.Arbitrary<Operation[]> {
  const sku = fc.constantFrom('A', 'B', 'C', '__proto__');
  const product = fc.constantFrom('p1', 'p2', 'p3', 'p4', 'p5', 'p6');
  const op: fc.Arbitrary<Operation> = fc.oneof(
    fc.record({ kind: fc.constant('cart.add' as const), sku, quantity: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ kind: fc.constant('cart.set' as const), sku, quantity: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ kind: fc.constant('cart.remove' as const), sku }),
    fc.record({ kind: fc.constant('prefs.patch' as const), patch: fc.dictionary(fc.constantFrom('theme', 'lang', '1'), fc.oneof(fc.constant(null), fc.string({ maxLength: 3 }), fc.integer())) }),
    fc.record({ kind: fc.constant('history.add' as const), productId: product, viewedAt: fc.integer({ min: 0, max: 1000 }) }),
    fc.constant({ kind: 'device.rotate' as const, deviceId: '', hash: '', graceMs: 1000 }),
    fc.constant({ kind: 'session.end' as const }),
  );
  return fc.array(op, { maxLength: 12 });
}

/** The records a region makes running `ops` on a session (after the first end, nothing more). */
function recordsOf(start: StoredSession, deviceId: string, ops: readonly Operation[], now: number): ChangeRecord[] {
  const clock = new HybridLogicalClock('us.n1', () => now);
  let state: PartStates = start;
  const records: ChangeRecord[] = [];
  for (const raw of ops) {
    if (state.meta.endedAt !== undefined) break;
    const op: Operation =
      raw.kind === 'device.rotate' ? { ...raw, deviceId, hash: randomHash() } : raw.kind === 'history.add' ? { ...raw, viewedAt: now - raw.viewedAt } : raw;
    const outcome = applyOperation(state, op, { sessionId: start.meta.id, now, hlc: clock.now(), origin: 'us', limits: { ...DEFAULT_LIMITS, historyItems: 4 } });
    if (!outcome.ok) continue;
    for (const record of outcome.records) {
      records.push(record);
      state = { ...state, [record.part]: mergePart(record.part, state[record.part], record.state, 4) };
    }
  }
  return records;
}

function shuffle<T>(items: T[], seed: number): T[] {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(next() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

