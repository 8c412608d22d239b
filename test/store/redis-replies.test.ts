import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readLoadReply } from '../../src/store/redis/replies.js';

describe('the load reply of the Redis engines', () => {
  const head = (user: string, verdict = 'current') => `${verdict} 1764800000000 1764800000001 1767392000000 1796336000000 c2VjcmV0 8 1 0 2 ${user}`;

  it('reads the head line by position, the user id after its marker whatever it holds', () => {
    const loaded = readLoadReply('sid', [head('=ann marie = x'), null, null, null, null]);
    assert.deepEqual(loaded?.meta, {
      id: 'sid',
      userId: 'ann marie = x',
      createdAt: 1764800000000,
      lastActiveAt: 1764800000001,
      idleExpiresAt: 1767392000000,
      absoluteExpiresAt: 1796336000000,
      csrfSecret: 'c2VjcmV0',
    });
    assert.deepEqual(loaded?.versions, { cart: 'v8', prefs: 'v1', history: 'v0', devices: 'v2' });
    assert.equal(loaded?.credential, 'current');
  });

  it('reads a guest and a load without a credential', () => {
    const loaded = readLoadReply('sid', [head('-', '-'), null, null, null, null]);
    assert.equal(loaded?.meta.userId, null);
    assert.equal(loaded?.credential, undefined);
    assert.equal('credential' in (loaded ?? {}), false);
  });

  it('refuses a head line with fields missing or an unknown verdict, and answers null for no session', () => {
    assert.throws(() => readLoadReply('sid', ['current 1 2 3', null, null, null, null]), TypeError);
    assert.throws(() => readLoadReply('sid', [head('-', 'maybe'), null, null, null, null]), TypeError);
    assert.throws(() => readLoadReply('sid', [head('-')]), TypeError);
    assert.equal(readLoadReply('sid', null), null);
  });
});
