/**
 * A CA made for a test with openssl, and a server certificate for "localhost" and 127.0.0.1 (the
 * address Redis Cluster nodes announce) and a client certificate it signed (EC P-256, valid two
 * days). PEM files in `dir`.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Certificates {
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

export function makeCertificates(dir: string): Certificates {
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=tessera test CA');
  for (const [name, extension] of [['server', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], ['client', 'extendedKeyUsage=clientAuth']] as const) {
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(join(dir, `${name}.ext`), `${extension}\n`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  }
  return {
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
}

/** A node's client certificate files, which a test renews in place as a certificate manager would. */
export interface LiveCertificate {
  readonly cert: string;
  readonly key: string;
  /** Overwrites both files with the client certificate and key of `by`. */
  renew(by: Certificates): void;
}

/** Copies the client certificate and key of `from` into a folder of their own under `dir`. */
export function liveCertificate(dir: string, from: Certificates): LiveCertificate {
  const live = mkdtempSync(join(dir, 'live-'));
  const files = { cert: join(live, 'client.pem'), key: join(live, 'client.key') };
  const renew = (by: Certificates): void => {
    copyFileSync(by.clientCert, files.cert);
    copyFileSync(by.clientKey, files.key);
  };
  renew(from);
  return { ...files, renew };
}
