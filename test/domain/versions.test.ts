/**
 * Part versions kept up to date change by change (`nextVersion`) are the
 * digest of the state reached (`partVersion`), whatever the changes were —
 * whether the state after shares its untouched entries with the one before
 * (as joins leave them) or every entry is a copy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DATA_PARTS, type PartStates } from '../../src/domain/parts.js';
import { EMPTY_VERSION, nextVersion, partVersion } from '../../src/domain/versions.js';
import { joinAll, simulate, stepsArb, type Family } from './support.js';

const FAMILIES: readonly Family[] = ['cart', 'prefs', 'history', 'devices'];

test('a version moved on change by change equals the digest of the state it reached', () => {
  fc.assert(
    fc.property(stepsArb(FAMILIES, 40), fc.boolean(), (steps, copied) => {
      const sim = simulate(steps);
      let state: PartStates = sim.initial;
      const versions = Object.fromEntries(DATA_PARTS.map((part) => [part, partVersion(part, state[part] as never)])) as Record<string, string>;
      for (const record of sim.records) {
        const next = joinAll(state, [record]);
        // A copy shares no entry with the state after it: every entry's text is compared.
        const before = copied ? (structuredClone(state) as PartStates) : state;
        for (const part of DATA_PARTS) {
          versions[part] = nextVersion(part, versions[part]!, before[part] as never, next[part] as never);
          assert.equal(versions[part], partVersion(part, next[part] as never), `${part} after a ${record.part} record`);
        }
        state = next;
      }
    }),
    { numRuns: 150 },
  );
});

test('an empty part has the empty version, and a part changed and changed back has its first version again', () => {
  assert.equal(partVersion('cart', { lines: {} }), EMPTY_VERSION);
  assert.equal(partVersion('prefs', { keys: {} }), EMPTY_VERSION);
  assert.equal(partVersion('history', { items: {} }), EMPTY_VERSION);
  assert.equal(partVersion('devices', { devices: {} }), EMPTY_VERSION);
  const one = { items: { 'prod-1': 5 } };
  const two = { items: { 'prod-1': 5, 'prod-2': 7 } };
  const v1 = partVersion('history', one);
  const v2 = nextVersion('history', v1, one, two);
  assert.notEqual(v2, v1);
  assert.equal(nextVersion('history', v2, two, one), v1, 'an entry XORed out leaves the version it had without it');
});
