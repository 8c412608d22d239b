/**
 * The servers the simulations, the tests and the benchmark start (sim/processes.ts): the ports
 * they are handed (`freePorts`) are free, distinct, and outside the kernel's ephemeral range,
 * where an outgoing connection could take one before its server binds it; and a test process
 * stopped by a signal, as a stopped test run stops its files, leaves none of them running.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from '../../sim/processes.js';
import { REPO_ROOT } from '../support/process.js';

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

/** Whether something accepts a connection on the port. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(true)).once('error', () => resolve(false));
    socket.once('connect', () => socket.destroy());
  });
}

test('a test process stopped by SIGTERM, SIGINT or SIGHUP kills the redis-server it started and removes its folder', async () => {
  for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130], ['SIGHUP', 129]] as const) {
    const script = `import { startRedis } from './test/support/redis-harness.ts';
const server = await startRedis();
console.log(JSON.stringify({ port: server.port, dir: server.dir }));
setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const { port, dir } = JSON.parse(line) as { port: number; dir: string };
    assert.equal(await answers(port), true, 'the server is up');
    child.kill(signal);
    assert.deepEqual(await once(child, 'exit'), [code, null], `${signal}: exits with the signal's code`);
    // SIGKILLed on the way out; the port closes as soon as the kernel has reaped it.
    for (let i = 0; i < 50 && (await answers(port)); i += 1) await sleep(100);
    assert.equal(await answers(port), false, `${signal}: the redis-server is gone`);
    assert.equal(existsSync(dir), false, `${signal}: its folder is removed`);
  }
});
