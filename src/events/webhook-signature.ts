/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): the body is
 * signed with HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`, with
 * the secret's bytes (`whsec_` + base64), and sent as `v1,<base64>` — one per
 * secret, space-separated, so that a secret can be rotated without a gap.
 * The SDK's `verifyWebhook` (client/src/webhooks.ts) checks them.
 */
import { createHmac } from 'node:crypto';

const PREFIX = 'whsec_';

/** A `whsec_…` secret's key bytes; null when it is not one (24 to 64 bytes of base64). */
export function webhookKey(secret: string): Buffer | null {
  if (!secret.startsWith(PREFIX)) return null;
  const text = secret.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return null;
  const key = Buffer.from(text, 'base64');
  return key.length >= 24 && key.length <= 64 ? key : null;
}

/** The `webhook-signature` header of a delivery. */
export function signDelivery(keys: readonly Buffer[], id: string, timestampSeconds: number, body: string): string {
  const content = `${id}.${timestampSeconds}.${body}`;
  return keys.map((key) => `v1,${createHmac('sha256', key).update(content).digest('base64')}`).join(' ');
}
