/**
 * Every engine against the reference rules: a long pseudo-random sequence of
 * operations (valid, over a limit, with stale versions, old or foreign
 * tokens, touches, transient devices that expire, re-authentications, sign-ins
 * that end the least recently active device, requests seen from changing
 * addresses) applied to a store and, in memory, to `transition()` must give
 * the same answers — records and versions included — token verdicts, and the
 * same state.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newDevice } from '../../../src/domain/devices.js';
import type { Json, JsonObject } from '../../../src/domain/prefs.js';
import type { Operation } from '../../../src/domain/operations.js';
import { EMPTY_VERSION } from '../../../src/domain/versions.js';
import { checkCredential, loadedView, mergeTransition, newStoredSession, touchTransition, transition, type StoredSession } from '../../../src/store/transition.js';
import type { Seen } from '../../../src/domain/devices.js';
import type { CartLineState, CartState } from '../../../src/domain/cart.js';
import type { ChangeRecord } from '../../../src/domain/parts.js';
import type { Caller, StoreSettings } from '../../../src/store/session-store.js';
import { newDeviceId, newSessionId } from '../../../src/tokens/session-token.js';
import { pick, random, randomHash, settings, stamp, useStore, type StoreFactory } from './support.js';

const STEPS = 300;
/** Replay or widen the search with TESSERA_PARITY_SEEDS=1,2,3. */
const SEEDS = (process.env.TESSERA_PARITY_SEEDS ?? '7,42').split(',').map(Number);
const LIMITS = { cartLines: 4, maxQuantity: 6, prefsBytes: 160, historyItems: 4, devices: 3 };
const SKUS = ['A', 'B', 'C', 'D', 'E', 'sku/with"quote', 'é€'];
const PRODUCTS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
const PREF_KEYS = ['theme', 'layout', 'lang', 'k/"\u0001', '10'];

function prefValue(next: () => number, depth = 0): Json {
  const r = next();
  if (r < 0.15) return null;
  if (r < 0.3) return Math.floor(next() * 1000) / 8;
  if (r < 0.45) return pick(next, ['dark', 'a/b', 'ü', '', 'x'.repeat(30)]);
  if (r < 0.55) return [pick(next, [1, 'two', null]), {}];
  if (r < 0.6) return next() < 0.5;
  if (depth > 2) return 'leaf';
  const object: JsonObject = {};
  for (const key of ['a', 'b', 'z', '1']) if (next() < 0.5) object[key] = prefValue(next, depth + 1);
  return object;
}

export function paritySuite(makeStore: StoreFactory): void {
  describe('parity with the reference rules', () => {
    const storeSettings: StoreSettings = settings(LIMITS);
    const store = useStore(makeStore, storeSettings);

    for (const seed of SEEDS) {
      it(`a random sequence of ${STEPS} operations (seed ${seed}) gives the reference answers and state`, async () => {
        const next = random(seed);
        const t0 = Date.now();
        let now = t0;
        const sessionId = newSessionId();
        const firstDevice = newDeviceId();
        const firstHash = randomHash();
        const meta = {
          id: sessionId, userId: null, createdAt: now, lastActiveAt: now,
          idleExpiresAt: now + storeSettings.idleTimeoutMs, absoluteExpiresAt: now + 10 * 60_000, csrfSecret: 's',
        };
        const hlc = stamp();
        const device = newDevice({ name: 'first' }, firstHash, now, hlc);
        await store().create({ meta, deviceId: firstDevice, device }, { now, hlc });
        let model: StoredSession = newStoredSession({ ...meta, t: hlc }, firstDevice, device);
        const deviceIds = [firstDevice, 'ghost-device'];

        for (let step = 0; step < STEPS; step += 1) {
          now += Math.floor(next() * 400);
          const caller = chooseCaller(next, model, deviceIds);
          const seen = chooseSeen(next);
          if (next() < 0.05) {
            const deviceId = pick(next, deviceIds);
            const touchStamp = stamp();
            await store().touch(sessionId, deviceId, now, touchStamp, seen);
            model = touchTransition(model, deviceId, now, touchStamp, storeSettings, seen)?.next ?? model;
            continue;
          }
          if (next() < 0.05 && caller.kind === 'device') {
            // The token's verdict and its device's authentication, as a read sees them.
            const credential = { deviceId: caller.deviceId, hash: caller.tokenHash };
            const loaded = await store().load(sessionId, [], now, { credential });
            const live = model.meta.endedAt === undefined && now < Math.min(model.meta.idleExpiresAt, model.meta.absoluteExpiresAt);
            const expected = live ? checkCredential(model, credential, now, storeSettings) : null;
            const got = loaded === null ? null : { credential: loaded.credential, credentialActiveAt: loaded.credentialActiveAt, credentialAuth: loaded.credentialAuth };
            assert.deepEqual(canonicalOf(got), canonicalOf(expected), `step ${step}: load with ${JSON.stringify(credential)}`);
            continue;
          }
          if (next() < 0.06) {
            // A guest's cart signing in: lines of other writers, which later decreases must retract alike.
            const record: ChangeRecord = { sessionId, part: 'cart', state: guestCart(next, now), hlc: stamp(), origin: 'local' };
            const [report] = await store().merge([record], now);
            const outcome = mergeTransition(model, [record], now, storeSettings);
            assert.equal(outcome.kind, 'store');
            if (outcome.kind === 'store') {
              assert.deepEqual(report, outcome.report, `step ${step}: merge report`);
              model = outcome.next;
            }
            continue;
          }
          const op = chooseOperation(next, model, deviceIds, now, step);
          if (op.kind === 'device.add') deviceIds.push(op.deviceId);
          const versions = loadedView(model, []).versions;
          const ifVersion = next() < 0.1 ? pick(next, [versions.cart, versions.prefs, EMPTY_VERSION, 'ffffffffffffffff']) : undefined;
          const options = { now, hlc: stamp(), ...(ifVersion === undefined ? {} : { ifVersion }), ...(seen === undefined ? {} : { seen }) };
          const outcome = transition(model, caller, op, options, storeSettings);
          const result = await store().apply(sessionId, caller, op, options);
          assert.deepEqual(result, outcome.result, `step ${step}: ${JSON.stringify(op)} by ${JSON.stringify(caller)}`);
          if ('next' in outcome) model = outcome.next;
        }

        const loaded = await store().load(sessionId, ['cart', 'prefs', 'history'], now);
        const live = model.meta.endedAt === undefined && now < Math.min(model.meta.idleExpiresAt, model.meta.absoluteExpiresAt);
        assert.deepEqual(loaded, live ? loadedView(model, ['cart', 'prefs', 'history']) : null);
      });
    }
  });
}

