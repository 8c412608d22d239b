import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SessionMeta } from '../../src/domain/session.js';
import { EMPTY_VERSION, sessionDigest } from '../../src/domain/versions.js';

const NOW = 1_796_000_000_000;
const meta: SessionMeta = {
  id: 'ap~C-PbhjwHrezGUzGi3h3ACQ', userId: 'ap-user-46', createdAt: NOW, lastActiveAt: NOW,
  idleExpiresAt: NOW + 1_000, absoluteExpiresAt: NOW + 10_000, csrfSecret: 'secret', t: '01a24496b4c1.0000.ap.n1',
};
const EMPTY = { cart: EMPTY_VERSION, prefs: EMPTY_VERSION, history: EMPTY_VERSION, devices: EMPTY_VERSION };
const HELD = { ...EMPTY, cart: '4e97cb1269218647', devices: 'd4b74a2a2cf6ef0c' };

describe('session digests', () => {
  test('a live session differs with any part, its activity or its stamp', () => {
    const digest = sessionDigest(meta, EMPTY);
    assert.notEqual(sessionDigest(meta, HELD), digest);
    assert.notEqual(sessionDigest({ ...meta, lastActiveAt: NOW + 5 }, EMPTY), digest);
    assert.notEqual(sessionDigest({ ...meta, t: '01a24496b4f2.0000.ap.n1' }, EMPTY), digest);
  });

  test('a session merged into another is compared by its redirect, not by leftovers a late region still holds', () => {
    const moved = { ...meta, mergedInto: 'ap~u1thrsXQjW97F5SJN8KL8w' };
    // The region that merged it moved its parts; the one that wrote to it before learning of the merge kept them.
    const late = { ...moved, lastActiveAt: NOW + 5, idleExpiresAt: NOW + 1_005, t: '01a24496b4f2.0000.ap.n1' };
    assert.equal(sessionDigest(late, HELD), sessionDigest(moved, EMPTY));
    assert.notEqual(sessionDigest(moved, EMPTY), sessionDigest(meta, EMPTY), 'the merge itself is a difference');
    assert.notEqual(sessionDigest({ ...moved, mergedInto: 'ap~another0000000000000' }, EMPTY), sessionDigest(moved, EMPTY), 'and where it points');
    assert.notEqual(sessionDigest({ ...moved, erasedAt: NOW + 9 }, EMPTY), sessionDigest(moved, EMPTY), 'and an erasure');
  });
});
