/**
 * `mergePart` is a join (semilattice) for every part: commutative, associative
 * and idempotent, on states produced by concurrent operations of several
 * regions — each replica's state and every change record, since deltas are
 * states too. States are compared in canonical form (key order ignored).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mergePart, type PartName, type PartStates } from '../../src/domain/parts.js';
import { canonical, simulate, statesOf, stepsArb, TEST_LIMITS, type Family } from './support.js';

const NUM_RUNS = 150;

const FAMILIES: Record<PartName, readonly Family[]> = {
  meta: ['meta', 'devices'],
  devices: ['devices', 'meta'],
  cart: ['cart'],
  prefs: ['prefs'],
  history: ['history'],
};

function lawsHold<P extends PartName>(part: P): void {
  const join = (x: PartStates[P], y: PartStates[P]): PartStates[P] => mergePart(part, x, y, TEST_LIMITS.historyItems);
  const same = (actual: unknown, expected: unknown, law: string): void =>
    assert.deepStrictEqual(canonical(actual), canonical(expected), `${part}: ${law}`);

  fc.assert(
    fc.property(stepsArb(FAMILIES[part]), fc.gen(), (steps, g) => {
      const states = statesOf(simulate(steps), part);
      const pick = (): PartStates[P] => states[g(fc.nat, states.length - 1)]!;
      // The three replicas' states, then random picks among replicas and records.
      const triples: PartStates[P][][] = [states.slice(0, 3), [pick(), pick(), pick()], [pick(), pick(), pick()]];
      for (const [x, y, z] of triples as [PartStates[P], PartStates[P], PartStates[P]][]) {
        same(join(x, y), join(y, x), 'commutative');
        same(join(join(x, y), z), join(x, join(y, z)), 'associative');
        same(join(x, x), x, 'idempotent');
        same(join(join(x, y), y), join(x, y), 'absorbs a state it already holds');
      }
    }),
    { numRuns: NUM_RUNS },
  );
}

describe('mergePart is commutative, associative and idempotent', () => {
  for (const part of Object.keys(FAMILIES) as PartName[]) {
    test(`for the ${part} part`, () => lawsHold(part));
  }
});

test('mergePart refuses an unknown part', () => {
  assert.throws(() => mergePart('nope' as PartName, {} as never, {} as never, 10), TypeError);
});
