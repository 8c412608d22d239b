import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isoTime } from '../../src/domain/iso-time.js';

const LAST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

describe('isoTime', () => {
  it('writes exactly what Date#toISOString writes, for every time from 1970 to 9999', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: LAST }), (ms) => assert.equal(isoTime(ms), new Date(ms).toISOString())),
      { numRuns: 20_000 },
    );
  });

  it('is exact at the edges: epoch, leap days, century years, ends of days and years', () => {
    const edges = [
      0, 1, 999, 86_399_999, 86_400_000,
      Date.UTC(2000, 1, 29, 12), Date.UTC(2100, 1, 28, 23, 59, 59, 999), Date.UTC(2100, 2, 1), Date.UTC(2400, 1, 29),
      Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2027, 0, 1), LAST,
    ];
    for (const ms of edges) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  });

  it('leaves times outside 1970–9999 and fractions to the builtin', () => {
    for (const ms of [-1, -86_400_001, LAST + 1, 1.5]) assert.equal(isoTime(ms), new Date(ms).toISOString());
  });
});
