/**
 * The epoch rules (`src/replication/epochs.ts`): who owns a home, and whether
 * an auth change counts, from the records one node knows — including the
 * records it lacks because the epoch stream lost them (D90). Pure: no NATS.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { EpochBook, type EpochRecord } from '../../src/replication/epochs.js';

const REGIONS = ['eu', 'us', 'ap'] as const;
/** Each region's one global stream (a fence names the previous owner's). */
const streamOf = (region: string): string => `G_${region}`;

/** A history of home `ap`: owners in turn (never the same twice in a row), each record fenced at the previous owner's stream. */
const history = fc
  .array(fc.tuple(fc.constantFrom(...REGIONS), fc.nat({ max: 40 })), { maxLength: 8 })
  .map((steps) => {
    const records: EpochRecord[] = [];
    let owner = 'ap';
    for (const [next, fence] of steps) {
      if (next === owner) continue;
      records.push({ home: 'ap', owner: next, epoch: records.length + 1, fence: { [streamOf(owner)]: fence } });
      owner = next;
    }
    return records;
  });

/** An auth change of home `ap`: published by `origin` on its own stream at `sequence`, at some epoch. */
const change = fc.record({ origin: fc.constantFrom(...REGIONS), epoch: fc.nat({ max: 10 }), sequence: fc.nat({ max: 50 }) });

function bookOf(records: readonly EpochRecord[]): EpochBook {
  const book = new EpochBook(REGIONS);
  for (const record of records) assert.equal(book.add(record).kind, 'new');
  return book;
}

