import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readApplyReply, readLoadReply as readReply } from '../../src/store/redis/replies.js';
import type { LoadedSession } from '../../src/store/session-store.js';

/** A load reply that must be a session (or nothing): the redirect and migration answers have tests of their own. */
function readLoadReply(sessionId: string, reply: unknown): LoadedSession | null {
  const loaded = readReply(sessionId, reply);
  if (loaded === 'migrate' || (loaded !== null && 'moved' in loaded)) throw new TypeError('not a session');
  return loaded;
}

const V = (n: number): string => n.toString(16).padStart(16, '0');

describe('the load reply of the Redis engines', () => {
  const device = (verdict: string, level = 'otp', persistence = 't') =>
    verdict === '-' ? '- - - -' : `1764800000001 1764800000000 ${level} ${persistence}`;
  const head = (user: string, verdict = 'current', level?: string, persistence?: string) =>
    `${verdict} 1764800000000 1764800000001 1767392000000 1796336000000 c2VjcmV0 ${V(8)} ${V(1)} ${V(0)} ${V(2)} ${device(verdict, level, persistence).split(' ')[0]} - ${device(verdict, level, persistence).split(' ').slice(1).join(' ')} ${user}`;

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
    assert.deepEqual(loaded?.versions, { cart: V(8), prefs: V(1), history: V(0), devices: V(2) });
    assert.equal(loaded?.credential, 'current');
    assert.equal(loaded?.credentialActiveAt, 1764800000001);
    assert.deepEqual(loaded?.credentialAuth, { authenticatedAt: 1764800000000, authLevel: 'otp', persistent: false });
  });

  it("reads a device without a level as persistent 'p' and no level", () => {
    const loaded = readLoadReply('sid', [head('=u', 'grace', '-', 'p'), null, null, null, null]);
    assert.deepEqual(loaded?.credentialAuth, { authenticatedAt: 1764800000000, persistent: true });
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

  it('reads a redirect to the session this one was merged into, and a request to migrate', () => {
    assert.deepEqual(readReply('sid', ['moved', 'winner', 'c2VjcmV0']), { moved: 'winner', csrfSecret: 'c2VjcmV0' });
    assert.equal(readReply('sid', ['migrate']), 'migrate');
  });
});

describe('the apply reply of the Redis engines', () => {
  const stamp = '019aa0e0a000.0002.eu.abcdefgh';
  const device = JSON.stringify({ c: 1764800000000, l: 1764800000001, g: 0, h: 'hash', t: stamp });
  const applied = (head: string, part: unknown = null, records: unknown[] = []) => ['applied', head, ['dev1', device], part, records];
  const session = (head: string, part?: unknown, records?: unknown[]) => {
    const read = readApplyReply('sid', 'cart', applied(head, part, records), 'eu');
    if ('moved' in read || read.result.status !== 'applied') throw new TypeError('not applied');
    return { ...read, result: read.result };
  };

  it('reads the head line by position: the deadline, the stamp, the metadata as written, the user id last', () => {
    const read = session(`1799251200000 1 ${stamp} 1764800000000 1764800000001 1767392000000 1796336000000 c2VjcmV0 ${V(8)} ${V(1)} ${V(0)} ${V(2)} - - ${stamp} - =ann marie = x`);
    assert.equal(read.keyDeadline, 1799251200000);
    assert.equal(read.deadlineMoved, true);
    assert.equal(read.result.hlc, stamp);
    assert.deepEqual(read.result.session.meta, {
      id: 'sid',
      userId: 'ann marie = x',
      createdAt: 1764800000000,
      lastActiveAt: 1764800000001,
      idleExpiresAt: 1767392000000,
      absoluteExpiresAt: 1796336000000,
      csrfSecret: 'c2VjcmV0',
      t: stamp,
    });
    assert.deepEqual(read.result.session.versions, { cart: V(8), prefs: V(1), history: V(0), devices: V(2) });
    assert.deepEqual(Object.keys(read.result.session.devices.devices), ['dev1']);
    assert.equal(read.result.session.cart, undefined, 'no part fields: the caller joins the records');
  });

  it('reads an ended session: no secret, its end, every version empty, a guest', () => {
    const read = session(`1799251200000 0 ${stamp} 1764800000000 1764800000001 1767392000000 1796336000000  - - - - 1764800000002 - ${stamp} - -`);
    assert.equal(read.deadlineMoved, false);
    assert.equal(read.result.session.meta.csrfSecret, '');
    assert.equal(read.result.session.meta.endedAt, 1764800000002);
    assert.equal(read.result.session.meta.userId, null);
    assert.equal('erasedAt' in read.result.session.meta, false);
    assert.equal('mergedInto' in read.result.session.meta, false);
    assert.deepEqual(read.result.session.versions, { cart: V(0), prefs: V(0), history: V(0), devices: V(0) });
  });

  it("reads the part's fields when sent, and the change records stamped with the head's stamp", () => {
    const line = JSON.stringify({ at: 1764800000001, n: { eu: [2, 0] } });
    const read = session(`1799251200000 0 ${stamp} 1 2 3 4 s ${V(8)} ${V(1)} ${V(0)} ${V(2)} - - ${stamp} - -`, ['SKU-1', line], [['cart', ['SKU-1', line]]]);
    assert.deepEqual(read.result.session.cart, { lines: { 'SKU-1': { at: 1764800000001, n: { eu: [2, 0] } } } });
    assert.deepEqual(read.result.records, [
      { sessionId: 'sid', hlc: stamp, origin: 'eu', part: 'cart', state: { lines: { 'SKU-1': { at: 1764800000001, n: { eu: [2, 0] } } } } },
    ]);
  });

  it('refuses a head line with fields missing', () => {
    assert.throws(() => readApplyReply('sid', 'cart', applied(`1799251200000 0 ${stamp} 1 2 3 4 s`), 'eu'), TypeError);
    assert.throws(() => readApplyReply('sid', 'cart', ['applied', ['c', '1'], [], null, []], 'eu'), TypeError);
  });
});
