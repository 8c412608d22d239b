import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  EMPTY_CART,
  cartItems,
  mergeCart,
  quantityOf,
  rawQuantity,
  rebaseCart,
  type CartState,
} from '../../src/domain/cart.js';
import type { ChangeRecord } from '../../src/domain/parts.js';
import { canonical, joinAll, lineOf, Region, simulate, skuArb, stepsArb } from './support.js';

function quantities(region: Region): Record<string, number> {
  return Object.fromEntries(cartItems(region.state.cart).map((item) => [item.sku, item.quantity]));
}

/** eu, us and ap, all holding the same cart built on eu. */
function regionsWith(...setup: Parameters<Region['do']>[0][]): [Region, Region, Region] {
  const eu = new Region('eu');
  for (const op of setup) eu.do(op);
  return [eu, eu.peer('us', -700), eu.peer('ap', 400)];
}

function exchange(regions: readonly Region[], records: readonly (readonly ChangeRecord[])[]): void {
  for (const region of regions) region.receive(...records);
}

describe('cart conflict rules', () => {
  test('two tabs each adding 1 on one region add 2', () => {
    const [eu] = regionsWith({ kind: 'cart.add', sku: 'A', quantity: 1 });
    eu.do({ kind: 'cart.add', sku: 'A', quantity: 1 });
    eu.do({ kind: 'cart.add', sku: 'A', quantity: 1 });
    assert.deepEqual(quantities(eu), { A: 3 });
  });

  test('two tabs each adding 1 on two regions at once add 2 once the regions merge', () => {
    const [eu, us] = regionsWith({ kind: 'cart.add', sku: 'A', quantity: 1 });
    const fromEu = eu.do({ kind: 'cart.add', sku: 'A', quantity: 1 });
    const fromUs = us.do({ kind: 'cart.add', sku: 'A', quantity: 1 });
    exchange([eu, us], [fromEu, fromUs]);
    assert.deepEqual(quantities(eu), { A: 3 });
    assert.deepEqual(quantities(us), { A: 3 });
  });

  test('an add wins over a concurrent remove, in either arrival order', () => {
    const [eu, us] = regionsWith({ kind: 'cart.add', sku: 'A', quantity: 2 });
    const removal = eu.do({ kind: 'cart.remove', sku: 'A' });
    const addition = us.do({ kind: 'cart.add', sku: 'A', quantity: 1 });
    eu.receive(addition);
    us.receive(removal);
    assert.deepEqual(quantities(eu), { A: 1 });
    assert.deepEqual(quantities(us), { A: 1 });
  });

  test('an add wins over removes made concurrently in two other regions', () => {
    // Regression: each remove used to retract the quantity it saw, so two of them
    // retracted it twice and swallowed the concurrent add.
    const [eu, us, ap] = regionsWith({ kind: 'cart.add', sku: 'A', quantity: 1 });
    const records = [
      eu.do({ kind: 'cart.remove', sku: 'A' }),
      us.do({ kind: 'cart.remove', sku: 'A' }),
      ap.do({ kind: 'cart.add', sku: 'A', quantity: 1 }),
    ];
    exchange([eu, us, ap], records);
    for (const region of [eu, us, ap]) assert.deepEqual(quantities(region), { A: 1 }, region.origin);
  });

  test('adds after a line was removed twice concurrently count exactly once each', () => {
    // Regression: the double retraction left a negative raw quantity that later adds
    // "repaid" on every region at once, so two concurrent adds of 1 showed 4.
    const [eu, us, ap] = regionsWith({ kind: 'cart.add', sku: 'A', quantity: 2 });
    exchange([eu, us, ap], [eu.do({ kind: 'cart.remove', sku: 'A' }), us.do({ kind: 'cart.remove', sku: 'A' })]);
    assert.deepEqual(quantities(ap), {});
    const records = [eu.do({ kind: 'cart.add', sku: 'A', quantity: 1 }), ap.do({ kind: 'cart.add', sku: 'A', quantity: 1 })];
    exchange([eu, us, ap], records);
    for (const region of [eu, us, ap]) assert.deepEqual(quantities(region), { A: 2 }, region.origin);
  });

  test('setting the quantity replaces it; setting 0 removes the line', () => {
    const [eu] = regionsWith({ kind: 'cart.add', sku: 'A', quantity: 2 });
    eu.do({ kind: 'cart.set', sku: 'A', quantity: 7 });
    assert.deepEqual(quantities(eu), { A: 7 });
    eu.do({ kind: 'cart.set', sku: 'A', quantity: 3 });
    assert.deepEqual(quantities(eu), { A: 3 });
    eu.do({ kind: 'cart.set', sku: 'B', quantity: 4 });
    eu.do({ kind: 'cart.set', sku: 'A', quantity: 0 });
    assert.deepEqual(quantities(eu), { B: 4 });
  });

  test('a set quantity keeps an add made concurrently elsewhere', () => {
    const [eu, us] = regionsWith({ kind: 'cart.add', sku: 'A', quantity: 2 });
    exchange([eu, us], [eu.do({ kind: 'cart.set', sku: 'A', quantity: 5 }), us.do({ kind: 'cart.add', sku: 'A', quantity: 1 })]);
    assert.deepEqual(quantities(eu), { A: 6 });
    assert.deepEqual(quantities(us), { A: 6 });
  });

  test('the same quantity set in two regions at once is that quantity', () => {
    const [eu, us] = regionsWith({ kind: 'cart.add', sku: 'A', quantity: 5 });
    exchange([eu, us], [eu.do({ kind: 'cart.set', sku: 'A', quantity: 3 }), us.do({ kind: 'cart.set', sku: 'A', quantity: 3 })]);
    assert.deepEqual(quantities(eu), { A: 3 });
    assert.deepEqual(quantities(us), { A: 3 });
  });

  test('a clear keeps only what was added concurrently with it', () => {
    const [eu, us] = regionsWith({ kind: 'cart.add', sku: 'A', quantity: 2 }, { kind: 'cart.add', sku: 'B', quantity: 1 });
    const clear = eu.do({ kind: 'cart.clear' });
    const add = us.do({ kind: 'cart.add', sku: 'A', quantity: 1 });
    exchange([eu, us], [clear, add]);
    assert.deepEqual(quantities(eu), { A: 1 });
    assert.deepEqual(quantities(us), { A: 1 });
  });

  test('a clear then an add on the same region leaves only the new line', () => {
    const [eu] = regionsWith({ kind: 'cart.add', sku: 'A', quantity: 2 }, { kind: 'cart.add', sku: 'B', quantity: 1 });
    eu.do({ kind: 'cart.clear' });
    eu.do({ kind: 'cart.add', sku: 'B', quantity: 3 });
    assert.deepEqual(quantities(eu), { B: 3 });
  });

  test('removing a line that is not there, or clearing an empty cart, writes nothing', () => {
    const eu = new Region('eu');
    assert.deepEqual(eu.do({ kind: 'cart.remove', sku: 'A' }), []);
    assert.deepEqual(eu.do({ kind: 'cart.clear' }), []);
  });

  test('attributes are last writer wins by HLC across regions', () => {
    const [eu, us] = regionsWith({ kind: 'cart.add', sku: 'A', quantity: 1, attributes: { size: 'S' } });
    const early = eu.do({ kind: 'cart.set', sku: 'A', quantity: 1, attributes: { size: 'M' } });
    us.wall += 5_000; // us writes later
    const late = us.do({ kind: 'cart.add', sku: 'A', quantity: 1, attributes: { size: 'L' } });
    exchange([eu, us], [late, early]);
    for (const region of [eu, us]) {
      assert.deepEqual(cartItems(region.state.cart).map((i) => [i.quantity, i.attributes]), [[2, { size: 'L' }]]);
    }
  });

  test('items are listed in the order first added, ties broken by SKU', () => {
    const eu = new Region('eu');
    eu.do({ kind: 'cart.add', sku: 'C', quantity: 1 }, 10);
    eu.do({ kind: 'cart.add', sku: 'B', quantity: 1 }, 10);
    eu.do({ kind: 'cart.add', sku: 'C', quantity: 1 }, 10);
    const us = new Region('us', eu.state, eu.wall - 10);
    const same = us.do({ kind: 'cart.add', sku: 'A', quantity: 1 }, 0); // at the same millisecond as B
    eu.receive(same);
    assert.deepEqual(
      cartItems(eu.state.cart).map((i) => [i.sku, i.quantity]),
      [['C', 2], ['A', 1], ['B', 1]],
    );
  });
});

