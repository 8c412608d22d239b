/** Sessions: creation, partial loads, the user index, ending, expiry and sliding. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { quantityOf } from '../../../src/domain/cart.js';
import { RETIRED_HASHES_KEPT } from '../../../src/domain/devices.js';
import { historyItems } from '../../../src/domain/history.js';
import {
  ABSOLUTE_MS,
  admin,
  applied,
  IDLE_MS,
  loadAll,
  randomHash,
  settings,
  signIn,
  stamp,
  useStore,
  type StoreFactory,
} from './support.js';

export function lifecycleSuite(makeStore: StoreFactory): void {
  describe('sessions', () => {
    const store = useStore(makeStore);

    it('creates a guest session and loads it with its device, empty parts and versions', async () => {
      const now = Date.now();
      const s = await signIn(store(), { now, label: { name: 'laptop', kind: 'browser' } });
      assert.equal(s.result.status, 'created');
      const loaded = await loadAll(store(), s.id, now);
      assert.deepEqual(loaded.meta, s.meta);
      assert.deepEqual(Object.keys(loaded.devices.devices), [s.deviceId]);
      const device = loaded.devices.devices[s.deviceId]!;
      assert.equal(device.hash, s.hash);
      assert.equal(device.name, 'laptop');
      assert.equal(device.kind, 'browser');
      assert.deepEqual(device.retired, []);
      assert.deepEqual(loaded.cart, { lines: {} });
      assert.deepEqual(loaded.prefs, { keys: {} });
      assert.deepEqual(loaded.history, { items: {} });
      assert.deepEqual(Object.keys(loaded.versions).sort(), ['cart', 'devices', 'history', 'prefs']);
      if (s.result.status === 'created') assert.deepEqual(s.result.session.versions, loaded.versions);
    });

    it('a user id with spaces, an equals sign or a leading dash loads and applies back exactly (the Redis head lines end with it)', async () => {
      for (const userId of [`ann marie ${Math.random()}`, `=x y= ${Math.random()}`, `- ${Math.random()}`, `  a${Math.random()}  `]) {
        const s = await signIn(store(), { userId });
        const loaded = await store().load(s.id, ['cart'], Date.now(), { credential: { deviceId: s.deviceId, hash: s.hash } });
        assert.equal(loaded?.meta.userId, userId);
        assert.equal(loaded?.credential, 'current');
        assert.deepEqual(loaded?.meta, s.meta);
        const written = await applied(store(), s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
        assert.equal(written.session.meta.userId, userId);
        // What the write answered is what a load reads after it: every field, the stamp and every version.
        const after = await loadAll(store(), s.id);
        assert.deepEqual(written.session.meta, after.meta);
        assert.deepEqual(written.session.versions, after.versions);
      }
    });

    it('loads only the parts asked for, and always metadata, devices and versions', async () => {
      const s = await signIn(store());
      await applied(store(), s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
      const onlyAuth = await store().load(s.id, [], Date.now());
      assert.ok(onlyAuth);
      assert.equal(onlyAuth.cart, undefined);
      assert.equal(onlyAuth.prefs, undefined);
      assert.equal(onlyAuth.history, undefined);
      assert.ok(onlyAuth.devices.devices[s.deviceId]);
      const cartOnly = await store().load(s.id, ['cart'], Date.now());
      assert.ok(cartOnly?.cart?.lines.A);
      assert.equal(cartOnly.prefs, undefined);
      assert.deepEqual(cartOnly.versions, onlyAuth.versions);
    });

    it('a load with a credential reports its verdict; every device comes with the devices part', async () => {
      const s = await signIn(store(), { userId: `one-device-${Math.random()}` });
      const other = await signIn(store(), { userId: s.meta.userId! });
      assert.equal(other.id, s.id);
      const everything = await store().load(s.id, ['devices'], Date.now());
      assert.deepEqual(Object.keys(everything!.devices.devices).sort(), [s.deviceId, other.deviceId].sort());
      assert.equal(everything!.credential, undefined, 'no credential, no verdict');
      const mine = await store().load(s.id, ['cart'], Date.now(), { credential: { deviceId: s.deviceId, hash: s.hash } });
      assert.equal(mine?.credential, 'current');
      assert.deepEqual(mine?.versions, everything!.versions);
      const withPart = await store().load(s.id, ['devices'], Date.now(), { credential: { deviceId: s.deviceId, hash: s.hash } });
      assert.deepEqual(withPart?.devices, everything!.devices);
      assert.equal(withPart?.credential, 'current');
      const wrongHash = await store().load(s.id, [], Date.now(), { credential: { deviceId: s.deviceId, hash: other.hash } });
      assert.equal(wrongHash?.credential, 'none', "another device's token is not this device's");
      const unknown = await store().load(s.id, [], Date.now(), { credential: { deviceId: 'no-such-device00', hash: s.hash } });
      assert.ok(unknown, 'an unknown device does not hide the session');
      assert.equal(unknown.credential, 'none');
    });

    it('the verdict follows the token family: current, grace, reused after the window or once retired, none when revoked', async () => {
      const t0 = Date.now();
      const s = await signIn(store(), { now: t0 });
      const verdict = async (hash: string, at: number) =>
        (await store().load(s.id, [], at, { credential: { deviceId: s.deviceId, hash } }))?.credential;
      const second = randomHash();
      await applied(store(), s.id, s.caller, { kind: 'device.rotate', deviceId: s.deviceId, hash: second, graceMs: 5_000 }, t0 + 10);
      assert.equal(await verdict(second, t0 + 20), 'current');
      assert.equal(await verdict(s.hash, t0 + 20), 'grace');
      assert.equal(await verdict(s.hash, t0 + 10 + 5_000), 'reused');
      const third = randomHash();
      await applied(store(), s.id, { kind: 'device', deviceId: s.deviceId, tokenHash: second }, { kind: 'device.rotate', deviceId: s.deviceId, hash: third, graceMs: 5_000 }, t0 + 30);
      assert.equal(await verdict(s.hash, t0 + 40), 'reused', 'a retired token is reuse');
      assert.equal(await verdict(second, t0 + 40), 'grace');
      assert.equal(await verdict(randomHash(), t0 + 40), 'none');
      await applied(store(), s.id, admin, { kind: 'device.revoke', deviceId: s.deviceId }, t0 + 50);
      assert.equal(await verdict(third, t0 + 60), 'none', 'a revoked device accepts nothing');
    });

    it('every retired token of the family is reuse, the oldest kept as much as the newest, and none is accepted', async () => {
      const t0 = Date.now();
      const s = await signIn(store(), { now: t0 });
      const hashes = [s.hash];
      for (let i = 1; i <= RETIRED_HASHES_KEPT + 1; i += 1) {
        const next = randomHash();
        const caller = { kind: 'device', deviceId: s.deviceId, tokenHash: hashes.at(-1)! } as const;
        await applied(store(), s.id, caller, { kind: 'device.rotate', deviceId: s.deviceId, hash: next, graceMs: 5_000 }, t0 + i);
        hashes.push(next);
      }
      const at = t0 + 100;
      const verdicts: (string | undefined)[] = [];
      for (const hash of hashes) verdicts.push((await store().load(s.id, [], at, { credential: { deviceId: s.deviceId, hash } }))?.credential);
      assert.deepEqual(verdicts, [...Array<string>(RETIRED_HASHES_KEPT).fill('reused'), 'grace', 'current']);
      const before = await loadAll(store(), s.id, at);
      for (const [age, hash] of hashes.slice(0, RETIRED_HASHES_KEPT).entries()) {
        const result = await store().apply(s.id, { kind: 'device', deviceId: s.deviceId, tokenHash: hash }, { kind: 'cart.add', sku: 'A', quantity: 1 }, { now: at, hlc: stamp() });
        assert.deepEqual(result, { status: 'unauthorized' }, `the token retired ${RETIRED_HASHES_KEPT + 1 - age} rotations ago`);
      }
      const after = await loadAll(store(), s.id, at);
      assert.deepEqual(after.cart, before.cart);
      assert.deepEqual(after.versions, before.versions);
    });

    it('returns null for a session that does not exist', async () => {
      assert.equal(await store().load('no-such-session-id-xx', ['cart'], Date.now()), null);
      const result = await store().apply('no-such-session-id-xx', admin, { kind: 'cart.clear' }, { now: Date.now(), hlc: stamp() });
      assert.deepEqual(result, { status: 'not-found' });
    });

    it('answers ping and sweeps without error', async () => {
      await store().ping();
      assert.ok((await store().sweep(Date.now(), 100)) >= 0);
    });
  });

  describe('user sessions', () => {
    const store = useStore(makeStore, settings({ devices: 3 }));
    const roomy = useStore(makeStore);

    it('a second sign-in of the user joins the session: same id, shared parts, one more device', async () => {
      const userId = `user-${Math.random()}`;
      const first = await signIn(store(), { userId });
      assert.equal(first.result.status, 'created');
      await applied(store(), first.id, first.caller, { kind: 'cart.add', sku: 'A', quantity: 2 });
      const second = await signIn(store(), { userId, label: { name: 'phone' } });
      assert.equal(second.result.status, 'joined');
      assert.equal(second.id, first.id);
      assert.equal(await store().findUserSession(userId, Date.now()), first.id);
      const loaded = await loadAll(store(), first.id);
      assert.deepEqual(Object.keys(loaded.devices.devices).sort(), [first.deviceId, second.deviceId].sort());
      assert.equal(loaded.devices.devices[second.deviceId]?.name, 'phone');
      // The joined device's token works on the shared cart.
      const added = await applied(store(), first.id, second.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
      assert.equal(quantityOf(added.session.cart?.lines.A), 3);
    });

    it('different users get different sessions; guests are not indexed', async () => {
      const a = await signIn(store(), { userId: `a-${Math.random()}` });
      const b = await signIn(store(), { userId: `b-${Math.random()}` });
      const guest = await signIn(store());
      assert.notEqual(a.id, b.id);
      assert.equal(await store().findUserSession(`nobody-${Math.random()}`, Date.now()), null);
      assert.notEqual(guest.id, a.id);
    });

    it('concurrent first sign-ins of one user end in one session with every device', async () => {
      const userId = `racer-${Math.random()}`;
      const devices = 10;
      const results = await Promise.all(Array.from({ length: devices }, () => signIn(roomy(), { userId })));
      const ids = new Set(results.map((r) => r.id));
      assert.equal(ids.size, 1, `one session, got ${[...ids].join(', ')}`);
      assert.equal(results.filter((r) => r.result.status === 'created').length, 1);
      assert.equal(results.filter((r) => r.result.status === 'joined').length, devices - 1);
      const loaded = await loadAll(roomy(), results[0]!.id);
      assert.equal(Object.keys(loaded.devices.devices).length, devices);
      assert.equal(await roomy().findUserSession(userId, Date.now()), results[0]!.id);
    });

    it('refuses to join beyond the device limit and writes nothing', async () => {
      const userId = `full-${Math.random()}`;
      const first = await signIn(store(), { userId });
      await signIn(store(), { userId });
      await signIn(store(), { userId });
      const before = await loadAll(store(), first.id);
      const fourth = await signIn(store(), { userId });
      assert.equal(fourth.result.status, 'rejected');
      if (fourth.result.status === 'rejected') assert.equal(fourth.result.code, 'payload-too-large');
      const after = await loadAll(store(), first.id);
      assert.deepEqual(after.devices, before.devices);
      assert.deepEqual(after.versions, before.versions);
    });
  });

  describe('ending a session (logout everywhere)', () => {
    const store = useStore(makeStore);

    it('makes the session unloadable and unchangeable at once, for every device', async () => {
      const userId = `leaver-${Math.random()}`;
      const a = await signIn(store(), { userId });
      const b = await signIn(store(), { userId });
      await applied(store(), a.id, a.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
      const ended = await applied(store(), a.id, admin, { kind: 'session.end' });
      assert.ok(ended.session.meta.endedAt !== undefined);
      for (const device of Object.values(ended.session.devices.devices)) assert.ok(device.revokedAt !== undefined);
      assert.deepEqual(ended.records.map((r) => r.part).sort(), ['devices', 'meta']);
      assert.equal(await store().load(a.id, [], Date.now()), null);
      for (const caller of [a.caller, b.caller, admin]) {
        const result = await store().apply(a.id, caller, { kind: 'cart.add', sku: 'B', quantity: 1 }, { now: Date.now(), hlc: stamp() });
        assert.deepEqual(result, { status: 'not-found' });
      }
      assert.equal(await store().findUserSession(userId, Date.now()), null);
    });

    it('a sign-in after the end creates a new session', async () => {
      const userId = `returner-${Math.random()}`;
      const a = await signIn(store(), { userId });
      await applied(store(), a.id, a.caller, { kind: 'session.end' });
      const again = await signIn(store(), { userId });
      assert.equal(again.result.status, 'created');
      assert.notEqual(again.id, a.id);
      assert.equal(await store().findUserSession(userId, Date.now()), again.id);
      assert.deepEqual((await loadAll(store(), again.id)).cart, { lines: {} });
    });
  });

  describe('expiry', () => {
    const store = useStore(makeStore);

    it('never serves a session past its idle deadline', async () => {
      const t0 = Date.now();
      const userId = `idle-${Math.random()}`;
      const s = await signIn(store(), { userId, now: t0 });
      assert.ok(await store().load(s.id, [], t0 + IDLE_MS - 1));
      assert.equal(await store().load(s.id, [], t0 + IDLE_MS), null);
      const late = await store().apply(s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 }, { now: t0 + IDLE_MS, hlc: stamp() });
      assert.deepEqual(late, { status: 'not-found' });
      await store().touch(s.id, s.deviceId, t0 + IDLE_MS + 1, stamp());
      assert.equal(await store().load(s.id, [], t0 + IDLE_MS + 1), null);
      assert.equal(await store().findUserSession(userId, t0 + IDLE_MS), null);
    });

    it('activity slides the idle deadline', async () => {
      const t0 = Date.now();
      const s = await signIn(store(), { now: t0 });
      const result = await applied(store(), s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 }, t0 + 30_000);
      assert.equal(result.session.meta.lastActiveAt, t0 + 30_000);
      assert.equal(result.session.meta.idleExpiresAt, t0 + 30_000 + IDLE_MS);
      assert.ok(await store().load(s.id, [], t0 + IDLE_MS + 20_000));
      assert.equal(await store().load(s.id, [], t0 + 30_000 + IDLE_MS), null);
    });

    it('touch slides the deadline and the device activity, without changing any version', async () => {
      const t0 = Date.now();
      const s = await signIn(store(), { now: t0 });
      const before = await loadAll(store(), s.id, t0);
      await store().touch(s.id, s.deviceId, t0 + 40_000, stamp());
      const after = await loadAll(store(), s.id, t0 + IDLE_MS + 10_000);
      assert.equal(after.meta.lastActiveAt, t0 + 40_000);
      assert.equal(after.meta.idleExpiresAt, t0 + 40_000 + IDLE_MS);
      assert.equal(after.devices.devices[s.deviceId]?.lastActiveAt, t0 + 40_000);
      assert.deepEqual(after.versions, before.versions);
      // Touching with an older time moves nothing back.
      await store().touch(s.id, s.deviceId, t0 + 10_000, stamp());
      assert.equal((await loadAll(store(), s.id, t0 + 50_000)).meta.idleExpiresAt, t0 + 40_000 + IDLE_MS);
    });

    it('never slides past the absolute lifetime', async () => {
      const t0 = Date.now();
      const absoluteMs = 45_000;
      const s = await signIn(store(), { now: t0, absoluteMs });
      const result = await applied(store(), s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 }, t0 + 30_000);
      assert.equal(result.session.meta.idleExpiresAt, t0 + absoluteMs);
      await store().touch(s.id, s.deviceId, t0 + 40_000, stamp());
      assert.ok(await store().load(s.id, [], t0 + absoluteMs - 1));
      assert.equal(await store().load(s.id, [], t0 + absoluteMs), null);
    });

    it('an absolute deadline caps every slide: touch, write and read near it leave idleExpiresAt at the cap', async () => {
      const t0 = Date.now();
      const absoluteMs = 50_000;
      const s = await signIn(store(), { now: t0, absoluteMs });
      await store().touch(s.id, s.deviceId, t0 + 20_000, stamp());
      assert.equal((await loadAll(store(), s.id, t0 + 20_000)).meta.idleExpiresAt, t0 + absoluteMs, 'a touch slides to the cap, not past it');
      const written = await applied(store(), s.id, s.caller, { kind: 'prefs.patch', patch: { late: true } }, t0 + 45_000);
      assert.equal(written.session.meta.idleExpiresAt, t0 + absoluteMs, 'a write slides to the cap, not past it');
      const loaded = await loadAll(store(), s.id, t0 + 49_000);
      assert.equal(loaded.meta.lastActiveAt, t0 + 45_000);
      assert.equal(loaded.meta.idleExpiresAt, t0 + absoluteMs);
      assert.ok(loaded.meta.idleExpiresAt <= loaded.meta.absoluteExpiresAt);
    });

    it('a sign-in of a user whose session expired creates a new session', async () => {
      const t0 = Date.now();
      const userId = `expired-${Math.random()}`;
      const old = await signIn(store(), { userId, now: t0, absoluteMs: ABSOLUTE_MS });
      const later = t0 + IDLE_MS + 5;
      const fresh = await signIn(store(), { userId, now: later });
      assert.equal(fresh.result.status, 'created');
      assert.notEqual(fresh.id, old.id);
      assert.equal(await store().findUserSession(userId, later), fresh.id);
    });
  });

  describe('deadline of the data', () => {
    // Real waits: the Redis engines hand every key a deadline that Redis enforces by its own clock.
    const IDLE = 2_000;
    const store = useStore(makeStore, settings({}, IDLE));

    it('cart, prefs and history written once outlive an idle timeout while other activity keeps the session alive', async () => {
      // Regression: a part whose key kept the deadline of its own last write vanished one idle
      // timeout later, although touches (or writes to other parts) kept the session alive.
      const touched = await signIn(store(), { idleMs: IDLE });
      const busy = await signIn(store(), { idleMs: IDLE });
      for (const s of [touched, busy]) {
        await applied(store(), s.id, s.caller, { kind: 'history.add', productId: 'seen-once', viewedAt: Date.now() });
        await applied(store(), s.id, s.caller, { kind: 'prefs.patch', patch: { theme: 'dark' } });
        await applied(store(), s.id, s.caller, { kind: 'cart.add', sku: 'KEPT', quantity: 2 });
      }
      const writtenAt = Date.now();
      // `touched` is only touched; `busy` gets writes to its devices (a rotation each time), never to its data.
      let busyCaller = busy.caller;
      for (let round = 0; Date.now() < writtenAt + IDLE + 400; round += 1) {
        await sleep(IDLE / 8);
        await store().touch(touched.id, touched.deviceId, Date.now(), stamp());
        const hash = randomHash();
        await applied(store(), busy.id, busyCaller, { kind: 'device.rotate', deviceId: busy.deviceId, hash, graceMs: 1_000 });
        busyCaller = { kind: 'device', deviceId: busy.deviceId, tokenHash: hash };
      }
      for (const [name, s] of [['touched', touched], ['busy', busy]] as const) {
        const loaded = await loadAll(store(), s.id);
        assert.equal(quantityOf(loaded.cart!.lines.KEPT), 2, `${name}: the cart outlived its write by an idle timeout`);
        assert.deepEqual(loaded.prefs!.keys.theme?.v, 'dark', `${name}: the prefs outlived their write by an idle timeout`);
        assert.deepEqual(historyItems(loaded.history!).map((item) => item.productId), ['seen-once'], `${name}: the history outlived its write`);
      }
    });
  });
}