describe('epoch rules', () => {
  test('no record: a home owns itself at epoch 0, and its own changes count', () => {
    const book = new EpochBook(REGIONS);
    assert.deepEqual(book.ownerOf('ap'), { owner: 'ap', epoch: 0 });
    assert.equal(book.judge('ap', 'ap', 0, streamOf('ap'), 7), 'valid');
    assert.equal(book.judge('ap', 'eu', 0, streamOf('eu'), 7), 'ended', 'another region never owned epoch 0');
    assert.equal(book.judge('ap', 'eu', 1, streamOf('eu'), 7), 'unknown', 'an epoch later than any known');
  });

  test('a takeover and a handback: changes count up to the next epoch’s fence, on the owner’s stream', () => {
    const book = bookOf([
      { home: 'ap', owner: 'eu', epoch: 1, fence: { [streamOf('ap')]: 10 } },
      { home: 'ap', owner: 'ap', epoch: 2, fence: { [streamOf('eu')]: 20 } },
    ]);
    assert.deepEqual(book.ownerOf('ap'), { owner: 'ap', epoch: 2 });
    assert.equal(book.judge('ap', 'ap', 0, streamOf('ap'), 10), 'valid');
    assert.equal(book.judge('ap', 'ap', 0, streamOf('ap'), 11), 'ended', 'published after the takeover’s fence');
    assert.equal(book.judge('ap', 'eu', 1, streamOf('eu'), 20), 'valid');
    assert.equal(book.judge('ap', 'eu', 1, streamOf('eu'), 21), 'ended');
    assert.equal(book.judge('ap', 'us', 1, streamOf('us'), 1), 'ended', 'us never owned epoch 1');
    assert.equal(book.judge('ap', 'ap', 2, streamOf('ap'), 99), 'valid');
  });

  test('a record missing between two known: judged by the next one’s fence, or unknown where that cannot tell', () => {
    // Epoch 1 (eu's takeover) lost; epoch 2 (the handback, fenced at eu's stream) known.
    const book = bookOf([{ home: 'ap', owner: 'ap', epoch: 2, fence: { [streamOf('eu')]: 20 } }]);
    assert.equal(book.judge('ap', 'eu', 1, streamOf('eu'), 20), 'valid', 'the fence names eu’s stream: eu owned epoch 1');
    assert.equal(book.judge('ap', 'eu', 1, streamOf('eu'), 21), 'ended');
    assert.equal(book.judge('ap', 'us', 1, streamOf('us'), 1), 'ended', 'the fence does not name us’s stream');
    assert.equal(book.judge('ap', 'ap', 0, streamOf('ap'), 5), 'unknown', 'epoch 0’s end is in the record that is missing');
  });

  test('records arrive in any order, and twice: the same book', () => {
    fc.assert(
      fc.property(history, fc.array(change, { maxLength: 20 }), fc.nat(), (records, changes, seed) => {
        const shuffled = fc.sample(fc.shuffledSubarray([...records, ...records], { minLength: 2 * records.length }), { numRuns: 1, seed })[0]!;
        const [inOrder, anyOrder] = [bookOf(records), new EpochBook(REGIONS)];
        for (const record of shuffled) assert.notEqual(anyOrder.add(record).kind, 'conflict');
        assert.deepEqual(anyOrder.records(['ap']), inOrder.records(['ap']));
        assert.deepEqual(anyOrder.ownerOf('ap'), inOrder.ownerOf('ap'));
        for (const c of changes) assert.equal(anyOrder.judge('ap', c.origin, c.epoch, streamOf(c.origin), c.sequence), inOrder.judge('ap', c.origin, c.epoch, streamOf(c.origin), c.sequence));
      }),
    );
  });

  test('records lost, the latest kept (what a heartbeat carries): no verdict differs from the whole history’s — it is the same, or unknown', () => {
    fc.assert(
      fc.property(
        history.filter((records) => records.length > 0),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        fc.array(change, { minLength: 1, maxLength: 30 }),
        (records, kept, changes) => {
          const whole = bookOf(records);
          const partial = bookOf(records.filter((record, i) => kept[i] === true || i === records.length - 1));
          assert.deepEqual(partial.ownerOf('ap'), whole.ownerOf('ap'));
          for (const c of changes) {
            const [told, truth] = [partial.judge('ap', c.origin, c.epoch, streamOf(c.origin), c.sequence), whole.judge('ap', c.origin, c.epoch, streamOf(c.origin), c.sequence)];
            assert.ok(told === truth || told === 'unknown', `${JSON.stringify(c)}: ${told} where the whole history says ${truth}`);
          }
        },
      ),
    );
  });

  test('a second record of a known epoch keeps the first; malformed records are refused', () => {
    const book = bookOf([{ home: 'ap', owner: 'eu', epoch: 1, fence: { [streamOf('ap')]: 3 } }]);
    const outcome = book.add({ home: 'ap', owner: 'us', epoch: 1, fence: { [streamOf('ap')]: 3 } });
    assert.equal(outcome.kind, 'conflict');
    assert.deepEqual(book.ownerOf('ap'), { owner: 'eu', epoch: 1 });
    assert.equal(book.add({ home: 'ap', owner: 'eu', epoch: 1, fence: { [streamOf('ap')]: 3 } }).kind, 'known');
    for (const bad of [
      null,
      'x',
      { home: 'ap', owner: 'eu', epoch: 0, fence: {} },
      { home: 'ap', owner: 'eu', epoch: 1.5, fence: {} },
      { home: 'ap', owner: 'mars', epoch: 2, fence: {} },
      { home: 'mars', owner: 'eu', epoch: 2, fence: {} },
      { home: 'ap', owner: 'eu', epoch: 2 },
      { home: 'ap', owner: 'eu', epoch: 2, fence: [] },
      { home: 'ap', owner: 'eu', epoch: 2, fence: { [streamOf('ap')]: -1 } },
      { home: 'ap', owner: 'eu', epoch: 2, fence: { [streamOf('ap')]: '3' } },
    ]) {
      assert.equal(book.add(bad).kind, 'malformed', JSON.stringify(bad));
    }
    assert.deepEqual(book.records(['ap']).map((r) => r.epoch), [1]);
  });
});
