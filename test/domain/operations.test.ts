import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cartItems } from '../../src/domain/cart.js';
import { DEFAULT_LIMITS } from '../../src/domain/limits.js';
import { partOf, type Operation, type OperationOutcome } from '../../src/domain/operations.js';
import { prefsObject, prefsSize } from '../../src/domain/prefs.js';
import { canonical, PROTOTYPE_NAMES, Region } from './support.js';

const refusal = (outcome: OperationOutcome): string => (outcome.ok ? 'accepted' : outcome.code);

/** A region with the documented default limits. */
const region = (): Region => new Region('eu', undefined, undefined, DEFAULT_LIMITS);

describe('limits in applyOperation', () => {
  test('a quantity above the maximum is refused and nothing is written', () => {
    const eu = region();
    eu.do({ kind: 'cart.add', sku: 'A', quantity: 990 });
    const before = canonical(eu.state);
    assert.equal(refusal(eu.try({ kind: 'cart.add', sku: 'A', quantity: 10 })), 'validation-failed');
    assert.equal(refusal(eu.try({ kind: 'cart.set', sku: 'B', quantity: DEFAULT_LIMITS.maxQuantity + 1 })), 'validation-failed');
    assert.deepStrictEqual(canonical(eu.state), before);
    assert.equal(refusal(eu.try({ kind: 'cart.add', sku: 'A', quantity: 9 })), 'accepted', 'exactly the maximum is fine');
  });

  test('the 201st line is refused, while existing lines still change', () => {
    const eu = region();
    for (let i = 0; i < DEFAULT_LIMITS.cartLines; i++) eu.do({ kind: 'cart.add', sku: `sku-${i}`, quantity: 1 });
    const before = canonical(eu.state);
    assert.equal(refusal(eu.try({ kind: 'cart.add', sku: 'one-too-many', quantity: 1 })), 'payload-too-large');
    assert.equal(refusal(eu.try({ kind: 'cart.set', sku: 'one-too-many', quantity: 1 })), 'payload-too-large');
    assert.deepStrictEqual(canonical(eu.state), before);
    assert.equal(refusal(eu.try({ kind: 'cart.add', sku: 'sku-0', quantity: 1 })), 'accepted');
    eu.do({ kind: 'cart.remove', sku: 'sku-1' });
    assert.equal(refusal(eu.try({ kind: 'cart.add', sku: 'one-too-many', quantity: 1 })), 'accepted', 'a removed line frees its place');
    assert.equal(cartItems(eu.state.cart).length, DEFAULT_LIMITS.cartLines);
  });

  test('preferences over the size limit are refused and nothing is written', () => {
    const eu = region();
    eu.do({ kind: 'prefs.patch', patch: { theme: 'dark' } });
    const before = canonical(eu.state);
    const big = 'x'.repeat(DEFAULT_LIMITS.prefsBytes);
    assert.equal(refusal(eu.try({ kind: 'prefs.patch', patch: { notes: big } })), 'payload-too-large');
    assert.deepStrictEqual(canonical(eu.state), before);
    // Exactly at the limit is accepted: {"notes":"…","theme":"dark"}
    const fits = 'x'.repeat(DEFAULT_LIMITS.prefsBytes - Buffer.byteLength('{"notes":"","theme":"dark"}'));
    assert.equal(refusal(eu.try({ kind: 'prefs.patch', patch: { notes: fits } })), 'accepted');
    assert.equal(prefsSize(eu.state.prefs), DEFAULT_LIMITS.prefsBytes);
    assert.equal(refusal(eu.try({ kind: 'prefs.patch', patch: { notes: null, more: fits } })), 'accepted', 'deleting makes room');
  });

  test('the device limit counts live devices only', () => {
    const eu = region(); // d0 is signed in
    for (let i = 1; i < DEFAULT_LIMITS.devices; i++) eu.do({ kind: 'device.add', deviceId: `d${i}`, label: {}, hash: `h${i}` });
    assert.equal(refusal(eu.try({ kind: 'device.add', deviceId: 'extra', label: {}, hash: 'hx' })), 'payload-too-large');
    eu.do({ kind: 'device.revoke', deviceId: 'd3' });
    assert.equal(refusal(eu.try({ kind: 'device.add', deviceId: 'extra', label: {}, hash: 'hx' })), 'accepted');
  });

  test('rotating or revoking an unknown device is refused as not found', () => {
    const eu = region();
    assert.equal(refusal(eu.try({ kind: 'device.rotate', deviceId: 'ghost', hash: 'h', graceMs: 1 })), 'not-found');
    assert.equal(refusal(eu.try({ kind: 'device.revoke', deviceId: 'ghost' })), 'not-found');
  });
});

describe('operations on ids named like Object.prototype members', () => {
  // Regression: `lines[sku]` found Object.prototype's `constructor` (and threw), and
  // assigning `items['__proto__']` changed the object's prototype instead of storing data.
  for (const id of PROTOTYPE_NAMES) {
    test(`"${id}" is an ordinary SKU, product id, preference key and device id`, () => {
      const eu = region();
      const us = eu.peer('us');
      const records = [
        eu.do({ kind: 'cart.add', sku: id, quantity: 2 }),
        eu.do({ kind: 'history.add', productId: id, viewedAt: eu.wall }),
        eu.do({ kind: 'prefs.patch', patch: JSON.parse(`{"${id}": {"a": 1}}`) }),
        eu.do({ kind: 'device.add', deviceId: id, label: {}, hash: 'h' }),
        us.do({ kind: 'cart.add', sku: id, quantity: 1 }),
      ];
      eu.do({ kind: 'device.rotate', deviceId: id, hash: 'h2', graceMs: 1 });
      eu.receive(...records);
      us.receive(...records);
      for (const r of [eu, us]) {
        assert.deepEqual(cartItems(r.state.cart).map((i) => [i.sku, i.quantity]), [[id, 3]], r.origin);
        assert.deepEqual(Object.keys(r.state.history.items), [id]);
        assert.deepEqual(Object.keys(prefsObject(r.state.prefs)), [id]);
        assert.ok(Object.hasOwn(r.state.devices.devices, id));
        assert.equal(Object.getPrototypeOf(r.state.cart.lines), Object.prototype);
      }
      eu.do({ kind: 'cart.remove', sku: id });
      assert.deepEqual(cartItems(eu.state.cart), []);
    });
  }
});

test('each operation belongs to one versioned part', () => {
  const table: [Operation['kind'], string][] = [
    ['cart.add', 'cart'],
    ['cart.set', 'cart'],
    ['cart.remove', 'cart'],
    ['cart.clear', 'cart'],
    ['prefs.patch', 'prefs'],
    ['history.add', 'history'],
    ['device.add', 'devices'],
    ['device.rotate', 'devices'],
    ['device.revoke', 'devices'],
    ['session.end', 'devices'],
  ];
  for (const [kind, part] of table) assert.equal(partOf({ kind } as Operation), part, kind);
});
