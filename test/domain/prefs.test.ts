import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EMPTY_PREFS,
  applyMergePatch,
  mergePrefs,
  mergeRegister,
  patchRegisters,
  prefsObject,
  prefsSize,
  type Json,
} from '../../src/domain/prefs.js';
import { canonical, hlcAt, PROTOTYPE_NAMES, Region } from './support.js';

describe('applyMergePatch follows RFC 7396 (the examples of its appendix A)', () => {
  const table: [original: Json, patch: Json, result: Json][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [original, patch, result] of table) {
    test(`${JSON.stringify(original)} patched with ${JSON.stringify(patch)} is ${JSON.stringify(result)}`, () => {
      assert.deepStrictEqual(applyMergePatch(original, patch), result);
    });
  }

  test('does not change its target', () => {
    const target = { a: { b: 1 } };
    applyMergePatch(target, { a: { b: 2, c: 3 } });
    assert.deepStrictEqual(target, { a: { b: 1 } });
  });

  test('treats keys named like Object.prototype members as plain keys', () => {
    for (const key of PROTOTYPE_NAMES) {
      const patched = applyMergePatch({}, JSON.parse(`{"${key}": {"x": 1}}`) as Json) as Record<string, Json>;
      assert.deepStrictEqual(Object.keys(patched), [key]);
      assert.deepStrictEqual(Object.getPrototypeOf(patched), Object.prototype);
      assert.deepStrictEqual(patched[key], { x: 1 });
    }
  });
});

describe('preferences conflict rules', () => {
  test('the write with the later HLC wins a key, whichever region it came from and arrives first', () => {
    const eu = new Region('eu');
    const us = eu.peer('us', -700);
    const early = eu.do({ kind: 'prefs.patch', patch: { theme: 'dark' } });
    us.wall += 5_000;
    const late = us.do({ kind: 'prefs.patch', patch: { theme: 'light' } });
    eu.receive(late);
    us.receive(early);
    assert.deepStrictEqual(prefsObject(eu.state.prefs), { theme: 'light' });
    assert.deepStrictEqual(prefsObject(us.state.prefs), { theme: 'light' });
  });

  test('writes to different keys in two regions both survive', () => {
    const eu = new Region('eu');
    const us = eu.peer('us');
    const a = eu.do({ kind: 'prefs.patch', patch: { theme: 'dark' } });
    const b = us.do({ kind: 'prefs.patch', patch: { lang: 'fr' } });
    eu.receive(b);
    us.receive(a);
    assert.deepStrictEqual(prefsObject(eu.state.prefs), { lang: 'fr', theme: 'dark' });
    assert.deepStrictEqual(canonical(eu.state.prefs), canonical(us.state.prefs));
  });

  test('a deleted key is not brought back by an older write that arrives late', () => {
    const eu = new Region('eu');
    const us = eu.peer('us');
    const older = eu.do({ kind: 'prefs.patch', patch: { theme: 'dark', lang: 'en' } });
    us.wall += 1_000;
    const deletion = us.do({ kind: 'prefs.patch', patch: { theme: null } });
    us.receive(older);
    eu.receive(deletion).receive(older);
    for (const region of [eu, us]) {
      assert.deepStrictEqual(prefsObject(region.state.prefs), { lang: 'en' }, region.origin);
      assert.equal(region.state.prefs.keys.theme?.v, null, 'the tombstone is kept');
    }
  });

  test('a write newer than the deletion brings the key back', () => {
    const eu = new Region('eu');
    eu.do({ kind: 'prefs.patch', patch: { theme: 'dark' } });
    eu.do({ kind: 'prefs.patch', patch: { theme: null } });
    eu.do({ kind: 'prefs.patch', patch: { theme: { mode: 'light', contrast: null } } });
    assert.deepStrictEqual(prefsObject(eu.state.prefs), { theme: { mode: 'light' } });
  });

  test('a nested patch applies to the value its writer sees and replaces the whole key', () => {
    const eu = new Region('eu');
    eu.do({ kind: 'prefs.patch', patch: { layout: { grid: true, density: 'compact' } } });
    const records = eu.do({ kind: 'prefs.patch', patch: { layout: { density: null, columns: 3 } } });
    assert.deepStrictEqual(prefsObject(eu.state.prefs), { layout: { grid: true, columns: 3 } });
    assert.equal(records.length, 1);
    const [record] = records;
    assert.equal(record?.part, 'prefs');
    assert.deepStrictEqual(record?.part === 'prefs' && record.state.keys.layout?.v, { grid: true, columns: 3 });
  });

  test('every key a patch names is stamped with the patch HLC, and only those', () => {
    const t = hlcAt(5_000, 'eu');
    const delta = patchRegisters({ keys: { kept: { v: 1, t: hlcAt(1, 'us') } } }, { a: 1, b: null }, t);
    assert.deepStrictEqual(delta, { keys: { a: { v: 1, t }, b: { v: null, t } } });
  });

  test('equal stamps resolve the same way in either order', () => {
    const t = hlcAt(5_000, 'eu');
    const x = { v: 'a', t };
    const y = { v: 'b', t };
    assert.deepStrictEqual(mergeRegister(x, y), mergeRegister(y, x));
  });

  test('the object view hides tombstones and lists keys in sorted order', () => {
    const state = mergePrefs(EMPTY_PREFS, {
      keys: { z: { v: 1, t: hlcAt(2, 'eu') }, gone: { v: null, t: hlcAt(3, 'eu') }, a: { v: [1], t: hlcAt(1, 'us') } },
    });
    assert.deepStrictEqual(Object.keys(prefsObject(state)), ['a', 'z']);
    assert.equal(prefsSize(state), Buffer.byteLength('{"a":[1],"z":1}'));
  });
});
