/**
 * The two stored forms of a user's sessions (`ts:us:{<userId>}`, decision D94)
 * on one real redis-server: a hash, this release's default, which Redis 7.0
 * keeps as a listpack, and a set, the form earlier releases wrote and read.
 * Two stores share the keys: one that writes hashes, and one set to `set` for
 * a rollout beside an earlier release, writing what that release wrote. A
 * privacy request must find every session of the user whichever node
 * registered each, and a set must become a hash without losing a member or its
 * deadline.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SessionStore } from '../../src/store/session-store.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { applied, settings, signIn, stamp } from './conformance/support.js';

let server: RedisServer;
let hashes: SessionStore;
let sets: SessionStore;
before(async () => {
  server = await startRedis();
  hashes = await RedisStore.connect({ ...settings(), engine: 'redis', url: server.url });
  sets = await RedisStore.connect({ ...settings(), engine: 'redis', url: server.url, tuning: { userSessionsForm: 'set' } });
});
after(async () => {
  await hashes.close();
  await sets.close();
  await server.stop();
});

const sessionsKey = (userId: string): string => `ts:us:{${userId}}`;
const typeOf = async (userId: string): Promise<string> => String(await server.command('TYPE', sessionsKey(userId)));
const encodingOf = async (userId: string): Promise<string> => String(await server.command('OBJECT', 'ENCODING', sessionsKey(userId)));
const deadlineOf = async (userId: string): Promise<number> => Number(await server.command('PEXPIRETIME', sessionsKey(userId)));
const sorted = (ids: readonly string[]): string[] => [...ids].sort();

/** A session of the user signed in through `store`, and ended, so that the next sign-in makes another. */
async function endedSession(store: SessionStore, userId: string): Promise<string> {
  const session = await signIn(store, { userId });
  await applied(store, session.id, session.caller, { kind: 'session.end' });
  return session.id;
}

describe("a user's sessions kept as a hash or as a set (D94)", { timeout: 60_000 }, () => {
  it('are a hash for a new user, a listpack at Redis 7.0 defaults, with every session found', async () => {
    const userId = `new-${Math.random()}`;
    const ended = await endedSession(hashes, userId);
    const live = await signIn(hashes, { userId });
    assert.equal(await typeOf(userId), 'hash');
    assert.equal(await encodingOf(userId), 'listpack');
    assert.deepEqual(sorted(await hashes.userSessions(userId)), sorted([ended, live.id]));
    // A node that writes sets reads them too.
    assert.deepEqual(sorted(await sets.userSessions(userId)), sorted([ended, live.id]));
    assert.ok((await deadlineOf(userId)) >= live.meta.absoluteExpiresAt, 'the sessions outlive the live one');
  });

  it('are a set where a node writes sets, read by every node, and become a hash at the next registration with their deadline', async () => {
    const userId = `earlier-${Math.random()}`;
    const first = await endedSession(sets, userId);
    const second = await endedSession(sets, userId);
    assert.equal(await typeOf(userId), 'set');
    const deadline = await deadlineOf(userId);
    assert.ok(deadline > Date.now(), 'the set has a deadline');

    // A read (a no-writes function) leaves the set as it is.
    assert.deepEqual(sorted(await hashes.userSessions(userId)), sorted([first, second]));
    assert.equal(await typeOf(userId), 'set');

    // A sign-in through a node that writes hashes turns the set into one: every member, the deadline kept or moved up.
    const third = await signIn(hashes, { userId });
    assert.equal(await typeOf(userId), 'hash');
    assert.equal(await encodingOf(userId), 'listpack');
    assert.deepEqual(sorted((await server.command('HKEYS', sessionsKey(userId))) as string[]), sorted([first, second, third.id]));
    assert.ok((await deadlineOf(userId)) >= deadline);

    // The node that writes sets keeps writing a hash it meets as a hash.
    await applied(hashes, third.id, third.caller, { kind: 'session.end' });
    const fourth = await signIn(sets, { userId });
    assert.equal(await typeOf(userId), 'hash');
    assert.deepEqual(sorted(await sets.userSessions(userId)), sorted([first, second, third.id, fourth.id]));

    // Erasure finds and erases them all, and leaves no key of the user behind.
    assert.equal(await hashes.eraseUser(userId, Date.now(), stamp()), 4);
    assert.deepEqual(await hashes.userSessions(userId), []);
    assert.equal(await server.command('EXISTS', sessionsKey(userId), `ts:u:{${userId}}`), 0);
  });

  it('turns a set larger than one call takes (2,500 ids, 1,000 values a call) into a hash', async () => {
    const userId = `many-${Math.random()}`;
    const ids = Array.from({ length: 2_500 }, (_, i) => `old-session-${String(i).padStart(5, '0')}`);
    const deadline = Date.now() + 86_400_000 * 30;
    for (let i = 0; i < ids.length; i += 500) await server.command('SADD', sessionsKey(userId), ...ids.slice(i, i + 500));
    await server.command('PEXPIREAT', sessionsKey(userId), deadline);

    const session = await signIn(hashes, { userId });
    assert.equal(await typeOf(userId), 'hash');
    assert.equal(await server.command('HLEN', sessionsKey(userId)), ids.length + 1);
    assert.equal(await deadlineOf(userId), deadline, 'a later deadline than the new session’s stays');
    assert.deepEqual(await hashes.userSessions(userId), sorted([...ids, session.id]));
  });

  it('are made in the form the registering node writes', async () => {
    const byHashes = `by-hashes-${Math.random()}`;
    const bySets = `by-sets-${Math.random()}`;
    await signIn(hashes, { userId: byHashes });
    await signIn(sets, { userId: bySets });
    assert.deepEqual([await typeOf(byHashes), await typeOf(bySets)], ['hash', 'set']);
  });
});
