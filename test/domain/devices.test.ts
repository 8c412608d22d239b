import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RETIRED_HASHES_KEPT,
  deviceViews,
  isLive,
  mergeDevice,
  mergeDevices,
  newDevice,
  revokeDevice,
  rotateDevice,
  type DeviceState,
} from '../../src/domain/devices.js';
import { matchToken } from '../../src/tokens/token-match.js';
import { BASE_TIME, canonical, hlcAt, Region } from './support.js';

const GRACE_MS = 10_000;
const IDLE_MS = 3_600_000;
/** The matching context at a time, with an idle timeout no test here reaches. */
const at = (now: number) => ({ now, idleTimeoutMs: IDLE_MS });
const device = (): DeviceState => newDevice({ name: 'phone', kind: 'app' }, 'h0', BASE_TIME, hlcAt(BASE_TIME, 'eu'));

function rotations(start: DeviceState, count: number): DeviceState {
  let d = start;
  for (let i = 1; i <= count; i++) d = rotateDevice(d, `h${i}`, BASE_TIME + i * 1_000, GRACE_MS, hlcAt(BASE_TIME + i * 1_000, 'eu'));
  return d;
}

describe('device token rotation', () => {
  test('makes the new hash current and keeps the previous one for the grace window', () => {
    const rotated = rotations(device(), 1);
    assert.equal(rotated.gen, 1);
    assert.equal(rotated.hash, 'h1');
    assert.equal(rotated.prevHash, 'h0');
    assert.equal(rotated.graceUntil, BASE_TIME + 1_000 + GRACE_MS);
    assert.deepEqual(rotated.retired, []);
    assert.equal(rotated.lastActiveAt, BASE_TIME + 1_000);
  });

  test('accepts the previous token only inside the grace window, then treats it as reuse', () => {
    const rotated = rotations(device(), 1);
    assert.equal(matchToken(rotated, { hash: 'h1' }, at(BASE_TIME + 1_001)), 'current');
    assert.equal(matchToken(rotated, { hash: 'h0' }, at(BASE_TIME + 1_000 + GRACE_MS - 1)), 'grace');
    assert.equal(matchToken(rotated, { hash: 'h0' }, at(BASE_TIME + 1_000 + GRACE_MS)), 'reused');
  });

  test('retires older hashes newest first and remembers only the last few', () => {
    const rotated = rotations(device(), RETIRED_HASHES_KEPT + 3);
    const n = RETIRED_HASHES_KEPT + 3;
    assert.equal(rotated.prevHash, `h${n - 1}`);
    assert.deepEqual(rotated.retired, Array.from({ length: RETIRED_HASHES_KEPT }, (_, i) => `h${n - 2 - i}`));
    assert.equal(matchToken(rotated, { hash: `h${n - 2}` }, at(BASE_TIME)), 'reused');
    assert.equal(matchToken(rotated, { hash: 'h0' }, at(BASE_TIME)), 'none', 'a token without a generation, forgotten beyond the kept hashes');
  });

  test('a token of any earlier generation is reuse, however many rotations ago', () => {
    const n = RETIRED_HASHES_KEPT + 3;
    const rotated = rotations(device(), n);
    for (let gen = 0; gen < n - 1; gen += 1) {
      assert.equal(matchToken(rotated, { hash: `h${gen}`, gen }, at(BASE_TIME + n * 1_000 + GRACE_MS)), 'reused', `generation ${gen}`);
    }
    assert.equal(matchToken(rotated, { hash: `h${n}`, gen: n }, at(BASE_TIME)), 'current');
    assert.equal(matchToken(rotated, { hash: `h${n}`, gen: n - 1 }, at(BASE_TIME)), 'none', 'the current secret with a forged generation');
    assert.equal(matchToken(rotated, { hash: 'unknown', gen: n + 1 }, at(BASE_TIME)), 'none', 'a generation the device never issued');
  });

  test('a device idle past the idle timeout accepts no token, though the session may live on', () => {
    const d = device();
    assert.equal(matchToken(d, { hash: 'h0' }, { now: BASE_TIME + 999, idleTimeoutMs: 1_000 }), 'current');
    assert.equal(matchToken(d, { hash: 'h0' }, { now: BASE_TIME + 1_000, idleTimeoutMs: 1_000 }), 'none');
  });

  test('a revoked device accepts no token, and revoking again keeps the first time', () => {
    const revoked = revokeDevice(rotations(device(), 1), BASE_TIME + 5_000);
    assert.equal(isLive(revoked), false);
    assert.equal(matchToken(revoked, { hash: 'h1' }, at(BASE_TIME + 5_001)), 'none');
    assert.equal(revokeDevice(revoked, BASE_TIME + 9_000).revokedAt, BASE_TIME + 5_000);
  });

  test('a rotated or revoked device cannot be rotated once revoked', () => {
    const eu = new Region('eu');
    eu.do({ kind: 'device.revoke', deviceId: 'd0' });
    const outcome = eu.try({ kind: 'device.rotate', deviceId: 'd0', hash: 'x', graceMs: GRACE_MS });
    assert.equal(outcome.ok ? 'ok' : outcome.code, 'not-found');
    const again = eu.try({ kind: 'device.revoke', deviceId: 'd0' });
    assert.equal(again.ok ? 'ok' : again.code, 'not-found');
  });
});

