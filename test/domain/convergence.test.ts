/**
 * Convergence: regions that end up with the same set of change records hold
 * the same state and show callers the same session, whatever order the records
 * arrived in, however often, and whatever each region did in between.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { historyItems } from '../../src/domain/history.js';
import type { PartStates } from '../../src/domain/parts.js';
import { prefsObject } from '../../src/domain/prefs.js';
import { canonical, joinAll, shuffledWithDuplicates, simulate, stepsArb, views, type Family } from './support.js';

const ALL_FAMILIES: readonly Family[] = ['cart', 'prefs', 'history', 'devices', 'meta'];

function assertSameSession(actual: PartStates, expected: PartStates, who: string): void {
  assert.deepStrictEqual(canonical(actual), canonical(expected), `${who}: state`);
  assert.deepStrictEqual(views(actual), views(expected), `${who}: view`);
}

test('replicas that receive the same change records in any order, with duplicates, converge', () => {
  fc.assert(
    fc.property(stepsArb(ALL_FAMILIES, 40), fc.gen(), (steps, g) => {
      const sim = simulate(steps);
      // Every record, in the order produced, into a fresh region: the reference.
      const reference = joinAll(sim.initial, sim.records);
      for (const replica of sim.replicas) {
        // Each region keeps what it has and receives everything, shuffled and duplicated.
        assertSameSession(joinAll(replica.state, shuffledWithDuplicates(g, sim.records)), reference, replica.origin);
      }
      assertSameSession(joinAll(sim.initial, shuffledWithDuplicates(g, sim.records)), reference, 'a rebuilt region');
    }),
    { numRuns: 200 },
  );
});

test('a region that receives records late converges after its own later writes', () => {
  fc.assert(
    fc.property(stepsArb(ALL_FAMILIES, 25), stepsArb(ALL_FAMILIES, 25), fc.gen(), (before, after, g) => {
      // The first phase's records reach every region only after the second phase ran.
      const sim = simulate([...before, ...after]);
      const everything = shuffledWithDuplicates(g, sim.records);
      const states = sim.replicas.map((r) => joinAll(r.state, everything));
      for (const state of states.slice(1)) assertSameSession(state, states[0]!, 'region');
    }),
    { numRuns: 100 },
  );
});

test('the converged history is the newest N distinct products over every view, whatever the interleaving', () => {
  fc.assert(
    fc.property(stepsArb(['history'], 40), fc.gen(), (steps, g) => {
      const sim = simulate(steps);
      const latest = new Map<string, number>();
      for (const record of sim.records) {
        if (record.part !== 'history') continue;
        for (const [id, at] of Object.entries(record.state.items)) latest.set(id, Math.max(latest.get(id) ?? at, at));
      }
      const expected = [...latest]
        .sort(([p, tp], [q, tq]) => tq - tp || (p < q ? -1 : p > q ? 1 : 0))
        .slice(0, 4)
        .map(([productId, at]) => ({ productId, viewedAt: new Date(at).toISOString() }));
      for (const replica of sim.replicas) {
        const state = joinAll(replica.state, shuffledWithDuplicates(g, sim.records));
        assert.deepStrictEqual(historyItems(state.history), expected);
      }
    }),
    { numRuns: 150 },
  );
});

test('converged preferences hold, per key, the value of the write with the largest HLC', () => {
  fc.assert(
    fc.property(stepsArb(['prefs'], 40), fc.gen(), (steps, g) => {
      const sim = simulate(steps);
      const winner = new Map<string, { v: unknown; t: string }>();
      for (const record of sim.records) {
        if (record.part !== 'prefs') continue;
        for (const [key, register] of Object.entries(record.state.keys)) {
          const best = winner.get(key);
          if (best === undefined || register.t > best.t) winner.set(key, register);
        }
      }
      const expected = Object.fromEntries([...winner].filter(([, r]) => r.v !== null).map(([k, r]) => [k, r.v]));
      for (const replica of sim.replicas) {
        const state = joinAll(replica.state, shuffledWithDuplicates(g, sim.records));
        assert.deepStrictEqual(canonical(prefsObject(state.prefs)), canonical(expected));
      }
    }),
    { numRuns: 150 },
  );
});