describe('cart conflict rules, for any replicated cart', () => {
  const syncedRegions = (steps: Parameters<typeof simulate>[0]): Region[] => {
    const sim = simulate(steps);
    return sim.replicas.map((replica) => {
      const region = new Region(replica.origin, joinAll(replica.state, sim.records), replica.wall);
      for (const record of sim.records) region.clock.observe(record.hlc);
      return region;
    });
  };

  test('an add survives any number of concurrent removes or clears', () => {
    fc.assert(
      fc.property(
        stepsArb(['cart']),
        skuArb,
        fc.nat(2),
        fc.subarray([1, 2], { minLength: 1 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 5 }),
        (steps, sku, adder, offsets, clear, n) => {
          const regions = syncedRegions(steps);
          const added = regions[adder]!.try({ kind: 'cart.add', sku, quantity: n });
          fc.pre(added.ok);
          const records = [added.ok ? added.records : []];
          for (const offset of offsets) {
            records.push(regions[(adder + offset) % 3]!.do(clear ? { kind: 'cart.clear' } : { kind: 'cart.remove', sku }));
          }
          exchange(regions, records);
          for (const region of regions) {
            const line = lineOf(region.state.cart, sku);
            assert.equal(quantityOf(line), n, `${region.origin}: quantity of ${sku}`);
            assert.equal(rawQuantity(line!), n, `${region.origin}: raw quantity of ${sku}`);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  test('concurrent adds in several regions all count', () => {
    fc.assert(
      fc.property(stepsArb(['cart']), skuArb, fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 3, maxLength: 3 }), (steps, sku, adds) => {
        const regions = syncedRegions(steps);
        const before = quantityOf(lineOf(regions[0]!.state.cart, sku));
        const outcomes = regions.map((region, i) => region.try({ kind: 'cart.add', sku, quantity: adds[i]! }));
        fc.pre(outcomes.every((o) => o.ok));
        exchange(regions, outcomes.map((o) => (o.ok ? o.records : [])));
        const total = before + adds.reduce((a, b) => a + b, 0);
        for (const region of regions) assert.equal(quantityOf(lineOf(region.state.cart, sku)), total, region.origin);
      }),
      { numRuns: 150 },
    );
  });
});

describe('guest cart merged into a user cart at sign-in', () => {
  const guest = (): Region => {
    const region = new Region('eu');
    region.do({ kind: 'cart.add', sku: 'A', quantity: 2 });
    region.do({ kind: 'cart.add', sku: 'B', quantity: 1 });
    return region;
  };

  test('adds the guest quantities to the user quantities', () => {
    const user = new Region('eu');
    user.do({ kind: 'cart.add', sku: 'A', quantity: 1 });
    const merged = mergeCart(user.state.cart, rebaseCart(guest().state.cart, 'guest:g1'));
    assert.deepEqual(cartItems(merged).map((i) => [i.sku, i.quantity]), [['A', 3], ['B', 1]]);
  });

  test('merging the same guest cart twice does not count it twice', () => {
    const user = new Region('eu');
    user.do({ kind: 'cart.add', sku: 'A', quantity: 1 });
    const rebased = rebaseCart(guest().state.cart, 'guest:g1');
    const once = mergeCart(user.state.cart, rebased);
    const twice = mergeCart(once, rebaseCart(guest().state.cart, 'guest:g1'));
    assert.deepStrictEqual(canonical(twice), canonical(once));
  });

  test('scopes every writer of the guest cart and keeps its counters', () => {
    const rebased = rebaseCart(guest().state.cart, 'guest:g1');
    assert.deepEqual(Object.keys(rebased.lines.A!.n), ['guest:g1/eu']);
    assert.equal(quantityOf(rebased.lines.A), 2);
    assert.deepStrictEqual(rebaseCart(EMPTY_CART, 'guest:g1'), { lines: {} });
  });

  test('a removal in the user session after the merge sticks when the guest cart is merged again', () => {
    const user = new Region('eu');
    const rebased = rebaseCart(guest().state.cart, 'guest:g1');
    user.state = { ...user.state, cart: mergeCart(user.state.cart, rebased) };
    user.do({ kind: 'cart.remove', sku: 'A' });
    const again = mergeCart(user.state.cart, rebased);
    assert.deepEqual(cartItems(again).map((i) => [i.sku, i.quantity]), [['B', 1]]);
  });

  test('for any guest and user carts, the merge adds quantities line by line, once', () => {
    fc.assert(
      fc.property(stepsArb(['cart']), stepsArb(['cart']), (userSteps, guestSteps) => {
        const userSim = simulate(userSteps);
        const user = joinAll(userSim.initial, userSim.records).cart;
        const guestSim = simulate(guestSteps);
        const guestCart: CartState = joinAll(guestSim.initial, guestSim.records).cart;
        const merged = mergeCart(user, rebaseCart(guestCart, 'guest:g1'));
        const skus = new Set([...Object.keys(user.lines), ...Object.keys(guestCart.lines)]);
        for (const sku of skus) {
          assert.equal(quantityOf(lineOf(merged, sku)), quantityOf(lineOf(user, sku)) + quantityOf(lineOf(guestCart, sku)), sku);
        }
        assert.deepStrictEqual(canonical(mergeCart(merged, rebaseCart(guestCart, 'guest:g1'))), canonical(merged));
      }),
      { numRuns: 100 },
    );
  });
});
