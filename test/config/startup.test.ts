/**
 * `src/main.ts` as operators run it: a refused value exits 2, an environment
 * that does not fit a value (port in use, database path under a file,
 * unreachable Redis) exits 1 — both with a message naming the variable and
 * without a secret.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, runTessera } from '../support/process.js';

const SECRET = 'startup-secret-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'tessera-startup-'));
writeFileSync(join(dir, 'a-file'), 'a regular file');

after(() => rmSync(dir, { recursive: true, force: true }));

interface Case {
  readonly name: string;
  readonly env: Record<string, string>;
  readonly code: number;
  readonly message: RegExp;
  /** Must not appear anywhere in the output. */
  readonly secrets?: readonly string[];
}

const cases: Case[] = [
  {
    name: 'timeouts that would overflow a date',
    env: { TESSERA_IDLE_TIMEOUT: '999999999d', TESSERA_ABSOLUTE_TIMEOUT: '999999999d' },
    code: 2,
    message: /invalid configuration: TESSERA_IDLE_TIMEOUT: "999999999d" is too long; use a duration from 1s to 3650d/,
  },
  {
    name: 'an absolute timeout over 10 years',
    env: { TESSERA_ABSOLUTE_TIMEOUT: '3651d' },
    code: 2,
    message: /invalid configuration: TESSERA_ABSOLUTE_TIMEOUT: "3651d" is too long/,
  },
  {
    name: 'a sweep interval beyond a day',
    env: { TESSERA_SWEEP_INTERVAL: '30d' },
    code: 2,
    message: /invalid configuration: TESSERA_SWEEP_INTERVAL: "30d" is too long; use a duration from 100ms to 1d/,
  },
  {
    name: 'a host that is not a host',
    env: { TESSERA_HOST: 'not a host!!' },
    code: 2,
    message: /invalid configuration: TESSERA_HOST: "not a host!!" is neither an IP address nor a valid host name/,
  },
  {
    name: 'a management host that is not a host',
    env: { TESSERA_ADMIN_HOST: 'not a host!!' },
    code: 2,
    message: /invalid configuration: TESSERA_ADMIN_HOST: "not a host!!" is neither an IP address nor a valid host name/,
  },
  {
    name: 'two API keys with one name',
    env: { TESSERA_API_KEYS: `a:${SECRET}-1,a:${SECRET}-2` },
    code: 2,
    message: /invalid configuration: TESSERA_API_KEYS: entry 2 has the same name "a" as entry 1/,
    secrets: [SECRET],
  },
  {
    name: 'two API keys with one secret',
    env: { TESSERA_API_KEYS: `a:${SECRET},b:${SECRET}:admin` },
    code: 2,
    message: /invalid configuration: TESSERA_API_KEYS: entry 2 \("b"\) has the same secret as entry 1/,
    secrets: [SECRET],
  },
  {
    name: 'a database path under a regular file',
    env: { TESSERA_SQLITE_PATH: join(dir, 'a-file', 'tessera.db') },
    code: 1,
    message: /failed to start: TESSERA_SQLITE_PATH: cannot open the embedded database ".*a-file.tessera\.db": a parent of the path is a file, not a directory \((EEXIST|ENOTDIR)/,
  },
  {
    name: 'a host name that does not resolve',
    env: { TESSERA_HOST: 'tessera.invalid' },
    code: 1,
    message: /failed to start: TESSERA_HOST: cannot listen on tessera\.invalid:\d+: the host name "tessera\.invalid" does not resolve/,
  },
  {
    name: 'an unreachable Redis whose URL holds a password',
    env: { TESSERA_STORE: 'redis', TESSERA_REDIS_URL: `redis://user:${SECRET}@127.0.0.1:1` },
    code: 1,
    message: /failed to start: TESSERA_REDIS_URL: cannot connect to Redis at 127\.0\.0\.1:1 /,
    secrets: [SECRET],
  },
];

const base = (): Record<string, string> => ({
  TESSERA_API_KEYS: `app:${SECRET}`,
  TESSERA_ADMIN_PORT: '0',
  TESSERA_SQLITE_PATH: join(dir, 'never.db'),
  TESSERA_LOG_LEVEL: 'silent',
});

for (const { name, env, code, message, secrets = [] } of cases) {
  test(`${name}: exit ${code}, naming the variable`, async () => {
    const result = await runTessera({ ...base(), TESSERA_PORT: String(await freePort()), ...env });
    assert.equal(result.code, code, `stderr: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.doesNotMatch(result.stdout, /tessera listening/);
    for (const secret of secrets) assert.ok(!`${result.stdout}${result.stderr}`.includes(secret), `a secret was printed: ${result.stderr}`);
  });
}

test('a port in use: exit 1, naming TESSERA_PORT', async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const port = (holder.address() as { port: number }).port;
  try {
    const result = await runTessera({ ...base(), TESSERA_HOST: '127.0.0.1', TESSERA_PORT: String(port) });
    assert.equal(result.code, 1, `stderr: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`failed to start: TESSERA_HOST, TESSERA_PORT: cannot listen on 127\\.0\\.0\\.1:${port}: port ${port} is already in use; choose another TESSERA_PORT`));
  } finally {
    holder.close();
  }
});

test('a management port in use: exit 1, naming TESSERA_ADMIN_PORT', async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const adminPort = (holder.address() as { port: number }).port;
  const port = await freePort();
  try {
    const result = await runTessera({ ...base(), TESSERA_HOST: '127.0.0.1', TESSERA_PORT: String(port), TESSERA_ADMIN_PORT: String(adminPort) });
    assert.equal(result.code, 1, `stderr: ${result.stderr}`);
    assert.match(
      result.stderr,
      new RegExp(`failed to start: TESSERA_ADMIN_HOST, TESSERA_ADMIN_PORT: cannot listen on 127\\.0\\.0\\.1:${adminPort}: port ${adminPort} is already in use; choose another TESSERA_ADMIN_PORT`),
    );
  } finally {
    holder.close();
  }
});
