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
 * expired, revoked, not for client authentication). Node names an alert after OpenSSL's text for
 * it, which OpenSSL 3.2 changed from `sslv3 alert …` to `ssl/tls alert …`: Node 20 reports
 * `ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE`, Node 24 and 26 `ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE`.
 */
const REFUSED_CLIENT_CERTIFICATE =
  /^ERR_SSL_(SSLV3|SSL\/TLS|TLSV1|TLSV13)_ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)$/;

/** The first code that `error` or one of its causes carries and `codes` holds, or null. */
function codeIn(error: unknown, codes: { has(code: string): boolean }): string | null {
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
  return codeIn(error, { has: (code) => REFUSED_CLIENT_CERTIFICATE.test(code) });
}