describe('device merge', () => {
  test('revocation wins over a concurrent rotation, in either order', () => {
    const eu = new Region('eu');
    const us = eu.peer('us');
    const revoke = eu.do({ kind: 'device.revoke', deviceId: 'd0' });
    const rotate = us.do({ kind: 'device.rotate', deviceId: 'd0', hash: 'h-new', graceMs: GRACE_MS });
    eu.receive(rotate);
    us.receive(revoke);
    for (const region of [eu, us]) {
      const d0 = region.state.devices.devices.d0!;
      assert.equal(isLive(d0), false, region.origin);
      assert.equal(matchToken(d0, { hash: 'h-new' }, at(region.wall)), 'none');
    }
    assert.deepStrictEqual(canonical(eu.state.devices), canonical(us.state.devices));
  });

  test('keeps the earliest of two revocation times', () => {
    const d = device();
    const merged = mergeDevice(revokeDevice(d, BASE_TIME + 9), revokeDevice(d, BASE_TIME + 5));
    assert.equal(merged.revokedAt, BASE_TIME + 5);
  });

  test('the higher generation owns the token fields whatever its stamp', () => {
    const rotated = rotations(device(), 2);
    const stale = { ...device(), t: hlcAt(BASE_TIME + 99_000, 'us') };
    assert.equal(mergeDevice(stale, rotated).hash, 'h2');
    assert.equal(mergeDevice(rotated, stale).hash, 'h2');
  });

  test('between rotations of one generation the later stamp wins', () => {
    const base = device();
    const fromEu = rotateDevice(base, 'h-eu', BASE_TIME + 1_000, GRACE_MS, hlcAt(BASE_TIME + 1_000, 'eu'));
    const fromUs = rotateDevice(base, 'h-us', BASE_TIME + 2_000, GRACE_MS, hlcAt(BASE_TIME + 2_000, 'us'));
    assert.equal(mergeDevice(fromEu, fromUs).hash, 'h-us');
    assert.equal(mergeDevice(fromUs, fromEu).hash, 'h-us');
  });

  test('last activity is the latest seen anywhere', () => {
    const d = device();
    const merged = mergeDevice({ ...d, lastActiveAt: BASE_TIME + 50 }, rotations(d, 1));
    assert.equal(merged.lastActiveAt, BASE_TIME + 1_000);
    assert.equal(mergeDevice(rotations(d, 1), { ...d, lastActiveAt: BASE_TIME + 5_000 }).lastActiveAt, BASE_TIME + 5_000);
  });

  test('devices known on one side only are kept', () => {
    const merged = mergeDevices({ devices: { a: device() } }, { devices: { b: device() } });
    assert.deepEqual(Object.keys(merged.devices).sort(), ['a', 'b']);
  });
});

describe('device limit and views', () => {
  test('a device beyond the limit is refused, and revoked devices do not count', () => {
    const eu = new Region('eu'); // starts with d0; the test limit is 4
    for (const id of ['d1', 'd2', 'd3']) eu.do({ kind: 'device.add', deviceId: id, label: {}, hash: `h-${id}` });
    const refused = eu.try({ kind: 'device.add', deviceId: 'd4', label: {}, hash: 'h-d4' });
    assert.equal(refused.ok ? 'ok' : refused.code, 'payload-too-large');
    assert.equal(eu.state.devices.devices.d4, undefined, 'nothing written');
    eu.do({ kind: 'device.revoke', deviceId: 'd1' });
    assert.equal(eu.try({ kind: 'device.add', deviceId: 'd4', label: {}, hash: 'h-d4' }).ok, true);
  });

  test('lists live devices in sign-in order and marks the current one', () => {
    const eu = new Region('eu');
    eu.do({ kind: 'device.add', deviceId: 'tablet', label: { name: 'Tablet', kind: 'app', ip: '10.0.0.1' }, hash: 'h-t' }, 1_000);
    eu.do({ kind: 'device.add', deviceId: 'old', label: {}, hash: 'h-o' }, 1_000);
    eu.do({ kind: 'device.revoke', deviceId: 'old' });
    const views = deviceViews(eu.state.devices, 'tablet');
    assert.deepEqual(views.map((v) => [v.id, v.current]), [['d0', false], ['tablet', true]]);
    assert.deepEqual(Object.keys(views[1]!).sort(), ['createdAt', 'current', 'id', 'kind', 'lastActiveAt', 'name'], 'no hashes, no ip');
  });

  test('ending the session revokes every live device and marks the session ended once', () => {
    const eu = new Region('eu');
    eu.do({ kind: 'device.add', deviceId: 'd1', label: {}, hash: 'h1' });
    const records = eu.do({ kind: 'session.end' }, 10);
    assert.deepEqual(records.map((r) => r.part), ['devices', 'meta']);
    assert.deepEqual(deviceViews(eu.state.devices, null), []);
    const endedAt = eu.state.meta.endedAt;
    assert.equal(endedAt, eu.wall);
    eu.do({ kind: 'session.end' }, 10);
    assert.equal(eu.state.meta.endedAt, endedAt);
  });
});
