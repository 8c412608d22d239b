/**
 * `tessera keys generate`: secrets in the forms the configuration takes — an
 * API key entry for TESSERA_API_KEYS (`name:tsk_…:scopes`, `tokens/api-keys.ts`)
 * or a webhook signing secret for TESSERA_WEBHOOK_SECRET (`whsec_…`,
 * `events/webhook-signature.ts`). Nothing else signs: session tokens are
 * random and only their hashes are stored, so there is no token-signing key.
 */
import { randomBytes } from 'node:crypto';
import { generateApiKeySecret, parseScopes, SCOPES } from '../tokens/api-keys.js';
import { UsageError } from './usage.js';

const NAME = /^[A-Za-z0-9_-]{1,32}$/;
/** Bytes of a webhook secret: the middle of the 24-64 the configuration accepts. */
const WEBHOOK_SECRET_BYTES = 32;

export interface KeyOptions {
  readonly name?: string;
  readonly scopes?: string;
  readonly webhook?: boolean;
}

export function generateKey({ name = 'app', scopes = 'sessions', webhook = false }: KeyOptions): string {
  if (webhook) return `whsec_${randomBytes(WEBHOOK_SECRET_BYTES).toString('base64')}`;
  if (!NAME.test(name)) throw new UsageError(`--name "${name}" must be 1-32 characters of [A-Za-z0-9_-]`, 'keys');
  const parsed = parseScopes(scopes);
  if ('unknown' in parsed) {
    throw new UsageError(`--scopes: "${parsed.unknown}" is not one of ${SCOPES.join(', ')} or the aliases sessions, admin (join them with +)`, 'keys');
  }
  return `${name}:${generateApiKeySecret()}:${parsed.scopes.join('+')}`;
}
