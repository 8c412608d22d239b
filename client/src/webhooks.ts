/**
 * Receiving Tessera's session events: `verifyWebhook` checks a delivery's
 * Standard Webhooks signature (HMAC-SHA256 over `<id>.<timestamp>.<body>`
 * with the `whsec_` secret, compared in constant time) and its age, and
 * returns the event. Deliveries are at-least-once: de-duplicate by `event.id`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SessionEvent } from './types.js';

/** A delivery that is not Tessera's (or is too old to trust): answer it 400 and ignore it. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

export interface VerifyWebhookOptions {
  /** How far the delivery's `webhook-timestamp` may be from now, either way (replay window). @default 300 */
  readonly toleranceSeconds?: number;
  /** The time to check against, in ms. @default Date.now() */
  readonly now?: number;
}

/** Request headers as Node (`req.headers`) or fetch (`Headers`) give them. */
export type WebhookHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, string | readonly string[] | undefined>)[name];
  return Array.isArray(value) ? value[0] : (value as string | undefined);
}

function keyOf(secret: string): Buffer {
  if (!secret.startsWith('whsec_')) throw new TypeError('a webhook secret starts with whsec_ (the value of TESSERA_WEBHOOK_SECRET)');
  return Buffer.from(secret.slice('whsec_'.length), 'base64');
}

/**
 * Checks a webhook delivery and returns its event. Pass the body exactly as
 * received (before any JSON parsing) and every secret in use (while the
 * service rotates secrets, the old and the new one).
 * @example
 * app.post('/hooks/tessera', express.text({ type: 'application/json' }), (req, res) => {
 *   let event;
 *   try {
 *     event = verifyWebhook(process.env.TESSERA_WEBHOOK_SECRET!, req.headers, req.body);
 *   } catch {
 *     return res.sendStatus(400);
 *   }
 *   if (!alreadyHandled(event.id)) handle(event); // at-least-once: de-duplicate by id
 *   res.sendStatus(204);
 * });
 */
export function verifyWebhook(
  secret: string | readonly string[],
  headers: WebhookHeaders,
  body: string | Uint8Array,
  options: VerifyWebhookOptions = {},
): SessionEvent {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature');
  const seconds = Number(timestamp);
  const now = (options.now ?? Date.now()) / 1000;
  if (!/^\d+$/.test(timestamp) || Math.abs(now - seconds) > (options.toleranceSeconds ?? 300)) {
    throw new WebhookVerificationError('webhook-timestamp is not within the tolerance of now');
  }
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  const content = `${id}.${timestamp}.${text}`;
  const presented = signatures
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'));
  const valid = (typeof secret === 'string' ? [secret] : secret).some((candidate) => {
    const expected = createHmac('sha256', keyOf(candidate)).update(content).digest();
    return presented.some((signature) => signature.length === expected.length && timingSafeEqual(signature, expected));
  });
  if (!valid) throw new WebhookVerificationError('no signature matches the secret');
  let payload: Omit<SessionEvent, 'id'>;
  try {
    payload = JSON.parse(text) as Omit<SessionEvent, 'id'>;
  } catch {
    throw new WebhookVerificationError('the body is not JSON');
  }
  return { id, type: payload.type, timestamp: payload.timestamp, data: payload.data };
}
