/**
 * Start-up diagnostics: what a failure to open the store or to listen means,
 * in words that name the variable to change. `main.ts` (and the composition
 * root, for the management listener) turn such failures into these errors.
 */
import { REFUSED_CREDENTIALS, refusedClientCertificate, untrustedCertificate } from '../refusals.js';
import { StoreUnavailableError, type StoreConfig } from '../store/session-store.js';

/**
 * A start-up failure that is not a malformed value but an environment that does
 * not fit it (a port in use, a database path under a regular file, an
 * unreachable Redis): names the variables to check and keeps the cause.
 */
export class StartupError extends Error {
  constructor(
    readonly variables: readonly string[],
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(`${variables.join(', ')}: ${message}`, options);
    this.name = 'StartupError';
  }
}

type ErrorDetails = Error & { code?: unknown; syscall?: unknown; address?: unknown; port?: unknown; hostname?: unknown };

const details = (error: unknown): ErrorDetails => (error instanceof Error ? error : new Error(String(error)));

/** The innermost cause's message, for errors that wrap the one worth showing. */
function rootMessage(error: unknown): string {
  let current = error;
  for (let depth = 0; depth < 5 && current instanceof Error && current.cause !== undefined; depth++) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}

const SQLITE_HINTS: Record<string, string> = {
  EEXIST: 'a parent of the path is a file, not a directory',
  ENOTDIR: 'a parent of the path is a file, not a directory',
  EISDIR: 'the path is a directory; name a database file inside it',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  SQLITE_CANTOPEN: 'SQLite cannot open a database file there',
  SQLITE_NOTADB: 'the file exists but is not an SQLite database',
  SQLITE_CORRUPT: 'the database file is corrupt',
  SQLITE_READONLY: 'the database file is read-only',
  SQLITE_PERM: 'permission denied',
};

/**
 * What a failure to open the configured store means, naming the variable that
 * points at it; null when the error does not come from opening the store.
 * Never shows credentials of a Redis URL.
 */
