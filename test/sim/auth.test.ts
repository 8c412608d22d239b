/**
 * Strongly consistent tokens across three simulated regions, judged by a
 * history checker (`history.ts`): no token check that started after a
 * revocation returned is accepted anywhere — while other regions validate in
 * tight loops, while a region is cut off, with rotations racing from two
 * regions, and with the home region killed.
 */
import './one-at-a-time.js';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startSim, type Sim } from '../../sim/harness.js';
import { RECLAIM_STEADY_MS, TAKEOVER_MS } from '../../src/replication/home.js';
import { History } from './history.js';
import { CHAOS_ENV, HEALED_WITHIN_MS, metricOf, RegionClient, waitUntilSettled } from './support.js';

const REGIONS = ['eu', 'us', 'ap'] as const;
/** Long enough that a read right after a rotation lands inside it, on a busy 2-core machine too. */
const GRACE_MS = 2_000;
/** Each region's wall clock against the machine's (libfaketime). */
const SKEW_MS = { ap: 90_000, us: -90_000 } as const;
/** The freshness lease (`FRESH_MS`) plus the home lease and margins: how long a cut-off region may still answer from its copy. */
const STALE_BOUND_MS = 5_000;
/** Rounds of tests 1 and 3 run this many at a time (what a storefront's traffic looks like, and a shorter suite). */
const LANES = 5;
/** Tells this run's users from an earlier run's. */
const RUN = Date.now().toString(36);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A call retried while it answers 503 (retry-safe), for up to 30 s. */
async function retrying<T extends { status: number }>(call: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + 30_000;
  let answer = await call();
  while (answer.status === 503 && performance.now() < deadline) {
    await sleep(100);
    answer = await call();
  }
  return answer;
}

/** Runs `round(0 … rounds-1)` in `count` lanes at once, each lane taking every `count`-th round in order. */
async function inLanes(count: number, rounds: number, round: (index: number, lane: number) => Promise<void>): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async (_, lane) => {
      for (let index = lane; index < rounds; index += count) await round(index, lane);
    }),
  );
}

