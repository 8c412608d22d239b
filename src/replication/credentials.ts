/**
 * Files that say who a node is to NATS, beyond a password in the URL:
 * - a credentials file (`TESSERA_NATS_CREDS`): a user JWT and the NKey seed it was issued to, as
 *   `nsc generate creds` writes them, for servers that run in operator mode (decentralized JWT
 *   authentication, as Synadia Cloud and most multi-tenant NATS deployments do);
 * - an NKey seed file (`TESSERA_NATS_NKEY`): a user's seed alone, for servers that list the
 *   user's public key in their `authorization` block (`nkey: U…`).
 *
 * Either file is read again at each connection, so that a renewed file (short-lived JWTs, a
 * secret rotated by its manager) is taken by a running node at its next reconnect without a
 * restart. A file caught half-written or missing during a rotation does not fail the attempt: the
 * last contents that were checked are used, and the server judges them.
 */
import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, nkeys, type Authenticator } from '@nats-io/transport-node';

/** What a credentials file says of itself that the node uses, without its secrets. */
export interface CredsSummary {
  /** When the JWT stops being accepted, in epoch ms; null when it does not expire. */
  readonly expiresAt: number | null;
}

/** Reads and checks the credentials file at `path` (`checkCreds`). */
export function readCreds(path: string): CredsSummary {
  return checkCreds(readFileSync(path));
}

/**
 * Checks a credentials file's contents: a JWT block and a seed block, the seed a user's that signs
 * (the client's own authenticator is run once on a made-up nonce), the JWT issued to that user.
 * Throws an error that quotes nothing of the file.
 */
export function checkCreds(contents: Uint8Array): CredsSummary {
  let signed: { nkey?: string; jwt?: string };
  try {
    signed = credsAuthenticator(() => contents)('tessera-check') as { nkey?: string; jwt?: string };
  } catch {
    throw new Error('is not a NATS credentials file (a user JWT and its NKey seed, as `nsc generate creds` writes them)');
  }
  const claims = signed.jwt === undefined ? null : jwtClaims(signed.jwt);
  if (claims === null || signed.nkey === undefined || !signed.nkey.startsWith('U') || claims.sub !== signed.nkey) {
    throw new Error("holds a JWT that is not its seed's user JWT; give the .creds file of a NATS user");
  }
  return { expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : null };
}

/** The claims of a JWT, unchecked (the servers check the signatures), or null when it is not one. */
function jwtClaims(jwt: string): { sub?: string; exp?: number } | null {
  const payload = jwt.split('.')[1];
  if (payload === undefined) return null;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null ? (claims as { sub?: string; exp?: number }) : null;
  } catch {
    return null;
  }
}

/** Reads and checks the NKey seed file at `path` (`checkNkeySeed`). */
export function readNkeySeed(path: string): void {
  checkNkeySeed(readFileSync(path));
}

/**
 * Checks an NKey seed file's contents: one user seed (`SU…`), blank lines and surrounding space
 * allowed. Returns the seed, trimmed; throws an error that quotes nothing of the file.
 */
function checkNkeySeed(contents: Uint8Array): Uint8Array {
  const seed = new TextEncoder().encode(Buffer.from(contents).toString('utf8').trim());
  let user: string;
  try {
    user = nkeys.fromSeed(seed).getPublicKey();
  } catch {
    throw new Error('is not an NKey seed file (one seed, as `nk -gen user` writes it)');
  }
  if (!user.startsWith('U')) throw new Error("holds the seed of an operator, account or server, not of a user; give the seed of the user in the servers' authorization block");
  return seed;
}

/**
 * The file `path` read once per connection and checked by `check`; when it cannot be read or
 * checked right then, the last contents that were.
 */
function lastChecked<T>(path: string, check: (contents: Uint8Array) => T): () => T {
  let lastGood: T | null = null;
  return () => {
    try {
      lastGood = check(readFileSync(path));
    } catch (error) {
      if (lastGood === null) throw error;
    }
    return lastGood;
  };
}

/** The client's authenticator for the credentials file at `path`: the JWT and the seed of a connection come from one reading. */
export function credsFileAuthenticator(path: string): Authenticator {
  const current = lastChecked(path, (contents) => {
    checkCreds(contents);
    return contents;
  });
  return (nonce?: string) => {
    const contents = current();
    return credsAuthenticator(() => contents)(nonce);
  };
}

/** The client's authenticator for the NKey seed file at `path`. */
export function nkeyFileAuthenticator(path: string): Authenticator {
  const current = lastChecked(path, checkNkeySeed);
  return (nonce?: string) => nkeyAuthenticator(current())(nonce);
}
