/**
 * The ports the simulations, the tests and the benchmark hand to the servers they start
 * (`freePorts` in sim/processes.ts): free, distinct, and outside the kernel's ephemeral range,
 * where an outgoing connection could take one before its server binds it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { freePorts } from '../../sim/processes.js';

const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number];

test('free ports are distinct, bindable, and drawn from 10000 up to below the ephemeral range', async () => {
  const ports = await freePorts(40);
  assert.equal(new Set(ports).size, 40);
  for (const port of ports) assert.ok(port >= 10_000 && port < ephemeralLow, `port ${port}, ephemeral range from ${ephemeralLow}`);
  const servers = await Promise.all(ports.map((port) => new Promise<Server>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  })));
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});
