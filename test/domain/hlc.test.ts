import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HybridLogicalClock, decodeHlc, encodeHlc, hlcSuccessor, maxHlc, stampAbove } from '../../src/domain/hlc.js';

test('timestamps increase even when the wall clock stands still or steps back', () => {
  let wall = 1_000;
  const clock = new HybridLogicalClock('eu1', () => wall);
  const a = clock.now();
  const b = clock.now();
  wall = 900;
  const c = clock.now();
  assert.ok(a < b && b < c, `${a} < ${b} < ${c}`);
  assert.deepEqual(decodeHlc(c), { wall: 1_000, counter: 2, origin: 'eu1' });
});

test('observing a remote timestamp moves the clock past it', () => {
  const clock = new HybridLogicalClock('eu1', () => 10);
  const remote = new HybridLogicalClock('us1', () => 5_000).now();
  clock.observe(remote);
  assert.ok(clock.now() > remote);
});

test('an origin is a region, or a region and a node, each 1-32 characters of [A-Za-z0-9_-]', () => {
  for (const origin of ['', 'eu.', '.n1', 'eu.n1.x', 'x'.repeat(33), `eu.${'n'.repeat(33)}`, 'eu 1']) {
    assert.throws(() => new HybridLogicalClock(origin), TypeError, origin);
  }
  for (const origin of ['eu', 'eu.n1', `${'r'.repeat(32)}.${'n'.repeat(32)}`]) assert.equal(new HybridLogicalClock(origin).origin, origin);
});

test('a stamp above a floor is the stamp itself when above it, else the next tick of the floor with the stamp’s origin', () => {
  const floor = encodeHlc({ wall: 5_000, counter: 7, origin: 'us.n2' });
  const above = encodeHlc({ wall: 6_000, counter: 0, origin: 'eu.n1' });
  const below = encodeHlc({ wall: 1_000, counter: 0, origin: 'eu.n1' });
  assert.equal(stampAbove(above, floor), above);
  assert.equal(stampAbove(above, undefined), above);
  const lifted = stampAbove(below, floor);
  assert.deepEqual(decodeHlc(lifted), { wall: 5_000, counter: 8, origin: 'eu.n1' });
  assert.ok(lifted > floor);
  assert.deepEqual(decodeHlc(hlcSuccessor(encodeHlc({ wall: 5_000, counter: 0xffff, origin: 'a' }), 'b')), { wall: 5_001, counter: 0, origin: 'b' });
});

test('a node whose wall clock lags issues stamps above every one it has observed', () => {
  const slow = new HybridLogicalClock('eu.slow', () => 1_000);
  const fast = new HybridLogicalClock('us.fast', () => 900_000).now();
  slow.observe(fast);
  slow.observe(undefined);
  assert.ok(slow.now() > fast);
});

test('65 536 timestamps in one millisecond borrow the next millisecond', () => {
  const clock = new HybridLogicalClock('eu1', () => 1_000);
  let last = clock.now();
  for (let i = 0; i < 0x10000; i++) {
    const next = clock.now();
    assert.ok(next > last);
    last = next;
  }
  assert.deepEqual(decodeHlc(last), { wall: 1_001, counter: 0, origin: 'eu1' });
});

test('maxHlc keeps the larger stamp and treats undefined as the smallest', () => {
  const a = encodeHlc({ wall: 1, counter: 0, origin: 'eu' });
  const b = encodeHlc({ wall: 1, counter: 1, origin: 'ap' });
  assert.equal(maxHlc(a, b), b);
  assert.equal(maxHlc(b, a), b);
  assert.equal(maxHlc(undefined, a), a);
  assert.equal(maxHlc(a, undefined), a);
  assert.equal(maxHlc(undefined, undefined), undefined);
});

const partsArb = fc.record({
  wall: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  counter: fc.integer({ min: 0, max: 0xffff }),
  origin: fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/),
});

test('encoding round-trips and string order is (wall, counter) order', () => {
  fc.assert(
    fc.property(partsArb, partsArb, (x, y) => {
      assert.deepEqual(decodeHlc(encodeHlc(x)), { ...x });
      const byNumbers = x.wall - y.wall || x.counter - y.counter;
      if (byNumbers !== 0) assert.equal(encodeHlc(x) < encodeHlc(y), byNumbers < 0);
    }),
    { numRuns: 300 },
  );
});

test('every timestamp is greater than all those issued or observed before, whatever the wall clock does', () => {
  const event = fc.oneof(
    fc.record({ kind: fc.constant('now' as const), step: fc.integer({ min: -5_000, max: 5_000 }) }),
    fc.record({
      kind: fc.constant('observe' as const),
      wallOffset: fc.integer({ min: -5_000, max: 5_000 }),
      counter: fc.integer({ min: 0, max: 0xffff }),
      origin: fc.constantFrom('us', 'ap', 'zz', 'a'),
    }),
  );
  fc.assert(
    fc.property(fc.array(event, { maxLength: 60 }), (events) => {
      let wall = 1_700_000_000_000;
      const clock = new HybridLogicalClock('eu', () => wall);
      let highest = '';
      for (const e of events) {
        if (e.kind === 'now') {
          wall += e.step;
          const t = clock.now();
          assert.ok(t > highest, `${t} > ${highest}`);
          assert.ok(decodeHlc(t).wall >= wall, 'never behind the wall clock');
          highest = t;
        } else {
          const remote = encodeHlc({ wall: wall + e.wallOffset, counter: e.counter, origin: e.origin });
          clock.observe(remote);
          if (remote > highest) highest = remote;
        }
      }
    }),
    { numRuns: 300 },
  );
});
