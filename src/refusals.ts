/**
 * Refusals no retry changes — a server certificate not trusted, a client certificate refused,
 * credentials refused — told apart from the network's faults, so that a start stops on them
 * (Redis, NATS) instead of waiting them out as a server that does not answer. No client library
 * is loaded here: the embedded engine's start needs none.
 */

/** Redis's replies that refuse the credentials given, or want some where none were. */
export const REFUSED_CREDENTIALS = /^(WRONGPASS|NOAUTH|NOPERM)\b/;

/** Node's certificate checks that fail for the certificate a server showed, or for the CA trusted. */
const UNTRUSTED_CERTIFICATE = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * TLS alerts a server sends about the client's certificate: none given where it requires one
 * (TLS 1.3's `certificate required`), or one it does not take (signed by a CA it does not trust,
 * expired, revoked, not for client authentication).
 */
const REFUSED_CLIENT_CERTIFICATE = new Set([
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
  'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
]);

/** The first code of `codes` that `error` or one of its causes carries, or null. */
function codeIn(error: unknown, codes: ReadonlySet<string>): string | null {
  let current = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && codes.has(code)) return code;
    current = current.cause;
  }
  return null;
}

/** The code of a certificate check `error` failed (itself or a cause), or null. */
export function untrustedCertificate(error: unknown): string | null {
  return codeIn(error, UNTRUSTED_CERTIFICATE);
}

/** The TLS alert of a server that refused this node's client certificate, or its lack of one (itself or a cause), or null. */
export function refusedClientCertificate(error: unknown): string | null {
  return codeIn(error, REFUSED_CLIENT_CERTIFICATE);
}
