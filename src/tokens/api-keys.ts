/**
 * API keys of calling services, from `TESSERA_API_KEYS` (`name:secret[:admin]`).
 * Kept as SHA-256 digests; a presented key is hashed and compared with every
 * known digest in constant time.
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

export type Scope = 'sessions' | 'admin';

export interface ApiKey {
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly digest: Buffer;
}

export interface ApiKeySpec {
  readonly name: string;
  readonly secret: string;
  readonly admin: boolean;
}

const digestOf = (secret: string): Buffer => hash('sha256', secret, 'buffer');

export function apiKey({ name, secret, admin }: ApiKeySpec): ApiKey {
  return { name, scopes: admin ? ['sessions', 'admin'] : ['sessions'], digest: digestOf(secret) };
}

export function generateApiKeySecret(): string {
  return `tsk_${randomBytes(24).toString('base64url')}`;
}

export class ApiKeyRing {
  readonly #keys: readonly ApiKey[];

  constructor(keys: readonly ApiKey[]) {
    this.#keys = keys;
  }

  /** The key whose secret this is, or null. */
  authenticate(secret: string): ApiKey | null {
    const digest = digestOf(secret);
    let found: ApiKey | null = null;
    for (const key of this.#keys) {
      if (timingSafeEqual(key.digest, digest)) found = key;
    }
    return found;
  }
}
