/**
 * NATS in operator mode for tests, made the way `nsc` makes it: an operator, its system account
 * and an application account with JetStream, signed with `@nats-io/jwt`, preloaded into the
 * servers' memory resolver; users of that account as `.creds` files.
 */
import { writeFileSync } from 'node:fs';
import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds, type KeyPair } from '@nats-io/jwt';

/** No limit on anything an account may do (the JWT library's defaults are zero for some). */
const UNLIMITED = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
  mem_storage: -1,
  disk_storage: -1,
  streams: -1,
  consumer: -1,
};

export interface NatsAccounts {
  /** Lines of a nats-server configuration that trust the operator and know both accounts. */
  readonly serverConfig: readonly string[];
  /** The application account's public key (`A…`), as `/connz?auth=true` names it. */
  readonly account: string;
  /**
   * Writes the `.creds` file of a new user of the application account at `path` and resolves to
   * the user's public key. `expiresAt` (epoch ms) puts an expiry in its JWT; `foreign` signs it
   * with an account the servers do not know.
   */
  writeCreds(path: string, options?: { readonly expiresAt?: number; readonly foreign?: boolean }): Promise<string>;
}

export async function makeNatsAccounts(): Promise<NatsAccounts> {
  const operator = createOperator();
  const system = createAccount();
  const app = createAccount();
  const q = JSON.stringify;
  const operatorJwt = await encodeOperator('tessera-test', operator, { system_account: system.getPublicKey() });
  const systemJwt = await encodeAccount('SYS', system, {}, { signer: operator });
  const appJwt = await encodeAccount('TESSERA', app, { limits: UNLIMITED }, { signer: operator });
  const serverConfig = [
    `operator: ${q(operatorJwt)}`,
    `system_account: ${q(system.getPublicKey())}`,
    'resolver: MEMORY',
    `resolver_preload: { ${q(system.getPublicKey())}: ${q(systemJwt)}, ${q(app.getPublicKey())}: ${q(appJwt)} }`,
  ];
  const writeCreds = async (path: string, options: { readonly expiresAt?: number; readonly foreign?: boolean } = {}): Promise<string> => {
    const user = createUser();
    const issuer: KeyPair = options.foreign === true ? createAccount() : app;
    const jwt = await encodeUser('tessera-node', user, issuer, {}, options.expiresAt === undefined ? {} : { exp: Math.floor(options.expiresAt / 1000) });
    writeFileSync(path, fmtCreds(jwt, user), { mode: 0o600 });
    return user.getPublicKey();
  };
  return { serverConfig, account: app.getPublicKey(), writeCreds };
}
