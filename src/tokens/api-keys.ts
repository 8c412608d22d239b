/**
 * API keys of calling services, from `TESSERA_API_KEYS` (`name:secret[:admin]`).
 * Kept as SHA-256 digests; a presented key is hashed and compared with every
 * known digest in constant time, and remembered once accepted.
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

/** Presented secrets remembered once accepted (a few callers send the same key on every request). */
const ACCEPTED_KEPT = 64;

export class ApiKeyRing {
  readonly #keys: readonly ApiKey[];
  /**
   * Secrets already accepted, so that a known caller costs a map lookup rather
   * than a digest and a comparison with every key. Only accepted secrets are
   * kept, so a guess is always hashed and compared in full; a lookup's time
   * depends on the presented string's hash, which tells nothing about a key.
   */
  readonly #accepted = new Map<string, ApiKey>();

  constructor(keys: readonly ApiKey[]) {
    this.#keys = keys;
  }

  /** The key whose secret this is, or null. */
  authenticate(secret: string): ApiKey | null {
    const known = this.#accepted.get(secret);
    if (known !== undefined) return known;
    const digest = digestOf(secret);
    let found: ApiKey | null = null;
    for (const key of this.#keys) {
      if (timingSafeEqual(key.digest, digest)) found = key;
    }
    if (found !== null) {
      if (this.#accepted.size >= ACCEPTED_KEPT) this.#accepted.clear();
      this.#accepted.set(secret, found);
    }
    return found;
  }
}
