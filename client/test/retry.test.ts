import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RETRY, backoffDelay, neverSent, parseRetryAfter } from '../src/retry.js';

describe('backoffDelay (full jitter)', () => {
  const cases = [
    { retry: 0, ceiling: 50 },
    { retry: 1, ceiling: 100 },
    { retry: 3, ceiling: 400 },
    { retry: 10, ceiling: 2000 }, // capped at maxDelayMs
  ];
  for (const { retry, ceiling } of cases) {
    it(`waits in [0, ${ceiling}) before retry ${retry}`, () => {
      assert.equal(backoffDelay(retry, DEFAULT_RETRY, () => 0), 0);
      assert.equal(backoffDelay(retry, DEFAULT_RETRY, () => 0.999999), ceiling - 1);
      for (let i = 0; i < 100; i++) {
        const delay = backoffDelay(retry, DEFAULT_RETRY);
        assert.ok(delay >= 0 && delay < ceiling, `${delay}`);
      }
    });
  }
});

describe('neverSent', () => {
  const cases: [string, unknown, boolean][] = [
    ['connection refused', Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }), true],
    ['unknown host', Object.assign(new Error('dns'), { code: 'ENOTFOUND' }), true],
    ['undici connect timeout', Object.assign(new Error('t'), { code: 'UND_ERR_CONNECT_TIMEOUT' }), true],
    ['refused, wrapped as cause', new Error('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }), true],
    ['refused inside an AggregateError (IPv4 and IPv6 attempts)', new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]), true],
    ['reset mid-request: may have been sent', Object.assign(new Error('reset'), { code: 'ECONNRESET' }), false],
    ['socket closed by the other side', Object.assign(new Error('closed'), { code: 'UND_ERR_SOCKET' }), false],
    ['a plain error', new Error('boom'), false],
  ];
  for (const [name, error, expected] of cases) {
    it(`${expected ? 'treats' : 'does not treat'} ${name} as never sent`, () => {
      assert.equal(neverSent(error), expected);
    });
  }
});

describe('parseRetryAfter', () => {
  it('reads seconds', () => assert.equal(parseRetryAfter('3'), 3000));
  it('reads an HTTP date', () => assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4000), 6000));
  it('ignores garbage and absence', () => {
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
});
