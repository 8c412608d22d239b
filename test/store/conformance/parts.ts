/** The data parts: cart, preferences and history, their limits and concurrent writers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cartItems, quantityOf } from '../../../src/domain/cart.js';
import { historyItems, mergeHistory } from '../../../src/domain/history.js';
import { applyMergePatch, prefsObject, prefsSize, type Json, type JsonObject, type PrefsState } from '../../../src/domain/prefs.js';
import { applied, loadAll, settings, signIn, SMALL_LIMITS, stamp, useStore, type StoreFactory } from './support.js';

export function partsSuite(makeStore: StoreFactory): void {
  describe('cart', () => {
    const store = useStore(makeStore, settings(SMALL_LIMITS));
    const roomy = useStore(makeStore);

    it('adds to the quantity of a line and lists lines in the order first added', async () => {
      const t0 = Date.now();
      const s = await signIn(store(), { now: t0 });
      await applied(store(), s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 2 }, t0 + 1);
      await applied(store(), s.id, s.caller, { kind: 'cart.add', sku: 'B', quantity: 1 }, t0 + 2);
      const result = await applied(store(), s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 3 }, t0 + 3);
      assert.deepEqual(cartItems(result.session.cart!), [
        { sku: 'A', quantity: 5, addedAt: new Date(t0 + 1).toISOString() },
        { sku: 'B', quantity: 1, addedAt: new Date(t0 + 2).toISOString() },
      ]);
      assert.deepEqual((await loadAll(store(), s.id)).cart, result.session.cart);
    });

    it('stores ids that are names of Object.prototype as plain entries, in every part', async () => {
      const t0 = Date.now();
      const s = await signIn(roomy(), { now: t0 });
      const ids = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
      for (const [i, id] of ids.entries()) {
        await applied(roomy(), s.id, s.caller, { kind: 'cart.add', sku: id, quantity: i + 1 }, t0 + i + 1);
        await applied(roomy(), s.id, s.caller, { kind: 'history.add', productId: id, viewedAt: t0 + i + 1 }, t0 + i + 1);
        await applied(roomy(), s.id, s.caller, { kind: 'prefs.patch', patch: { [id]: i } }, t0 + i + 1);
      }
      const loaded = await loadAll(roomy(), s.id);
      assert.deepEqual(cartItems(loaded.cart!).map((item) => [item.sku, item.quantity]), ids.map((id, i) => [id, i + 1]));
      assert.deepEqual(historyItems(loaded.history!).map((item) => item.productId), [...ids].reverse());
      assert.deepEqual(Object.keys(prefsObject(loaded.prefs!)).sort(), [...ids].sort());
      assert.equal(Object.getPrototypeOf(loaded.history!.items), Object.prototype, 'the prototype is untouched');
    });

    it('sets, removes and clears lines; an add after a clear counts in full', async () => {
      const s = await signIn(store());
      const cart = async (op: Parameters<typeof applied>[3]) => (await applied(store(), s.id, s.caller, op)).session.cart!;
      assert.equal(quantityOf((await cart({ kind: 'cart.set', sku: 'A', quantity: 7 })).lines.A), 7);
      assert.equal(quantityOf((await cart({ kind: 'cart.set', sku: 'A', quantity: 2 })).lines.A), 2);
      assert.deepEqual(cartItems(await cart({ kind: 'cart.remove', sku: 'A' })), []);
      await cart({ kind: 'cart.set', sku: 'B', quantity: 3 });
      await cart({ kind: 'cart.add', sku: 'C', quantity: 1 });
      assert.deepEqual(cartItems(await cart({ kind: 'cart.clear' })), []);
      const again = await cart({ kind: 'cart.add', sku: 'B', quantity: 1 });
      assert.deepEqual(cartItems(again).map((i) => [i.sku, i.quantity]), [['B', 1]]);
    });

    it('keeps the attributes of the last write that carried some', async () => {
      const s = await signIn(store());
      await applied(store(), s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1, attributes: { size: 'M', colour: 'blue/green' } });
      await applied(store(), s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
      let items = cartItems((await loadAll(store(), s.id)).cart!);
      assert.deepEqual(items[0]?.attributes, { size: 'M', colour: 'blue/green' });
      await applied(store(), s.id, s.caller, { kind: 'cart.set', sku: 'A', quantity: 1, attributes: { size: 'L', fit: { slim: true, n: [1, 2.5] } } });
      items = cartItems((await loadAll(store(), s.id)).cart!);
      assert.deepEqual(items[0]?.attributes, { size: 'L', fit: { slim: true, n: [1, 2.5] } });
    });

    it('removing a line that does not exist changes nothing', async () => {
      const s = await signIn(store());
      await applied(store(), s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
      const before = await loadAll(store(), s.id);
      const result = await applied(store(), s.id, s.caller, { kind: 'cart.remove', sku: 'nope' });
      // Only activity (the suite records it on every call) — no cart record, no new cart version.
      assert.deepEqual(result.records.filter((r) => r.part === 'cart'), []);
      assert.deepEqual(Object.keys(result.session.cart!.lines), ['A']);
      assert.equal(result.session.versions.cart, before.versions.cart);
    });

    it('rejects a quantity above the limit and writes nothing', async () => {
      const s = await signIn(store());
      await applied(store(), s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 8 });
      const before = await loadAll(store(), s.id);
      for (const op of [
        { kind: 'cart.add', sku: 'A', quantity: 3 },
        { kind: 'cart.set', sku: 'A', quantity: 11 },
        { kind: 'cart.set', sku: 'Z', quantity: 11 },
      ] as const) {
        const result = await store().apply(s.id, s.caller, op, { now: Date.now(), hlc: stamp() });
        assert.equal(result.status, 'rejected');
        if (result.status === 'rejected') assert.equal(result.code, 'validation-failed');
      }
      const after = await loadAll(store(), s.id);
      assert.deepEqual(after.cart, before.cart);
      assert.deepEqual(after.versions, before.versions);
    });

    it('rejects a new line beyond the line limit and writes nothing; existing lines still change', async () => {
      const s = await signIn(store());
      for (const sku of ['A', 'B', 'C']) await applied(store(), s.id, s.caller, { kind: 'cart.add', sku, quantity: 1 });
      const before = await loadAll(store(), s.id);
      const result = await store().apply(s.id, s.caller, { kind: 'cart.add', sku: 'D', quantity: 1 }, { now: Date.now(), hlc: stamp() });
      assert.equal(result.status, 'rejected');
      if (result.status === 'rejected') assert.equal(result.code, 'payload-too-large');
      const after = await loadAll(store(), s.id);
      assert.deepEqual(after.cart, before.cart);
      assert.deepEqual(after.versions, before.versions);
      await applied(store(), s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
      await applied(store(), s.id, s.caller, { kind: 'cart.remove', sku: 'B' });
      const added = await applied(store(), s.id, s.caller, { kind: 'cart.add', sku: 'D', quantity: 1 });
      assert.deepEqual(cartItems(added.session.cart!).map((i) => [i.sku, i.quantity]), [['A', 2], ['C', 1], ['D', 1]]);
    });

    it('counts every one of 40 concurrent adds', async () => {
      const s = await signIn(roomy());
      await Promise.all(
        Array.from({ length: 40 }, () => applied(roomy(), s.id, s.caller, { kind: 'cart.add', sku: 'HOT', quantity: 1 })),
      );
      assert.equal(quantityOf((await loadAll(roomy(), s.id)).cart!.lines.HOT), 40);
    });
  });

  describe('preferences', () => {
    const store = useStore(makeStore);
    const tight = useStore(makeStore, settings(SMALL_LIMITS));

    it('applies a JSON merge patch per top-level key', async () => {
      const s = await signIn(store());
      const first: JsonObject = { theme: 'dark', layout: { cols: 3, rows: 2, extra: { a: 1 } }, tags: ['a'], gone: { x: 1 } };
      const second: JsonObject = { layout: { rows: null, extra: { b: 2 }, fresh: { deep: null, kept: 0 } }, tags: ['b', { c: null }], theme: null, gone: null };
      await applied(store(), s.id, s.caller, { kind: 'prefs.patch', patch: first });
      const result = await applied(store(), s.id, s.caller, { kind: 'prefs.patch', patch: second });
      const expected = applyMergePatch(applyMergePatch({}, first), second);
      assert.deepEqual(prefsObject(result.session.prefs!), expected);
      assert.deepEqual(prefsObject(result.session.prefs!), {
        layout: { cols: 3, extra: { a: 1, b: 2 }, fresh: { kept: 0 } },
        tags: ['b', { c: null }],
      });
      // Deleted keys stay as tombstones; a later patch sets them again.
      assert.equal(result.session.prefs!.keys.theme?.v, null);
      const again = await applied(store(), s.id, s.caller, { kind: 'prefs.patch', patch: { theme: { mode: 'light', drop: null } } });
      assert.deepEqual(prefsObject(again.session.prefs!).theme, { mode: 'light' });
    });

    it('keeps values exactly as JSON has them, key order included', async () => {
      const s = await signIn(store());
      const values: JsonObject = {
        numbers: { big: 12345678901234567890, tiny: 5e-324, sum: 0.1 + 0.2, exp: 1e21, neg: -42, int: 9007199254740991 },
        text: { slash: 'a/b\\c', quote: 'say "hi"', control: '\u0001\t\n', unicode: 'é€😀', sep: '\u2028' },
        shapes: { emptyObject: {}, emptyArray: [], nested: [[], [{}], { a: [] }], t: true, f: false, n: null },
        order: { z: 1, a: 2, '10': 3, '2': 4, m: { y: 1, b: 2 } },
      };
      await applied(store(), s.id, s.caller, { kind: 'prefs.patch', patch: values });
      const patch: JsonObject = { order: { a: null, q: 5, m: { c: 3, y: null } }, shapes: { nested: 'replaced' } };
      const result = await applied(store(), s.id, s.caller, { kind: 'prefs.patch', patch });
      const expected = applyMergePatch(applyMergePatch({}, values), patch) as JsonObject;
      const loaded = prefsObject((await loadAll(store(), s.id)).prefs!);
      assert.deepEqual(loaded, expected);
      assert.equal(JSON.stringify(loaded), JSON.stringify(prefsObject(result.session.prefs!)));
      assert.equal(JSON.stringify(loaded.order), JSON.stringify(expected.order));
    });

    it('counts the size limit in bytes of the serialized object and writes nothing past it', async () => {
      const s = await signIn(tight());
      const key = 'k"é\n\u0002';
      const sized = (n: number): PrefsState => ({ keys: { [key]: { v: 'x'.repeat(n), t: 't' } } });
      let n = 0;
      while (prefsSize(sized(n + 1)) <= SMALL_LIMITS.prefsBytes) n += 1;
      assert.equal(prefsSize(sized(n)), SMALL_LIMITS.prefsBytes);
      await applied(tight(), s.id, s.caller, { kind: 'prefs.patch', patch: { [key]: 'x'.repeat(n) } });
      const before = await loadAll(tight(), s.id);
      for (const patch of [{ [key]: 'x'.repeat(n + 1) }, { a: 1 }] as JsonObject[]) {
        const result = await tight().apply(s.id, s.caller, { kind: 'prefs.patch', patch }, { now: Date.now(), hlc: stamp() });
        assert.equal(result.status, 'rejected', JSON.stringify(patch));
        if (result.status === 'rejected') assert.equal(result.code, 'payload-too-large');
      }
      const after = await loadAll(tight(), s.id);
      assert.deepEqual(after.prefs, before.prefs);
      assert.deepEqual(after.versions, before.versions);
      // A deleted key no longer counts.
      await applied(tight(), s.id, s.caller, { kind: 'prefs.patch', patch: { [key]: null } });
      await applied(tight(), s.id, s.caller, { kind: 'prefs.patch', patch: { a: 'y'.repeat(80) } });
    });

    it('keeps every key of 20 concurrent patches of different keys', async () => {
      const s = await signIn(store());
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => applied(store(), s.id, s.caller, { kind: 'prefs.patch', patch: { [`key${i}`]: { i } } })),
      );
      const prefs = prefsObject((await loadAll(store(), s.id)).prefs!);
      assert.deepEqual(prefs, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`key${i}`, { i } as Json])));
    });
  });

  describe('history', () => {
    const store = useStore(makeStore, settings(SMALL_LIMITS));

    it('lists newest first and keeps one entry per product, its latest view', async () => {
      const t0 = Date.now();
      const s = await signIn(store(), { now: t0 });
      for (const [productId, at] of [['p1', t0], ['p2', t0 + 1], ['p1', t0 + 2], ['p1', t0 + 1]] as const) {
        await applied(store(), s.id, s.caller, { kind: 'history.add', productId, viewedAt: at });
      }
      const history = (await loadAll(store(), s.id)).history!;
      assert.deepEqual(history, { items: { p1: t0 + 2, p2: t0 + 1 } });
      assert.deepEqual(historyItems(history).map((i) => i.productId), ['p1', 'p2']);
    });

    it('keeps the newest N, ties broken by product id', async () => {
      const t0 = Date.now();
      const s = await signIn(store(), { now: t0 });
      const views: [string, number][] = [['e', t0], ['b', t0 + 5], ['a', t0 + 5], ['d', t0 + 3], ['c', t0 + 5], ['f', t0 + 3], ['g', t0 + 1]];
      let expected = { items: {} as Record<string, number> };
      for (const [productId, viewedAt] of views) {
        await applied(store(), s.id, s.caller, { kind: 'history.add', productId, viewedAt });
        expected = mergeHistory(expected, { items: { [productId]: viewedAt } }, SMALL_LIMITS.historyItems);
      }
      const history = (await loadAll(store(), s.id)).history!;
      assert.deepEqual(history, expected);
      assert.deepEqual(historyItems(history).map((i) => i.productId), ['a', 'b', 'c', 'd', 'f']);
    });

    it('keeps every one of concurrent views, up to the limit', async () => {
      const t0 = Date.now();
      const s = await signIn(store(), { now: t0 });
      await Promise.all(
        ['a', 'b', 'c', 'd'].map((productId, i) => applied(store(), s.id, s.caller, { kind: 'history.add', productId, viewedAt: t0 + i })),
      );
      assert.deepEqual(Object.keys((await loadAll(store(), s.id)).history!.items).sort(), ['a', 'b', 'c', 'd']);
    });
  });
}