export function explainStoreError(store: StoreConfig, error: unknown): StartupError | null {
  const e = details(error);
  if (store.engine === 'sqlite') {
    // Opening SQLite fails with a system error (mkdir of the directory) or an SqliteError, both with a code.
    if (typeof e.code !== 'string' || !(/^E[A-Z]+$/.test(e.code) || e.code.startsWith('SQLITE_'))) return null;
    const hint = SQLITE_HINTS[e.code] ?? SQLITE_HINTS[e.code.replace(/_[A-Z]+$/, '')];
    return new StartupError(
      ['TESSERA_SQLITE_PATH'],
      `cannot open the embedded database "${store.path}"${hint === undefined ? '' : `: ${hint}`} (${e.message})`,
      { cause: error },
    );
  }
  if (!(error instanceof StoreUnavailableError)) return null;
  // The variable that names the Redis servers, for the TLS refusals below.
  const servers = store.engine === 'redis' ? 'TESSERA_REDIS_URL' : 'TESSERA_REDIS_NODES';
  const certificate = untrustedCertificate(error);
  if (certificate !== null) {
    return new StartupError(
      [servers, 'TESSERA_REDIS_CA'],
      `the TLS certificate of the Redis server is not trusted (${certificate}: ${rootMessage(error)}); set TESSERA_REDIS_CA to the PEM file of the CA that signed it, and check that it names the host of ${servers} and is valid today`,
      { cause: error },
    );
  }
  const alert = refusedClientCertificate(error);
  if (alert !== null) {
    const missing = store.tls?.certFile === undefined;
    return new StartupError(
      ['TESSERA_REDIS_CERT', 'TESSERA_REDIS_KEY'],
      missing
        ? `the Redis server of ${servers} requires a client certificate (${alert}) and this node has none; set TESSERA_REDIS_CERT and TESSERA_REDIS_KEY to the PEM files of a certificate signed by a CA the server trusts (its tls-ca-cert-file)`
        : `the Redis server of ${servers} refused this node's client certificate (${alert}); TESSERA_REDIS_CERT must be signed by a CA the server trusts (its tls-ca-cert-file), be valid today and allow client authentication, with its key in TESSERA_REDIS_KEY`,
      { cause: error },
    );
  }
  if (store.engine === 'redis') {
    let where = 'the configured address';
    const secrets: string[] = [];
    try {
      const url = new URL(store.url);
      where = `${url.hostname}:${url.port || '6379'}`;
      if (url.password !== '') secrets.push(url.password, decodeURIComponent(url.password));
      if (url.username !== '') secrets.push(url.username, decodeURIComponent(url.username));
    } catch {
      // Shown without the address then.
    }
    const cause = secrets.reduce((text, secret) => text.split(secret).join('***'), rootMessage(error));
    if (REFUSED_CREDENTIALS.test(cause)) {
      return new StartupError(
        ['TESSERA_REDIS_URL'],
        `Redis at ${where} ${cause.startsWith('NOAUTH') ? 'wants a password and the URL gives none' : 'refused the credentials in the URL'} (${cause}); ` +
          'give them as redis://:password@host:port, or redis://user:password@host:port for an ACL user (percent-encode what is not a letter or digit)',
        { cause: error },
      );
    }
    return new StartupError(['TESSERA_REDIS_URL'], `cannot connect to Redis at ${where} (${cause}); check the URL and that Redis is up`, {
      cause: error,
    });
  }
  const cause = rootMessage(error);
  if (REFUSED_CREDENTIALS.test(cause)) {
    return new StartupError(
      ['TESSERA_REDIS_NODES'],
      `the Redis Cluster at the seeds ${store.nodes.join(', ')} ${cause.startsWith('NOAUTH') ? 'wants a password and the seeds give none' : 'refused the credentials in the seeds'} (${cause}); ` +
        'give them in a seed as redis://:password@host:port, or redis://user:password@host:port for an ACL user (percent-encode what is not a letter or digit)',
      { cause: error },
    );
  }
  return new StartupError(
    ['TESSERA_REDIS_NODES'],
    `cannot connect to the Redis Cluster through the seeds ${store.nodes.join(', ')} (${cause}); check the seeds and that the cluster is up`,
    { cause: error },
  );
}

/** The variables that configure a listener. */
export interface ListenerVariables {
  readonly host: string;
  readonly port: string;
}

export const API_LISTENER: ListenerVariables = { host: 'TESSERA_HOST', port: 'TESSERA_PORT' };
export const ADMIN_LISTENER: ListenerVariables = { host: 'TESSERA_ADMIN_HOST', port: 'TESSERA_ADMIN_PORT' };

/** What a failure to listen means, naming the listener's host and port variables (TESSERA_HOST and TESSERA_PORT by default). */
export function explainListenError(
  target: { readonly host: string; readonly port: number },
  error: unknown,
  names: ListenerVariables = API_LISTENER,
): StartupError {
  const e = details(error);
  const code = typeof e.code === 'string' ? e.code : undefined;
  const host = typeof e.hostname === 'string' ? e.hostname : typeof e.address === 'string' ? e.address : target.host;
  const port = typeof e.port === 'number' ? e.port : target.port;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  let variables = [names.host, names.port];
  let reason: string;
  switch (code) {
    case 'EADDRINUSE':
      reason = `port ${port} is already in use; choose another ${names.port} or stop the process that holds it`;
      break;
    case 'EACCES':
    case 'EPERM':
      reason = `permission denied (ports below 1024 need privileges); choose a ${names.port} of 1024 or more`;
      break;
    case 'EADDRNOTAVAIL':
      variables = [names.host];
      reason = `${host} is not an address of this machine; set ${names.host} to one of its addresses, or 0.0.0.0 / :: for all`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      variables = [names.host];
      reason = `the host name "${host}" does not resolve; set ${names.host} to an address of this machine or a name that resolves to one`;
      break;
    default:
      reason = `check ${names.host} and ${names.port}`;
  }
  return new StartupError(variables, `cannot listen on ${where}: ${reason} (${e.message})`, { cause: error });
}
