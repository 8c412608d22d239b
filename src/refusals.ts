/**
 * Refusals no retry changes — a server certificate not trusted, credentials refused — told apart
 * from the network's faults, so that a start stops on them (Redis, NATS) instead of waiting them
 * out as a server that does not answer. No client library is loaded here: the embedded engine's
 * start needs none.
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

/** The code of a certificate check `error` failed (itself or a cause), or null. */
export function untrustedCertificate(error: unknown): string | null {
  let current = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && UNTRUSTED_CERTIFICATE.has(code)) return code;
    current = current.cause;
  }
  return null;
}
