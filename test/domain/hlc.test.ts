import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HybridLogicalClock, decodeHlc } from '../../src/domain/hlc.js';

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