/** Validates `current()` in a region in a loop until stopped, recording every check. */
function validator(history: History, client: RegionClient, current: () => string | null) {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const token = current();
      if (token === null) {
        await sleep(2);
        continue;
      }
      await history.validate(token, client.region, async () => (await client.read(token, 'devices')).status);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

describe('tokens across regions', { timeout: 600_000 }, () => {
  let sim: Sim;
  let clients: Record<string, RegionClient>;
  before(async () => {
    sim = await startSim({
      regions: REGIONS,
      rttMs: 10,
      // Wall clocks that disagree by three minutes (test 4): leases and grace windows must not depend on them.
      clockOffsetMs: SKEW_MS,
      tesseraEnv: { ...CHAOS_ENV, TESSERA_ROTATION_GRACE: `${GRACE_MS}ms` },
    });
    clients = Object.fromEntries(REGIONS.map((region) => [region, new RegionClient(sim, region)]));
  });
  after(async () => {
    await sim.stop();
  });

  // Each scenario starts from regions at rest: the one before may have cut, killed or healed a region.
  beforeEach(() => waitUntilSettled(sim, 90_000));

  it('1. a device revoked in one region while two others validate its token in a tight loop, 500 times: no check that began after the revocation returned is accepted', async () => {
    const history = new History();
    // Five lanes at once, each with its own token under check in us and ap.
    const current: Array<string | null> = Array.from({ length: LANES }, () => null);
    const stops = current.flatMap((_, lane) => [validator(history, clients.us!, () => current[lane] ?? null), validator(history, clients.ap!, () => current[lane] ?? null)]);
    try {
      await inLanes(LANES, 500, async (round, lane) => {
        const signedIn = await clients.eu!.signIn(`revoke-${lane}-${Math.floor(round / 40)}-${RUN}`);
        assert.equal(signedIn.status, 201, `round ${round}: sign-in`);
        const token: string = signedIn.body.token;
        current[lane] = token;
        await sleep(3);
        const status = await history.revoke(token, 'eu', async () => (await clients.eu!.request('DELETE', '/v1/session', { token })).status);
        assert.equal(status, 204, `round ${round}: logout`);
        await sleep(3);
      });
    } finally {
      await Promise.all(stops.map((stop) => stop()));
    }
    assert.equal(history.revocations.length, 500);
    assert.ok(history.checkedAfterRevocation() >= 500, `${history.checkedAfterRevocation()} checks after a revocation`);
    assert.deepEqual(history.staleAccepts(), [], 'a revoked token accepted after its revocation returned');
    assert.ok(history.count('accepted') > 0, 'tokens are accepted before they are revoked (the checks mean something)');
  });

  it('2. the same with a region cut off: it refuses (503), never accepts, and answers again once healed', async () => {
    const history = new History();
    const user = `cut-${Date.now()}`;
    const keeper = await clients.eu!.signIn(user);
    assert.equal(keeper.status, 201);
    await sleep(500);
    assert.equal((await clients.ap!.read(keeper.body.token)).status, 200, 'ap answers before the cut');
    let current: string | null = null;
    const cutAt = performance.now();
    await sim.partition('ap');
    const stops = [validator(history, clients.us!, () => current), validator(history, clients.ap!, () => current)];
    try {
      for (let round = 0; round < 20; round += 1) {
        // While the cut is fresh, NATS may still be moving a stream's leader out of ap: the service answers 503, and callers retry.
        const signedIn = await retrying(() => clients.eu!.signIn(user));
        assert.equal(signedIn.status, 201, `round ${round}: sign-in`);
        current = signedIn.body.token;
        await sleep(5);
        const token = current!;
        assert.equal(await history.revoke(token, 'eu', async () => (await clients.eu!.request('DELETE', '/v1/session', { token })).status), 204, `round ${round}: logout`);
      }
    } finally {
      await Promise.all(stops.map((stop) => stop()));
      await sim.heal('ap');
    }
    assert.deepEqual(history.staleAccepts(), []);
    const apLate = history.validations.filter((v) => v.region === 'ap' && v.start > cutAt + STALE_BOUND_MS);
    assert.ok(apLate.length > 0, 'ap was asked while cut off');
    assert.deepEqual(apLate.filter((v) => v.outcome === 'accepted'), [], 'ap accepts nothing it cannot know is current');
    assert.ok(apLate.every((v) => v.outcome === 'unavailable'), `ap answers 503 while cut off (${[...new Set(apLate.map((v) => v.status))].join(', ')})`);
    await sim.waitForRoutes(HEALED_WITHIN_MS);
    // Within the minute the runbook gives a region after a heal: on NATS 2.9.10 (no pre-vote) the
    // heartbeat bucket can stay without a leader for a while, and then even eu cannot vouch for its
    // own sessions (once seen for 21.5 s: ap answered 35–39 s after the heal). Meanwhile only 503.
    const healedAt = performance.now();
    let answered = 0;
    while (answered !== 200 && performance.now() - healedAt < 60_000) {
      answered = (await clients.ap!.read(keeper.body.token)).status;
      assert.ok([200, 503].includes(answered), `ap answers 200, or 503 while it cannot vouch yet (${answered})`);
      if (answered !== 200) await sleep(200);
    }
    assert.equal(answered, 200, 'ap answers again after the heal');
    console.log(`a cut-off region answered token checks again ${Math.round(performance.now() - healedAt)} ms after its routes were back`);
    // eu or us took ap's home over during the cut; ap asks for it back.
    await waitUntilSettled(sim, 60_000);
  });

  it('3. two regions rotate one device at once, 200 times: one new generation wins, the other gets 409, and the token it replaced is reuse after the grace window', async () => {
    let reuseChecked = 0;
    await inLanes(LANES, 200, async (round, lane) => {
      const signedIn = await clients.eu!.signIn(`rotate-${lane}-${Math.floor(round / 40)}-${RUN}`);
      assert.equal(signedIn.status, 201);
      const token: string = signedIn.body.token;
      const [a, b] = await Promise.all([
        clients.us!.request('POST', '/v1/session/rotate', { token }),
        clients.ap!.request('POST', '/v1/session/rotate', { token }),
      ]);
      const statuses = [a.status, b.status].sort();
      assert.deepEqual(statuses, [200, 409], `round ${round}: exactly one rotation wins (${a.status}, ${b.status})`);
      const winner: string = (a.status === 200 ? a : b).body.token;
      assert.equal(Number.parseInt(winner.split('.')[2]!, 36), 1, 'one generation later');
      for (const region of REGIONS) assert.equal((await clients[region]!.read(winner)).status, 200, `${region} accepts the winner`);
      if (round % 20 === 0) {
        await sleep(GRACE_MS + 100);
        assert.equal((await clients.ap!.read(token)).status, 401, 'the replaced token, after its grace window, is refused');
        for (const region of REGIONS) assert.equal((await clients[region]!.read(winner)).status, 401, `${region}: reuse revoked the device`);
        reuseChecked += 1;
      } else {
        await clients.eu!.request('DELETE', '/v1/session', { token: winner });
      }
    });
    assert.equal(reuseChecked, 10);
  });

  it('4. clocks skewed (ap 90 s ahead, us 90 s behind): a replaced token is refused after its grace window everywhere, and a cut-off home region cannot keep its lease — no revoked token is accepted', async () => {
    // Grace windows: set by ap's clock, checked in us, whose clock is three minutes behind.
    let graceChecked = 0;
    for (let round = 0; round < 10; round += 1) {
      const signedIn = await clients.ap!.signIn(`skew-${round}-${Date.now()}`);
      assert.equal(signedIn.status, 201);
      const old: string = signedIn.body.token;
      const rotatedAt = performance.now();
      const rotated = await clients.ap!.request('POST', '/v1/session/rotate', { token: old });
      assert.equal(rotated.status, 200);
      const inGrace = await clients.us!.read(old);
      // Judged only when the read ended inside the window as measured here (the window starts at the rotation, within the call).
      if (performance.now() - rotatedAt < GRACE_MS) {
        assert.equal(inGrace.status, 200, `round ${round}: the replaced token works in its grace window`);
        graceChecked += 1;
      }
      await sleep(GRACE_MS + 200);
      assert.equal((await clients.us!.read(old)).status, 401, `round ${round}: us refuses the replaced token after the grace window, whatever its clock says`);
      assert.equal((await clients.eu!.read(rotated.body.token)).status, 401, `round ${round}: and that was reuse: the device is revoked`);
    }
    assert.ok(graceChecked >= 5, `the grace window was checked in ${graceChecked} of 10 rounds`);

    // Leases: ap (home of the session, clock ahead) is cut off; another region takes its home over and revokes.
    const history = new History();
    const made = await clients.ap!.signIn(`skew-lease-${Date.now()}`);
    assert.equal(made.status, 201);
    const token: string = made.body.token;
    await sleep(500);
    const stops = [validator(history, clients.ap!, () => token), validator(history, clients.us!, () => token)];
    const cutAt = performance.now();
    await sim.partition('ap');
    let revoked: number;
    try {
      // An operator ends the user's session from eu (the admin API): an auth change of ap's home.
      const user = encodeURIComponent(made.body.session.userId);
      revoked = await history.revoke(token, 'eu', async () => (await clients.eu!.request('DELETE', `/v1/users/${user}/sessions`)).status, 204, 60_000);
      await sleep(3_000);
    } finally {
      await Promise.all(stops.map((stop) => stop()));
      await sim.heal('ap');
    }
    assert.equal(revoked, 204, 'eu orders the revocation once it has taken over the home of the cut-off region');
    const revocation = history.revocations[0]!;
    console.log(`an auth change of a cut-off home resumed ${Math.round(revocation.end - cutAt)} ms after the cut`);
    assert.deepEqual(history.staleAccepts(), [], 'no region accepts the token after its revocation returned');
    assert.ok(history.checkedAfterRevocation() > 0, 'the token was checked after its revocation');
    const apAfter = history.validations.filter((v) => v.region === 'ap' && v.start > revocation.end);
    assert.ok(apAfter.length > 0 && apAfter.every((v) => v.outcome === 'unavailable'), 'ap, cut off with its clock ahead, refuses rather than trusts its lapsed lease');
    await sim.waitForRoutes(HEALED_WITHIN_MS);
    await waitUntilSettled(sim, 60_000);
  });

  it('5. the home region killed: its sessions’ auth changes resume elsewhere, and no token revoked before the kill is accepted after it', async () => {
    const history = new History();
    const made: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      const signedIn = await clients.ap!.signIn(`home-ap-${i}-${Date.now()}`);
      assert.equal(signedIn.status, 201);
      assert.ok(signedIn.body.session.id.startsWith('ap~'), 'homed in ap');
      made.push(signedIn.body.token);
    }
    for (const token of made.slice(0, 5)) {
      assert.equal(await history.revoke(token, 'ap', async () => (await clients.ap!.request('DELETE', '/v1/session', { token })).status), 204);
    }
    const killedAt = performance.now();
    await sim.killRegion('ap');
    // Auth changes of ap's sessions, tried from eu until they are ordered elsewhere.
    let resumedAt = -1;
    for (let attempt = 0; attempt < 600 && resumedAt < 0; attempt += 1) {
      const token = made[5]!;
      const status = await history.revoke(token, 'eu', async () => (await clients.eu!.request('DELETE', '/v1/session', { token })).status, 204, 0);
      if (status === 204) resumedAt = performance.now();
      else {
        assert.ok([503, 0].includes(status), `a retryable answer while the home is lost (${status})`);
        await sleep(100);
      }
      for (const revoked of made.slice(0, 5)) {
        for (const region of ['eu', 'us']) await history.validate(revoked, region, async () => (await clients[region]!.read(revoked)).status);
      }
    }
    assert.ok(resumedAt > 0, 'auth changes of the lost home resumed');
    console.log(`RTO of auth changes after the home region was killed: ${Math.round(resumedAt - killedAt)} ms`);
    for (const token of made.slice(6)) {
      for (const region of ['eu', 'us']) await history.validate(token, region, async () => (await clients[region]!.read(token)).status);
    }
    assert.deepEqual(history.staleAccepts(), []);
    assert.ok(history.validations.filter((v) => made.slice(6).includes(v.token)).every((v) => v.outcome === 'accepted'), 'live sessions of the lost home are served');

    // Back, ap asks for its sessions again and orders them itself. A rotation answered on ap proves
    // little (ap forwards it to whichever region owns its home), so ap's own lease is read; and ap must
    // keep it past a takeover window (a home handed back too early was taken over again once in CI).
    await sim.restartRegion('ap');
    const restartedAt = performance.now();
    const apAdmin = sim.region('ap').adminUrls[0]!;
    const held = async () => (await metricOf(apAdmin, 'tessera_auth_home_lease{home="ap"}')) === 1;
    // Patience as long as the reclaim's own: ap asks once its rounds have been steady for
    // RECLAIM_STEADY_MS, the handback may take 10 s, and ap then waits up to 30 s to have applied the
    // changes made while it was away (`#reclaim` in src/replication/home.ts); plus its restart.
    const patience = performance.now() + RECLAIM_STEADY_MS + 60_000;
    while (!(await held()) && performance.now() < patience) await sleep(250);
    assert.ok(await held(), 'ap holds its home again after it came back');
    console.log(`the killed home held its sessions again ${Math.round(performance.now() - restartedAt)} ms after its restart`);
    const keepUntil = performance.now() + TAKEOVER_MS + 5_000;
    let rotations = 0;
    for (let round = 0; performance.now() < keepUntil; round += 1) {
      const rotated = await clients.ap!.request('POST', '/v1/session/rotate', { token: made[9]! });
      // 503 is retryable: NATS 2.9.10 may still be electing a stream's leader after ap's return.
      assert.ok([200, 503].includes(rotated.status), `round ${round}: ap rotates a device of its own home (${rotated.status})`);
      if (rotated.status === 200) [made[9], rotations] = [rotated.body.token, rotations + 1];
      assert.ok(await held(), `round ${round}: ap still holds its home`);
      await sleep(500);
    }
    assert.ok(rotations > 0, 'ap rotated devices of its own home while it held it');
  });
});
