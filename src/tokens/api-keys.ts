/**
 * API keys of calling services, from `TESSERA_API_KEYS` (`name:secret[:scopes]`).
 * Kept as SHA-256 digests; a presented key is hashed and compared with every
 * known digest in constant time, and remembered once accepted.
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * What a key may do:
 * - `sign-in`: create sessions for a user id (`POST /v1/sessions` with `userId`): whoever holds it
 *   can become any user, so only the service that checks users' credentials should;
 * - `token`: act on a session presented by its token (every `/v1/session…` route) and start guest sessions;
 * - `users`: administer any user by id, without a token (`/v1/users/…`).
 */
export type Scope = 'sign-in' | 'token' | 'users';

export const SCOPES: readonly Scope[] = ['sign-in', 'token', 'users'];

/**
 * The scope names of API v1's first form, kept as aliases so existing
 * configurations mean what they meant: `sessions` (the default: everything but
 * the admin endpoints) and `admin` (everything).
 */
export const SCOPE_ALIASES: Readonly<Record<'sessions' | 'admin', readonly Scope[]>> = {
  sessions: ['sign-in', 'token'],
  admin: ['sign-in', 'token', 'users'],
};

/** A key configured without scopes (`name:secret`) gets `sessions`. */
export const DEFAULT_SCOPES: readonly Scope[] = SCOPE_ALIASES.sessions;

/**
 * The scopes a `+`-separated list names (`sign-in+token`, `admin`), in
 * canonical order, or the first element that is neither a scope nor an alias.
 */
export function parseScopes(text: string): { scopes: Scope[] } | { unknown: string } {
  const named = new Set<Scope>();
  for (const element of text.split('+')) {
    if ((SCOPES as readonly string[]).includes(element)) named.add(element as Scope);
    else if (element === 'sessions' || element === 'admin') for (const scope of SCOPE_ALIASES[element]) named.add(scope);
    else return { unknown: element };
  }
  return { scopes: SCOPES.filter((scope) => named.has(scope)) };
}

export interface ApiKey {
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly digest: Buffer;
}

export interface ApiKeySpec {
  readonly name: string;
  readonly secret: string;
  readonly scopes: readonly Scope[];
}

const digestOf = (secret: string): Buffer => hash('sha256', secret, 'buffer');

export function apiKey({ name, secret, scopes }: ApiKeySpec): ApiKey {
  return { name, scopes, digest: digestOf(secret) };
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
