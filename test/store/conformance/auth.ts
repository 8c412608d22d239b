/** Devices and tokens (who may change a session), and If-Match versions. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Caller } from '../../../src/store/session-store.js';
import { admin, applied, loadAll, randomHash, settings, signIn, SMALL_LIMITS, stamp, useStore, type StoreFactory } from './support.js';

export function authSuite(makeStore: StoreFactory): void {
  describe('devices and tokens', () => {
    const store = useStore(makeStore, settings(SMALL_LIMITS));
    const addToCart = (sessionId: string, caller: Caller, now = Date.now()) =>
      store().apply(sessionId, caller, { kind: 'cart.add', sku: 'A', quantity: 1 }, { now, hlc: stamp() });

    it('refuses a caller whose token is not the current one, and writes nothing', async () => {
      const s = await signIn(store());
      const before = await loadAll(store(), s.id);
      const strangers: Caller[] = [
        { kind: 'device', deviceId: s.deviceId, tokenHash: randomHash() },
        { kind: 'device', deviceId: 'unknown-device-id', tokenHash: s.hash },
        { kind: 'device', deviceId: '', tokenHash: s.hash },
      ];
      for (const caller of strangers) assert.deepEqual(await addToCart(s.id, caller), { status: 'unauthorized' });
      const after = await loadAll(store(), s.id);
      assert.deepEqual(after.cart, before.cart);
      assert.deepEqual(after.versions, before.versions);
    });

    it('lets an operator act without a token', async () => {
      const s = await signIn(store());
      assert.equal((await addToCart(s.id, admin)).status, 'applied');
    });

    it('adds devices up to the limit, then rejects and writes nothing', async () => {
      const s = await signIn(store());
      for (let i = 1; i < SMALL_LIMITS.devices; i += 1) {
        await applied(store(), s.id, admin, { kind: 'device.add', deviceId: `extra${i}`, label: { name: `d${i}` }, hash: randomHash() });
      }
      const before = await loadAll(store(), s.id);
      const result = await store().apply(s.id, admin, { kind: 'device.add', deviceId: 'one-too-many', label: {}, hash: randomHash() }, { now: Date.now(), hlc: stamp() });
      assert.equal(result.status, 'rejected');
      if (result.status === 'rejected') assert.equal(result.code, 'payload-too-large');
      const after = await loadAll(store(), s.id);
      assert.deepEqual(after.devices, before.devices);
      assert.deepEqual(after.versions, before.versions);
      // A revoked device frees its place.
      await applied(store(), s.id, admin, { kind: 'device.revoke', deviceId: 'extra1' });
      await applied(store(), s.id, admin, { kind: 'device.add', deviceId: 'one-too-many', label: {}, hash: randomHash() });
    });

    it('rotation: the new token works; the previous one only inside the grace window', async () => {
      const t0 = Date.now();
      const s = await signIn(store(), { now: t0 });
      const next = randomHash();
      const graceMs = 5_000;
      const rotated = await applied(store(), s.id, s.caller, { kind: 'device.rotate', deviceId: s.deviceId, hash: next, graceMs }, t0 + 10);
      const device = rotated.session.devices.devices[s.deviceId]!;
      assert.equal(device.gen, 1);
      assert.equal(device.hash, next);
      assert.equal(device.prevHash, s.hash);
      assert.equal(device.graceUntil, t0 + 10 + graceMs);
      const fresh: Caller = { kind: 'device', deviceId: s.deviceId, tokenHash: next };
      assert.equal((await addToCart(s.id, fresh, t0 + 20)).status, 'applied');
      assert.equal((await addToCart(s.id, s.caller, t0 + 10 + graceMs - 1)).status, 'applied');
      assert.deepEqual(await addToCart(s.id, s.caller, t0 + 10 + graceMs), { status: 'unauthorized' });
      // Rotating again retires the first token for good; the family remembers it.
      const again = await applied(store(), s.id, fresh, { kind: 'device.rotate', deviceId: s.deviceId, hash: randomHash(), graceMs }, t0 + 30);
      assert.deepEqual(again.session.devices.devices[s.deviceId]!.retired, [s.hash]);
      assert.deepEqual(await addToCart(s.id, s.caller, t0 + 31), { status: 'unauthorized' });
    });

    it('revoking one device refuses its token; the other device keeps working', async () => {
      const userId = `two-devices-${Math.random()}`;
      const a = await signIn(store(), { userId });
      const b = await signIn(store(), { userId });
      const revoked = await applied(store(), a.id, a.caller, { kind: 'device.revoke', deviceId: a.deviceId });
      assert.ok(revoked.session.devices.devices[a.deviceId]!.revokedAt !== undefined);
      assert.deepEqual(await addToCart(a.id, a.caller), { status: 'unauthorized' });
      assert.equal((await addToCart(a.id, b.caller)).status, 'applied');
      assert.ok(await store().load(a.id, [], Date.now()));
    });

    it('rotating or revoking an unknown or revoked device is not-found, and writes nothing', async () => {
      const userId = `gone-${Math.random()}`;
      const a = await signIn(store(), { userId });
      const b = await signIn(store(), { userId });
      await applied(store(), a.id, admin, { kind: 'device.revoke', deviceId: b.deviceId });
      const before = await loadAll(store(), a.id);
      for (const op of [
        { kind: 'device.revoke', deviceId: 'nope' },
        { kind: 'device.revoke', deviceId: b.deviceId },
        { kind: 'device.rotate', deviceId: b.deviceId, hash: randomHash(), graceMs: 1000 },
      ] as const) {
        const result = await store().apply(a.id, admin, op, { now: Date.now(), hlc: stamp() });
        assert.equal(result.status, 'rejected');
        if (result.status === 'rejected') assert.equal(result.code, 'not-found');
      }
      const after = await loadAll(store(), a.id);
      assert.deepEqual(after.devices, before.devices);
      assert.deepEqual(after.versions, before.versions);
    });
  });

  describe('versions and If-Match', () => {
    const store = useStore(makeStore);

    it("applies when If-Match names the current version, and moves only that part's version", async () => {
      const s = await signIn(store());
      const before = await loadAll(store(), s.id);
      const result = await applied(store(), s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 }, Date.now(), before.versions.cart);
      assert.notEqual(result.session.versions.cart, before.versions.cart);
      assert.equal(result.session.versions.prefs, before.versions.prefs);
      assert.equal(result.session.versions.history, before.versions.history);
      assert.equal(result.session.versions.devices, before.versions.devices);
      const prefs = await applied(store(), s.id, s.caller, { kind: 'prefs.patch', patch: { a: 1 } }, Date.now(), before.versions.prefs);
      assert.notEqual(prefs.session.versions.prefs, before.versions.prefs);
      assert.equal(prefs.session.versions.cart, result.session.versions.cart);
    });

    it('a stale version gets version-mismatch with the current one, and nothing is written', async () => {
      const s = await signIn(store());
      const stale = (await loadAll(store(), s.id)).versions.cart;
      const moved = await applied(store(), s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
      const current = moved.session.versions.cart;
      const before = await loadAll(store(), s.id);
      const result = await store().apply(s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 5 }, { now: Date.now(), hlc: stamp(), ifVersion: stale });
      assert.deepEqual(result, { status: 'version-mismatch', version: current });
      const garbage = await store().apply(s.id, s.caller, { kind: 'cart.clear' }, { now: Date.now(), hlc: stamp(), ifVersion: 'not-a-version' });
      assert.equal(garbage.status, 'version-mismatch');
      const after = await loadAll(store(), s.id);
      assert.deepEqual(after.cart, before.cart);
      assert.deepEqual(after.versions, before.versions);
      assert.deepEqual(after.meta, before.meta);
    });

    it('of concurrent writers holding one version, exactly one wins', async () => {
      const s = await signIn(store());
      const version = (await loadAll(store(), s.id)).versions.prefs;
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store().apply(s.id, s.caller, { kind: 'prefs.patch', patch: { winner: i } }, { now: Date.now(), hlc: stamp(), ifVersion: version }),
        ),
      );
      assert.equal(results.filter((r) => r.status === 'applied').length, 1);
      assert.equal(results.filter((r) => r.status === 'version-mismatch').length, 9);
    });
  });
}