/** Where a request came from, now and then (activity records it when due). */
function chooseSeen(next: () => number): Seen | undefined {
  const r = next();
  if (r < 0.6) return undefined;
  if (r < 0.75) return { ip: pick(next, ['203.0.113.0', '2001:db8:1::']) };
  if (r < 0.85) return { country: pick(next, ['DE', 'US-CA']) };
  return { ip: pick(next, ['198.51.100.0', '2001:db8:2::']), country: pick(next, ['FR', 'JP']) };
}

/** Without undefined properties, for comparing. */
function canonicalOf(value: unknown): unknown {
  return value === null ? null : JSON.parse(JSON.stringify(value));
}

function guestCart(next: () => number, now: number): CartState {
  const lines: Record<string, CartLineState> = {};
  for (const sku of SKUS) {
    if (next() < 0.3) lines[sku] = { n: { [`guest-${Math.floor(next() * 3)}/local`]: [1 + Math.floor(next() * 2), 0] }, at: now - 1000 };
  }
  return { lines };
}

function chooseCaller(next: () => number, model: StoredSession, deviceIds: readonly string[]): Caller {
  const r = next();
  if (r < 0.1) return { kind: 'admin' };
  const live = Object.keys(model.devices.devices).filter((id) => model.devices.devices[id]!.revokedAt === undefined);
  const deviceId = live.length > 0 && next() < 0.85 ? pick(next, live) : pick(next, deviceIds);
  const device = model.devices.devices[deviceId];
  if (device === undefined || r > 0.97) return { kind: 'device', deviceId, tokenHash: randomHash() };
  const tokenHash = r < 0.85 || device.prevHash === undefined ? device.hash : device.prevHash;
  return { kind: 'device', deviceId, tokenHash };
}

function chooseOperation(next: () => number, model: StoredSession, deviceIds: readonly string[], now: number, step: number): Operation {
  const r = next();
  const sku = pick(next, SKUS);
  const attributes = next() < 0.3 ? { size: pick(next, ['S', 'M', 'L/XL']), n: Math.floor(next() * 3) } : undefined;
  if (r < 0.22) return { kind: 'cart.add', sku, quantity: 1 + Math.floor(next() * 3), ...(attributes ? { attributes } : {}) };
  if (r < 0.32) return { kind: 'cart.set', sku, quantity: Math.floor(next() * 8), ...(attributes ? { attributes } : {}) };
  if (r < 0.4) return { kind: 'cart.remove', sku };
  if (r < 0.43) return { kind: 'cart.clear' };
  if (r < 0.62) {
    const patch: JsonObject = {};
    for (const key of PREF_KEYS) if (next() < 0.35) patch[key] = prefValue(next);
    return { kind: 'prefs.patch', patch };
  }
  if (r < 0.82) return { kind: 'history.add', productId: pick(next, PRODUCTS), viewedAt: now - Math.floor(next() * 5) * 100 };
  if (r < 0.88) {
    const label = next() < 0.5 ? { name: 'phone', userAgent: 'UA/1.0 (x)', ip: '192.0.2.0', country: 'NL' } : {};
    const auth = {
      ...(next() < 0.5 ? { authLevel: pick(next, ['pwd', 'otp', 'webauthn']) } : {}),
      // A transient sign-in: shorter limits than the session's, which this sequence outlives.
      ...(next() < 0.4 ? { transient: { idleTimeoutMs: 1_500 + Math.floor(next() * 2_000), absoluteExpiresAt: now + 4_000 + Math.floor(next() * 8_000) } } : {}),
    };
    const atLimit = next() < 0.5 ? ('end-least-recent' as const) : next() < 0.5 ? ('refuse' as const) : undefined;
    return { kind: 'device.add', deviceId: `${newDeviceId()}`, label, hash: randomHash(), auth, ...(atLimit ? { atLimit } : {}) };
  }
  if (r < 0.96) {
    const reauth = next() < 0.3 ? (next() < 0.5 ? { authLevel: pick(next, ['otp', 'webauthn']) } : {}) : undefined;
    return { kind: 'device.rotate', deviceId: pick(next, deviceIds), hash: randomHash(), graceMs: 500 + Math.floor(next() * 1500), ...(reauth ? { reauth } : {}) };
  }
  if (r < 0.985 || step < 250) {
    const reason = next() < 0.5 ? pick(next, ['logout', 'revoked', 'reuse'] as const) : undefined;
    return { kind: 'device.revoke', deviceId: pick(next, [...deviceIds, 'missing']), ...(reason ? { reason } : {}) };
  }
  return Object.keys(model.devices.devices).length > 0 ? { kind: 'session.end', ...(next() < 0.5 ? { reason: 'ended' as const } : {}) } : { kind: 'cart.clear' };
}
