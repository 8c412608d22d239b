/**
 * `node dist/src/healthcheck.js`: the container image's HEALTHCHECK. Asks this
 * node's `/healthz` and exits 0 on a 200, 1 otherwise (the slim image has no
 * curl or wget; Node is already there). It reads the same TESSERA_HOST and
 * TESSERA_PORT as the service: loopback when Tessera listens on every interface.
 */
const port = process.env.TESSERA_PORT?.trim() || '8080';
const host = process.env.TESSERA_HOST?.trim() || '0.0.0.0';
const address = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}/healthz`;

try {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  process.exitCode = response.status === 200 ? 0 : 1;
} catch {
  process.exitCode = 1;
}
