/** verifyWebhook: accepts what the service signs, refuses anything else (tampered, stale, unsigned, other secret). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { signDelivery, webhookKey } from '../../src/events/webhook-signature.js';
import { verifyWebhook, WebhookVerificationError } from '../src/index.js';

const SECRET = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
const NEXT = `whsec_${Buffer.alloc(32, 2).toString('base64')}`;
const body = JSON.stringify({ type: 'session.logged_out', timestamp: '2026-01-01T00:00:00.000Z', data: { sessionId: 's', userId: 'u', deviceId: 'd' } });
const now = 1_800_000_000_000;
const seconds = now / 1000;

function delivery(secrets: string[], overrides: Record<string, string> = {}, text = body) {
  const keys = secrets.map((s) => webhookKey(s)!);
  return {
    'webhook-id': 'sid/00.0000.eu#0',
    'webhook-timestamp': String(seconds),
    'webhook-signature': signDelivery(keys, 'sid/00.0000.eu#0', seconds, text),
    ...overrides,
  };
}

describe('verifyWebhook', () => {
  test('returns the event of a delivery the service signed, from Node headers or fetch Headers', () => {
    const event = verifyWebhook(SECRET, delivery([SECRET]), body, { now });
    assert.deepEqual(event, { id: 'sid/00.0000.eu#0', type: 'session.logged_out', timestamp: '2026-01-01T00:00:00.000Z', data: { sessionId: 's', userId: 'u', deviceId: 'd' } });
    assert.equal(verifyWebhook(SECRET, new Headers(delivery([SECRET])), Buffer.from(body), { now }).id, 'sid/00.0000.eu#0');
  });

  test('while secrets rotate, a delivery signed with both verifies with either', () => {
    const headers = delivery([SECRET, NEXT]);
    assert.equal(verifyWebhook(SECRET, headers, body, { now }).type, 'session.logged_out');
    assert.equal(verifyWebhook(NEXT, headers, body, { now }).type, 'session.logged_out');
    assert.equal(verifyWebhook([NEXT, SECRET], delivery([SECRET]), body, { now }).type, 'session.logged_out');
  });

  const refusals: Array<[string, () => unknown]> = [
    ['a tampered body', () => verifyWebhook(SECRET, delivery([SECRET]), body.replace('"u"', '"v"'), { now })],
    ['another secret', () => verifyWebhook(NEXT, delivery([SECRET]), body, { now })],
    ['another id', () => verifyWebhook(SECRET, { ...delivery([SECRET]), 'webhook-id': 'other#0' }, body, { now })],
    ['a timestamp older than the tolerance', () => verifyWebhook(SECRET, delivery([SECRET]), body, { now: now + 301_000 })],
    ['a timestamp from the future', () => verifyWebhook(SECRET, delivery([SECRET]), body, { now: now - 301_000 })],
    ['no signature', () => verifyWebhook(SECRET, { ...delivery([SECRET]), 'webhook-signature': '' }, body, { now })],
    ['a signature of another scheme', () => verifyWebhook(SECRET, { ...delivery([SECRET]), 'webhook-signature': delivery([SECRET])['webhook-signature'].replace('v1,', 'v1a,') }, body, { now })],
  ];
  for (const [what, call] of refusals) {
    test(`refuses ${what}`, () => {
      assert.throws(call, WebhookVerificationError);
    });
  }
});
