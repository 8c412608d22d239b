/**
 * Whether a NATS server refuses this node's client certificate, asked of the server itself.
 *
 * nats.js takes a TLS 1.3 handshake as done before the server has checked the client's
 * certificate. The server's refusal, a TLS alert, then comes while the client waits for the
 * protocol's first answer, and the client reports a timeout: a node started without the
 * certificate its servers require would serve its region with every global write answering 503,
 * its log saying only that NATS did not answer. So when a connection over TLS times out, the
 * replicator asks the servers: the INFO line a NATS server sends first says whether it
 * requires client certificates (`tls_verify`), and a handshake with the node's own files shows
 * whether it takes them.
 */
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { refusedClientCertificate } from '../refusals.js';
import type { TlsFiles } from '../store/session-store.js';

export type CertificateRefusal =
  /** The server requires a client certificate and the node has none. */
  | { readonly kind: 'missing' }
  /** The server refused the certificate the node showed, with this TLS alert. */
  | { readonly kind: 'refused'; readonly alert: string };

/** The first line a NATS server sends, `INFO {…}`, read within `ms`. */
function readInfo(socket: Socket, ms: number): Promise<{ tls_verify?: boolean } | null> {
  return new Promise((resolve) => {
    let text = '';
    const done = (info: { tls_verify?: boolean } | null): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.pause();
      resolve(info);
    };
    const timer = setTimeout(() => done(null), ms);
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n');
      if (end === -1 && text.length < 64 * 1024) return;
      try {
        done(text.startsWith('INFO ') ? (JSON.parse(text.slice(5, end)) as { tls_verify?: boolean }) : null);
      } catch {
        done(null);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => done(null));
  });
}

/**
 * Asks the server at `url` (`tls://host:port`, `nats://host:port` or `host:port`) whether it
 * refuses this node's client certificate. Null when it does not, when it does not require one,
 * and when it cannot be asked (it does not answer, it is no NATS server): the caller then keeps
 * the error it had.
 */
export async function certificateRefusal(url: string, tls: TlsFiles | undefined, ms = 2_000): Promise<CertificateRefusal | null> {
  let address: URL;
  try {
    address = new URL(url.includes('://') ? url : `nats://${url}`);
  } catch {
    return null;
  }
  const host = address.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.port || 4222);
  const socket = tcpConnect({ host, port });
  socket.on('error', () => undefined);
  try {
    const connected = await new Promise<boolean>((resolve) => {
      const settle = (up: boolean): void => {
        clearTimeout(timer);
        resolve(up);
      };
      const timer = setTimeout(() => settle(false), ms);
      socket.once('connect', () => settle(true));
      socket.once('close', () => settle(false));
    });
    if (!connected) return null;
    const info = await readInfo(socket, ms);
    if (info?.tls_verify !== true) return null;
    if (tls?.certFile === undefined) return { kind: 'missing' };
    return await handshake(socket, host, tls, ms);
  } finally {
    socket.destroy();
  }
}

/** The TLS alert the server sends once it has seen the node's certificate, or null when none comes within `ms`. */
async function handshake(socket: Socket, host: string, tls: TlsFiles, ms: number): Promise<CertificateRefusal | null> {
  let secure;
  try {
    secure = tlsConnect({
      socket,
      ...(isIP(host) === 0 ? { servername: host } : {}),
      // The server's own certificate is not the question here (the client's check of it says so itself).
      rejectUnauthorized: false,
      ...(tls.caFile === undefined ? {} : { ca: readFileSync(tls.caFile) }),
      cert: readFileSync(tls.certFile!),
      ...(tls.keyFile === undefined ? {} : { key: readFileSync(tls.keyFile) }),
    });
  } catch {
    return null;
  }
  try {
    return await new Promise<CertificateRefusal | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), ms);
      // on, not once: a second error with no listener left would be thrown.
      secure.on('error', (error: Error) => {
        clearTimeout(timer);
        const alert = refusedClientCertificate(error);
        resolve(alert === null ? null : { kind: 'refused', alert });
      });
      // Under TLS 1.3 the server checks the certificate after the client's handshake is done: its alert comes with the next read.
      secure.on('data', () => undefined);
    });
  } finally {
    secure.destroy();
  }
}
