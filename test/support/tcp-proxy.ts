/**
 * A TCP proxy on 127.0.0.1 for fault injection: it forwards every connection
 * to a target port, and can make the connections it carries go silent (kept
 * open, nothing forwarded either way), as a half-open connection after a
 * network fault does, while new connections still get through.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Every connection open now stops forwarding, in both directions; they stay open. */
  silenceOpenConnections(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket; silent: boolean }>();
  let accepted = 0;
  const server = createServer((client) => {
    accepted += 1;
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    const pair = { client, upstream, silent: false };
    pairs.add(pair);
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk) => {
        if (!pair.silent) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) socket.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    silenceOpenConnections: () => {
      for (const pair of pairs) pair.silent = true;
    },
    close: async () => {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
