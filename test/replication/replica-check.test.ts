/**
 * The replica check's judgement of one stream, check after check, from the
 * views every server gives of it (`/jsz`): which replica is short and must go,
 * which leader must step down, and which replicas are only catching up. The
 * chaos tests run it against real servers; here each case is spelled out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SHORT_CHECKS, judgeStream, type ServerView, type StreamMemory } from '../../src/replication/replica-check.js';

/** The views of a three-replica stream led by `eu`; `behind` is what the leader knows to be catching up or away. */
function views(seqs: Readonly<Record<string, number>>, behind: readonly string[] = []): ServerView[] {
  return Object.entries(seqs).map(([server, lastSeq]) => ({ server, lastSeq, leader: 'eu', behind: new Set(server === 'eu' ? behind : []) }));
}

const fresh = (): StreamMemory => ({ strikes: new Map() });

describe('the replica check of one stream', () => {
  it('removes a replica the leader takes for current once it has stayed short at two checks in a row', () => {
    assert.equal(SHORT_CHECKS, 2);
    const memory = fresh();
    assert.deepEqual(judgeStream(views({ eu: 100, us: 100, ap: 90 }), memory), [], 'the first check only learns where the leader is');
    assert.deepEqual(judgeStream(views({ eu: 110, us: 110, ap: 90 }), memory), [], 'short once: it may have just come back');
    assert.deepEqual(judgeStream(views({ eu: 120, us: 120, ap: 90 }), memory), [{ action: 'peer-removed', server: 'ap', behind: 30 }]);
  });

  it('keeps a replica that is back from a restart and catches up by the next check', () => {
    const memory = fresh();
    judgeStream(views({ eu: 231, ap: 231 }), memory); // us is down: no view of its own
    assert.deepEqual(judgeStream(views({ eu: 232, us: 230, ap: 232 }), memory), [], 'back, short of what the leader held at the check before');
    assert.deepEqual(judgeStream(views({ eu: 240, us: 240, ap: 240 }), memory), [], 'caught up');
    assert.deepEqual(judgeStream(views({ eu: 250, us: 249, ap: 250 }), memory), [], 'lagging behind new writes is not short');
    assert.deepEqual(memory.strikes, new Map());
  });

  it('starts the count again when a replica catches up, goes away or the stream has no leader between two short checks', () => {
    const caughtUp = fresh();
    judgeStream(views({ eu: 100, us: 100, ap: 100 }), caughtUp);
    judgeStream(views({ eu: 110, us: 110, ap: 95 }), caughtUp);
    judgeStream(views({ eu: 120, us: 120, ap: 120 }), caughtUp);
    assert.deepEqual(judgeStream(views({ eu: 130, us: 130, ap: 115 }), caughtUp), [], 'short again, but only once in a row');

    const away = fresh();
    judgeStream(views({ eu: 100, us: 100, ap: 100 }), away);
    judgeStream(views({ eu: 110, us: 110, ap: 95 }), away);
    judgeStream(views({ eu: 120, us: 120 }), away);
    assert.deepEqual(judgeStream(views({ eu: 130, us: 130, ap: 115 }), away), [], 'its server was away in between');

    const leaderless = fresh();
    judgeStream(views({ eu: 100, us: 100, ap: 100 }), leaderless);
    judgeStream(views({ eu: 110, us: 110, ap: 95 }), leaderless);
    judgeStream([{ server: 'us', lastSeq: 110, leader: undefined, behind: new Set() }, { server: 'ap', lastSeq: 95, leader: undefined, behind: new Set() }], leaderless);
    assert.deepEqual(judgeStream(views({ eu: 130, us: 130, ap: 105 }), leaderless), [], 'no leader to judge by in between');
  });

  it('judges only intervals with new writes: in a quiet stream a healthy follower stays one message behind', () => {
    const memory = fresh();
    judgeStream(views({ eu: 99, us: 99, ap: 99 }), memory);
    judgeStream(views({ eu: 100, us: 100, ap: 99 }), memory);
    for (let check = 0; check < 5; check += 1) assert.deepEqual(judgeStream(views({ eu: 100, us: 100, ap: 99 }), memory), [], `quiet check ${check + 1}`);
    assert.deepEqual(judgeStream(views({ eu: 101, us: 101, ap: 101 }), memory), [], 'the next write brings it up');
    // Strikes survive quiet checks: a replica short across writes is still removed at its second such check.
    const stuck = fresh();
    judgeStream(views({ eu: 100, us: 100, ap: 90 }), stuck);
    judgeStream(views({ eu: 110, us: 110, ap: 90 }), stuck);
    judgeStream(views({ eu: 110, us: 110, ap: 90 }), stuck);
    assert.deepEqual(judgeStream(views({ eu: 120, us: 120, ap: 90 }), stuck), [{ action: 'peer-removed', server: 'ap', behind: 30 }]);
  });

  it('leaves a replica the leader knows to be behind (catching up, or cut off) to JetStream', () => {
    const memory = fresh();
    for (const [step, seq] of [100, 110, 120, 130].entries()) {
      assert.deepEqual(judgeStream(views({ eu: seq, us: seq, ap: 50 }, ['ap']), memory), [], `check ${step + 1}`);
    }
  });

  it('steps a leader down that lacks what one of its replicas holds, and reports every replica\'s gap', () => {
    const gaps: Array<[string, number]> = [];
    assert.deepEqual(judgeStream(views({ eu: 100, us: 100, ap: 90 }), fresh(), (server, behind) => gaps.push([server, behind])), []);
    assert.deepEqual(gaps, [['eu', 0], ['us', 0], ['ap', 10]]);
    assert.deepEqual(judgeStream(views({ eu: 98, us: 100, ap: 100 }), fresh()), [{ action: 'leader-stepped-down', server: 'eu', leaderSeq: 98, replicaSeq: 100 }]);
  });

  it('judges nothing without a leader or with a single replica', () => {
    assert.deepEqual(judgeStream([{ server: 'eu', lastSeq: 10, leader: undefined, behind: new Set() }, { server: 'us', lastSeq: 1, leader: undefined, behind: new Set() }], fresh()), []);
    assert.deepEqual(judgeStream(views({ eu: 10 }), fresh()), []);
  });
});
