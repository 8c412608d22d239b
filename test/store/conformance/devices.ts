/**
 * What a device carries beyond its token: when and how the user authenticated
 * (and re-authenticated), a transient ("remember me" unticked) sign-in's own
 * limits, the device limit that ends the least recently active device, and
 * where the device was last seen.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Caller } from '../../../src/store/session-store.js';
import { admin, applied, IDLE_MS, loadAll, randomHash, settings, signIn, SMALL_LIMITS, stamp, useStore, type StoreFactory } from './support.js';

export function devicesSuite(makeStore: StoreFactory): void {
  describe('device authentication, remember me, the device limit, where seen', () => {
    // Activity is recorded only every 10 s, as in production it is every few minutes.
    const store = useStore(makeStore, settings(SMALL_LIMITS, IDLE_MS, { slideAfterMs: 10_000 }));
    const addToCart = (sessionId: string, caller: Caller, now: number) =>
      store().apply(sessionId, caller, { kind: 'cart.add', sku: 'A', quantity: 1 }, { now, hlc: stamp() });

    it('reports the token device’s authentication time, level and persistence with every checked load', async () => {
      const t0 = Date.now();
      const s = await signIn(store(), { userId: `auth-${Math.random()}`, now: t0, auth: { authLevel: 'pwd' } });
      const loaded = await store().load(s.id, [], t0 + 5, { credential: { deviceId: s.deviceId, hash: s.hash } });
      assert.equal(loaded?.credential, 'current');
      assert.deepEqual(loaded?.credentialAuth, { authenticatedAt: t0, authLevel: 'pwd', persistent: true });
    });

    it('a re-authentication rotates the token and records the new time and level; a plain rotation keeps them', async () => {
      const t0 = Date.now();
      const s = await signIn(store(), { userId: `step-up-${Math.random()}`, now: t0, auth: { authLevel: 'pwd' } });
      const next = randomHash();
      const stepped = await applied(store(), s.id, s.caller, { kind: 'device.rotate', deviceId: s.deviceId, hash: next, graceMs: 1_000, reauth: { authLevel: 'webauthn' } }, t0 + 100);
      const device = stepped.session.devices.devices[s.deviceId]!;
      assert.equal(device.gen, 1);
      assert.equal(device.authenticatedAt, t0 + 100);
      assert.equal(device.authLevel, 'webauthn');
      const fresh: Caller = { kind: 'device', deviceId: s.deviceId, tokenHash: next, gen: 1 };
      const rotated = await applied(store(), s.id, fresh, { kind: 'device.rotate', deviceId: s.deviceId, hash: randomHash(), graceMs: 1_000 }, t0 + 200);
      assert.equal(rotated.session.devices.devices[s.deviceId]!.authenticatedAt, t0 + 100);
      assert.equal(rotated.session.devices.devices[s.deviceId]!.authLevel, 'webauthn');
      // A step-up without a level drops the old one: the level says how the user authenticated last.
      const last = rotated.session.devices.devices[s.deviceId]!;
      const bare = await applied(store(), s.id, { kind: 'device', deviceId: s.deviceId, tokenHash: last.hash }, { kind: 'device.rotate', deviceId: s.deviceId, hash: randomHash(), graceMs: 1_000, reauth: {} }, t0 + 300);
      assert.equal(bare.session.devices.devices[s.deviceId]!.authLevel, undefined);
      assert.equal(bare.session.devices.devices[s.deviceId]!.authenticatedAt, t0 + 300);
    });

    it('a transient device is refused after its own idle timeout, while a persistent one of the session lives on', async () => {
      const t0 = Date.now();
      const userId = `transient-${Math.random()}`;
      const kept = await signIn(store(), { userId, now: t0 });
      const brief = await signIn(store(), { userId, now: t0, auth: { transient: { idleTimeoutMs: 5_000, absoluteExpiresAt: t0 + 3_000_000 } } });
      const loaded = await store().load(brief.id, [], t0 + 1, { credential: { deviceId: brief.deviceId, hash: brief.hash } });
      assert.equal(loaded?.credentialAuth?.persistent, false);
      assert.equal((await addToCart(brief.id, brief.caller, t0 + 4_999)).status, 'applied');
      // Its last recorded activity is its sign-in (activity is recorded every 10 s): idle 5 s since.
      assert.deepEqual(await addToCart(brief.id, brief.caller, t0 + 5_000), { status: 'unauthorized' });
      const verdict = await store().load(brief.id, [], t0 + 5_000, { credential: { deviceId: brief.deviceId, hash: brief.hash } });
      assert.equal(verdict?.credential, 'none');
      assert.equal((await addToCart(kept.id, kept.caller, t0 + 5_000)).status, 'applied');
    });

    it('a transient device is refused at its own absolute deadline, however active', async () => {
      const t0 = Date.now();
      const s = await signIn(store(), { now: t0, auth: { transient: { idleTimeoutMs: 20_000, absoluteExpiresAt: t0 + 25_000 } } });
      for (const at of [t0 + 9_000, t0 + 18_000, t0 + 24_999]) assert.equal((await addToCart(s.id, s.caller, at)).status, 'applied', `at +${at - t0}`);
      assert.deepEqual(await addToCart(s.id, s.caller, t0 + 25_000), { status: 'unauthorized' });
    });

    it('at the device limit, a sign-in that asks for it ends the least recently active device (revoked for "limit")', async () => {
      const t0 = Date.now();
      const userId = `limit-${Math.random()}`;
      const first = await signIn(store(), { userId, now: t0 });
      const second = await signIn(store(), { userId, now: t0 + 1 });
      const third = await signIn(store(), { userId, now: t0 + 2 });
      // The first device was used last: the second is the least recently active.
      await store().touch(first.id, first.deviceId, t0 + 20_000, stamp());
      const refused = await signIn(store(), { userId, now: t0 + 20_001 });
      assert.equal(refused.result.status, 'rejected');
      const before = await loadAll(store(), first.id, t0 + 20_001);
      const fourth = await signIn(store(), { userId, now: t0 + 20_002, atDeviceLimit: 'end-least-recent' });
      assert.equal(fourth.result.status, 'joined');
      const after = await loadAll(store(), first.id, t0 + 20_002);
      const ended = after.devices.devices[second.deviceId]!;
      assert.equal(ended.revokedAt, t0 + 20_002);
      assert.equal(ended.revokedFor, 'limit');
      for (const live of [first, third, fourth]) assert.equal(after.devices.devices[live.deviceId]!.revokedAt, undefined);
      assert.notEqual(after.versions.devices, before.versions.devices);
      assert.deepEqual(await addToCart(second.id, second.caller, t0 + 20_003), { status: 'unauthorized' });
    });

    it('records where a device was seen with its activity, and only when activity is due', async () => {
      const t0 = Date.now();
      const s = await signIn(store(), { now: t0, label: { ip: '192.0.2.0', country: 'NL' } });
      await store().touch(s.id, s.deviceId, t0 + 1_000, stamp(), { ip: '203.0.113.0', country: 'DE' });
      let device = (await loadAll(store(), s.id, t0 + 1_000)).devices.devices[s.deviceId]!;
      assert.equal(device.lastIp, undefined, 'not due yet: nothing recorded');
      await store().touch(s.id, s.deviceId, t0 + 10_000, stamp(), { ip: '203.0.113.0', country: 'DE' });
      device = (await loadAll(store(), s.id, t0 + 10_000)).devices.devices[s.deviceId]!;
      assert.deepEqual([device.ip, device.country, device.lastIp, device.lastCountry, device.lastActiveAt], ['192.0.2.0', 'NL', '203.0.113.0', 'DE', t0 + 10_000]);
      const version = (await loadAll(store(), s.id, t0 + 10_000)).versions.devices;
      await store().apply(s.id, s.caller, { kind: 'history.add', productId: 'p', viewedAt: t0 }, { now: t0 + 20_000, hlc: stamp(), seen: { ip: '2001:db8::' } });
      const written = await loadAll(store(), s.id, t0 + 20_000);
      device = written.devices.devices[s.deviceId]!;
      assert.deepEqual([device.lastIp, device.lastCountry], ['2001:db8::', undefined]);
      assert.equal(written.versions.devices, version, 'where a device was seen is activity: no version moves');
    });

    it('a revocation and the end of a session record why', async () => {
      const userId = `why-${Math.random()}`;
      const a = await signIn(store(), { userId });
      const b = await signIn(store(), { userId });
      const c = await signIn(store(), { userId });
      await applied(store(), a.id, admin, { kind: 'device.revoke', deviceId: b.deviceId, reason: 'reuse' });
      const ended = await applied(store(), a.id, admin, { kind: 'session.end', reason: 'admin' });
      const devices = ended.records.find((r) => r.part === 'devices')!.state as { devices: Record<string, { revokedFor?: string }> };
      assert.deepEqual(Object.keys(devices.devices).sort(), [a.deviceId, c.deviceId].sort());
      for (const device of Object.values(devices.devices)) assert.equal(device.revokedFor, 'admin');
    });
  });
}
