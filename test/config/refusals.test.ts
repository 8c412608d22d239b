/**
 * Refusals a start stops on (`src/refusals.ts`), told apart from faults a retry outlasts. The
 * servers' own refusals are exercised against real servers in test/store/redis-tls.test.ts and
 * test/replication/nats-connection.test.ts; here, the codes of both OpenSSL generations, which
 * those runs see on different Nodes (OpenSSL 3.0 in Node 20, 3.5 in Node 24 and 26).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refusedClientCertificate, untrustedCertificate } from '../../src/refusals.js';

const coded = (code: string, cause?: unknown): Error => Object.assign(new Error(code, cause === undefined ? {} : { cause }), { code });

test('a client certificate refused or missing, in the codes of OpenSSL 3.0 and of 3.2 and later, itself or as a cause', () => {
  for (const code of [
    'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
    'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
    'ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE',
    'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
    'ERR_SSL_SSL/TLS_ALERT_CERTIFICATE_EXPIRED',
    'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  ]) {
    assert.equal(refusedClientCertificate(coded(code)), code);
    assert.equal(refusedClientCertificate(new Error('wrapped', { cause: new Error('again', { cause: coded(code) }) })), code);
    assert.equal(untrustedCertificate(coded(code)), null, `${code} is not about the server's certificate`);
  }
});

test('what is not about the client certificate is not taken for it', () => {
  for (const code of ['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE', 'ECONNRESET', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_SSL_WRONG_VERSION_NUMBER']) {
    assert.equal(refusedClientCertificate(coded(code)), null, code);
  }
  assert.equal(refusedClientCertificate(new Error('no code')), null);
  assert.equal(refusedClientCertificate('a string'), null);
  assert.equal(untrustedCertificate(coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE')), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
});
