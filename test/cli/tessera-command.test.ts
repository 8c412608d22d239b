/**
 * The `tessera` command, run as installed: compiled JavaScript through the
 * package's `bin` with plain `node` (test/support/installed-bin.ts), against
 * a real Tessera, real SQLite files and a real redis-server.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/config.js';
import { sessionDigest } from '../../src/domain/versions.js';
import { cleanEnv, installBin, run, type InstalledBin, type Run } from '../support/installed-bin.js';
import { freePort } from '../support/process.js';
import { startRedis, startRedisCluster, type RedisServer } from '../support/redis-harness.js';
import { ADMIN_KEY, startTessera, type TestServer } from '../support/tessera-server.js';

let installed: InstalledBin;
let server: TestServer;
let redis: RedisServer;

const tessera = (args: readonly string[], env: Record<string, string> = {}, input?: string): Promise<Run> =>
  run(process.execPath, [installed.bin, ...args], { env: cleanEnv(env), ...(input !== undefined ? { input } : {}) });

/** The server's SQLite file, as a --store argument. */
const serverStore = (): string => `sqlite:${join(server.dir, 'tessera.db')}`;

/** Session lines of an export file: id → digest (the last line of each session). */
function digestsOf(file: string): Map<string, string> {
  const digests = new Map<string, string>();
  for (const text of readFileSync(file, 'utf8').split('\n').slice(1)) {
    if (text === '') continue;
    const line = JSON.parse(text) as { id?: string; digest?: string };
    if (line.id !== undefined) digests.set(line.id, line.digest!);
  }
  return digests;
}

/** What `session inspect` printed, once it has said it succeeded (its standard error otherwise). */
function inspectJson(inspect: Run): Record<string, any> {
  assert.equal(inspect.code, 0, `session inspect: exit ${inspect.code ?? inspect.signal}: ${inspect.stderr}`);
  return JSON.parse(inspect.stdout) as Record<string, any>;
}

const sessionLines = (file: string): number => readFileSync(file, 'utf8').split('\n').filter((line) => line.startsWith('{"id":')).length;

before(async () => {
  const [bin, tessera, redisServer] = await Promise.allSettled([installBin(), startTessera(), startRedis()]);
  // Whatever started is kept for after() to stop, even when another part failed.
  if (tessera.status === 'fulfilled') server = tessera.value;
  if (redisServer.status === 'fulfilled') redis = redisServer.value;
  if (bin.status === 'fulfilled') installed = bin.value;
  for (const outcome of [bin, tessera, redisServer]) if (outcome.status === 'rejected') throw outcome.reason;
});

after(async () => {
  await Promise.all([server?.close(), redis?.stop()]);
  installed?.remove();
});

describe('the tessera command', { timeout: 300_000 }, () => {
  it('is the bin of the package, compiled JavaScript that npm pack ships', async () => {
    const manifest = JSON.parse(readFileSync(join(installed.dir, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    assert.equal(manifest.bin.tessera, './dist/src/cli/main.js');
    assert.match(readFileSync(installed.bin, 'utf8'), /^#!\/usr\/bin\/env node\n/);
    const packed = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: installed.dir });
    assert.equal(packed.code, 0, packed.stderr);
    const files = (JSON.parse(packed.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    for (const file of ['dist/src/cli/main.js', 'dist/src/serve.js', 'dist/client/src/cli.js']) assert.ok(files.includes(file), `${file} is packed`);
    assert.ok(!files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), 'no TypeScript source is packed');
  });

  it('prints the help of every command, and exits 0', async () => {
    const help = await tessera(['help']);
    assert.equal(help.code, 0);
    for (const command of ['serve', 'status', 'session inspect', 'user devices', 'user logout', 'keys generate', 'export', 'import']) {
      assert.ok(help.stdout.includes(`  ${command}`), `help lists ${command}`);
    }
    assert.match(help.stdout, /exit codes: 0 done, 1 failed \(the message says why\), 2 bad usage/);
    for (const command of ['serve', 'status', 'session', 'user', 'keys', 'export', 'import']) {
      const own = await tessera([command, '--help']);
      assert.equal(own.code, 0, command);
      assert.ok(own.stdout.startsWith(`usage: tessera ${command}`), `${command} --help: ${own.stdout.slice(0, 60)}`);
      assert.match(own.stdout, /exit codes: 0 /, `${command} documents its exit codes`);
      assert.equal((await tessera(['help', command])).stdout, own.stdout);
    }
  });

  it('exits 2 on bad usage, with the usage on standard error', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /usage: tessera <command>/],
      [['frobnicate'], /no command "frobnicate"/],
      [['help', 'frobnicate'], /no command "frobnicate"/],
      [['session'], /session needs a subcommand/],
      [['session', 'inspect'], /one token or session id/],
      [['session', 'inspect', 'not-an-id'], /give a session token/],
      [['session', 'inspect', 'tss1_broken'], /not a well-formed one/],
      [['user', 'devices'], /takes one user id/],
      [['user', 'promote', 'alice'], /unknown user subcommand "promote"/],
      [['keys', 'generate', '--scopes', 'root'], /"root" is not one of/],
      [['keys', 'generate', '--name', 'a:b'], /--name "a:b"/],
      [['keys'], /keys needs the subcommand generate/],
      [['status', '--bogus'], /Unknown option '--bogus'/],
      [['export'], /export needs --file FILE/],
      [['export', '--file', 'x.ndjson', '--store', 'postgres://db'], /is not sqlite:PATH/],
      // The service's own check of the seeds, said of --store, not of a variable the caller never set.
      [['export', '--file', 'x.ndjson', '--store', 'redis-cluster://10.0.0.6'], /--store redis-cluster:\/\/10\.0\.0\.6: "10\.0\.0\.6" is not host:port/],
      [['export', '--file', 'x.ndjson', '--store', 'redis-cluster://'], /--store redis-cluster:\/\/: list the cluster's nodes/],
      [['import', '--file', 'x.ndjson', '--limit', '0'], /--limit must be a whole number/],
      [['serve', 'now'], /serve takes no argument/],
    ];
    for (const [args, message] of cases) {
      const result = await tessera(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message, args.join(' '));
      assert.match(result.stderr, /usage: tessera/, args.join(' '));
      assert.equal(result.stdout, '', args.join(' '));
    }
    const badConfig = await tessera(['session', 'inspect', 'A'.repeat(22)], { TESSERA_IDLE_TIMEOUT: 'forever' });
    assert.equal(badConfig.code, 2);
    assert.match(badConfig.stderr, /invalid configuration: TESSERA_IDLE_TIMEOUT/);
  });

  it('keys generate prints an API key entry and a webhook secret in the forms the configuration accepts', async () => {
    const [first, second] = [await tessera(['keys', 'generate', '--name', 'ops', '--scopes', 'admin']), await tessera(['keys', 'generate'])];
    assert.equal(first.code, 0);
    const entry = first.stdout.trim();
    assert.match(entry, /^ops:tsk_[A-Za-z0-9_-]{32}:sign-in\+token\+users$/);
    const config = loadConfig({ TESSERA_API_KEYS: `${entry},${second.stdout.trim()}` });
    assert.deepEqual(config.apiKeys.map((k) => [k.name, k.scopes]), [['ops', ['sign-in', 'token', 'users']], ['app', ['sign-in', 'token']]]);
    assert.notEqual(config.apiKeys[0]!.secret, config.apiKeys[1]!.secret);
    assert.ok(config.apiKeys[0]!.secret.length >= 16);
    assert.match(first.stderr, /TESSERA_API_KEYS/);

    const webhook = await tessera(['keys', 'generate', '--webhook']);
    assert.equal(webhook.code, 0);
    const secret = webhook.stdout.trim();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.deepEqual(loadConfig({ TESSERA_WEBHOOK_URLS: 'https://hooks.example/tessera', TESSERA_WEBHOOK_SECRET: secret }).webhooks?.secrets, [secret]);
  });

  it('session inspect shows what a running Tessera stored about a session, by token or id, secrets redacted', async () => {
    const alice = await server.signIn({ userId: 'inspect-alice', device: { name: 'Firefox on Mac', kind: 'browser' } });
    const added = await server.request('POST', '/v1/session/cart/items', { token: alice.token, headers: { 'tessera-csrf': alice.csrfToken }, body: { sku: 'SKU-1', quantity: 2 } });
    assert.equal(added.status, 200, added.text);
    const stored = (await server.tessera.store.snapshot(alice.session.id))!;

    const byToken = await tessera(['session', 'inspect', alice.token, '--store', serverStore()]);
    assert.equal(byToken.code, 0, byToken.stderr);
    const report = JSON.parse(byToken.stdout);
    assert.equal(report.id, alice.session.id);
    assert.equal(report.userId, 'inspect-alice');
    assert.equal(report.status, 'live');
    assert.deepEqual(report.token, { deviceId: Object.keys(stored.devices.devices)[0], verdict: 'current' });
    assert.deepEqual(report.cart.map((i: { sku: string; quantity: number }) => [i.sku, i.quantity]), [['SKU-1', 2]]);
    assert.equal(report.devices.length, 1);
    assert.equal(report.devices[0].name, 'Firefox on Mac');
    assert.equal(report.devices[0].hash, '[redacted]');
    assert.equal(report.csrfSecret, '[redacted]');
    assert.equal(report.digest, sessionDigest(stored.meta, stored.versions));
    const secret = alice.token.split('.').at(-1)!;
    for (const hidden of [secret, stored.meta.csrfSecret, Object.values(stored.devices.devices)[0]!.hash]) {
      assert.ok(!byToken.stdout.includes(hidden), 'no secret or hash is printed');
    }

    // By id, from standard input, with the store the TESSERA_* variables name.
    const byId = await tessera(['session', 'inspect', '-'], { TESSERA_SQLITE_PATH: join(server.dir, 'tessera.db') }, `${alice.session.id}\n`);
    assert.equal(byId.code, 0, byId.stderr);
    assert.equal(JSON.parse(byId.stdout).digest, report.digest);
    assert.equal(JSON.parse(byId.stdout).token, undefined);

    const unknown = await tessera(['session', 'inspect', 'B'.repeat(22), '--store', serverStore()]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no session B{22} in sqlite:/);
    // One session id in 64 begins with "-": it is an id, wherever it stands, not a group of short options.
    const dashed = `-${'B'.repeat(21)}`;
    for (const args of [['session', 'inspect', dashed, '--store', serverStore()], ['session', '--store', serverStore(), 'inspect', dashed]]) {
      const unknownDashed = await tessera(args);
      assert.equal(unknownDashed.code, 1, unknownDashed.stderr);
      assert.match(unknownDashed.stderr, /no session -B{21} in sqlite:/);
    }
    const noFile = await tessera(['session', 'inspect', 'B'.repeat(22), '--store', `sqlite:${join(server.dir, 'absent.db')}`]);
    assert.equal(noFile.code, 1);
    assert.match(noFile.stderr, /no SQLite store at/);
  });

  it('status reports the endpoint and its management listener; user devices and logout go through the admin API', async () => {
    const status = await tessera(['status', '--url', server.url, '--admin-url', server.adminUrl]);
    assert.equal(status.code, 0, status.stdout + status.stderr);
    assert.match(status.stdout, /live: yes {2}ready: yes/);
    assert.match(status.stdout, /management: ready \(store: sqlite\)/);
    const down = await tessera(['status', '--url', `http://127.0.0.1:${await freePort()}`]);
    assert.equal(down.code, 1);

    const bob = await server.signIn({ userId: 'cli-bob', device: { name: 'Pixel 9', kind: 'mobile' } });
    const admin = { TESSERA_URL: server.url, TESSERA_ADMIN_KEY: ADMIN_KEY };
    const devices = await tessera(['user', 'devices', 'cli-bob'], admin);
    assert.equal(devices.code, 0, devices.stdout);
    assert.match(devices.stdout, new RegExp(`session ${bob.session.id}: 1 device\\(s\\)`));
    assert.match(devices.stdout, /Pixel 9/);
    const logout = await tessera(['user', 'logout', 'cli-bob', '--url', server.url], { TESSERA_ADMIN_KEY: ADMIN_KEY });
    assert.equal(logout.code, 0, logout.stdout);
    assert.match(logout.stdout, /logged out cli-bob everywhere/);
    const after = await tessera(['user', 'devices', 'cli-bob'], admin);
    assert.equal(after.code, 1);
    assert.match(after.stdout, /no live session for cli-bob/);
    const inspected = inspectJson(await tessera(['session', 'inspect', bob.token, '--store', serverStore()]));
    assert.equal(inspected.status, 'ended');
    assert.equal(inspected.token.verdict, 'none');

    // A user id that begins with "-" is read as options, unless it comes after "--" (as the usage says).
    const dashed = await server.signIn({ userId: '-cli-dashed' });
    const asOptions = await tessera(['user', 'devices', '-cli-dashed'], admin);
    assert.equal(asOptions.code, 2, asOptions.stdout);
    assert.match(asOptions.stderr, /after "--": tessera user devices -- -alice/);
    const afterDashes = await tessera(['user', 'devices', '--', '-cli-dashed'], admin);
    assert.equal(afterDashes.code, 0, afterDashes.stdout + afterDashes.stderr);
    assert.match(afterDashes.stdout, new RegExp(`session ${dashed.session.id}: 1 device\\(s\\)`));
  });

  it('exports SQLite, imports into Redis (interrupted, then resumed) and back, every session verified by digest', async () => {
    for (let i = 0; i < 24; i += 1) {
      const s = await server.signIn(i % 3 === 0 ? { userId: `move-${i}` } : {});
      if (i % 2 === 0) {
        const r = await server.request('POST', '/v1/session/cart/items', { token: s.token, headers: { 'tessera-csrf': s.csrfToken }, body: { sku: `S${i}`, quantity: i + 1 } });
        assert.equal(r.status, 200);
      }
    }
    const file = join(server.dir, 'sessions.ndjson');
    // A file that cannot be opened fails the command with its reason (it was an unhandled 'error' event).
    const unwritable = await tessera(['export', '--file', join(server.dir, 'no-such-folder', 'sessions.ndjson'), '--store', serverStore()]);
    assert.equal(unwritable.code, 1, unwritable.stderr);
    assert.match(unwritable.stderr, /^tessera export: ENOENT: no such file or directory, open '.*no-such-folder/);
    assert.doesNotMatch(unwritable.stderr, /Unhandled|node:events/);
    const exported = await tessera(['export', '--file', file, '--store', serverStore(), '--batch', '7']);
    assert.equal(exported.code, 0, exported.stdout + exported.stderr);
    const source = digestsOf(file);
    assert.ok(source.size >= 24, `${source.size} sessions exported`);
    assert.equal(sessionLines(file), source.size, 'each session once');
    assert.equal(statSync(file).mode & 0o777, 0o600, 'the file holds secrets: its owner reads it alone');
    assert.match(exported.stdout, new RegExp(`verified: ${source.size} of ${source.size} sessions`));
    assert.match(exported.stderr, new RegExp(`export: ${source.size} sessions, done`), 'progress on standard error');

    // Stopped after 10 sessions, as an interrupted import would be; the store keeps how far it went.
    const partial = await tessera(['import', '--file', file, '--store', redis.url, '--batch', '4', '--limit', '10']);
    assert.equal(partial.code, 0, partial.stdout + partial.stderr);
    assert.match(partial.stdout, new RegExp(`imported 10 of ${source.size} session lines .*run tessera import again to continue`));
    const resumed = await tessera(['import', '--file', file, '--store', redis.url, '--batch', '4']);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`continuing the import of .*: 10 of ${source.size} session lines were imported before`));
    assert.match(resumed.stdout, new RegExp(`verified: ${source.size} of ${source.size} sessions .* match the store by digest`));
    assert.match(resumed.stderr, new RegExp(`import: ${source.size}/${source.size} sessions \\(100%\\), done`));

    // Importing again changes nothing: joins, not additions (a cart's 2 stays 2).
    const again = await tessera(['import', '--file', file, '--store', redis.url]);
    assert.equal(again.code, 0, again.stdout);
    const cartOwner = [...source.keys()].find((id) => JSON.parse(readFileSync(file, 'utf8').split('\n').find((l) => l.includes(`"id":"${id}"`))!).session.cart.lines.S0);
    const inRedis = inspectJson(await tessera(['session', 'inspect', cartOwner!, '--store', redis.url]));
    assert.deepEqual(inRedis.cart.map((i: { sku: string; quantity: number }) => [i.sku, i.quantity]), [['S0', 1]]);

    // And back: Redis → a new SQLite file, digest for digest the sessions of the first export.
    const fromRedis = join(server.dir, 'from-redis.ndjson');
    const back = await tessera(['export', '--file', fromRedis, '--store', redis.url, '--batch', '5']);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    assert.deepEqual(digestsOf(fromRedis), source);
    const copy = `sqlite:${join(server.dir, 'copy.db')}`;
    const imported = await tessera(['import', '--file', fromRedis, '--store', copy]);
    assert.equal(imported.code, 0, imported.stdout + imported.stderr);
    const copyExport = join(server.dir, 'copy.ndjson');
    assert.equal((await tessera(['export', '--file', copyExport, '--store', copy])).code, 0);
    assert.deepEqual(digestsOf(copyExport), source);
  });

  it('moves every session into a Redis Cluster and back out, verified by digest', async () => {
    for (let i = 0; i < 10; i += 1) await server.signIn({ userId: `cluster-${i}` });
    const cluster = await startRedisCluster();
    try {
      const spec = `redis-cluster://${cluster.nodes.join(',')}`;
      const file = join(server.dir, 'to-cluster.ndjson');
      assert.equal((await tessera(['export', '--file', file, '--store', serverStore()])).code, 0);
      const source = digestsOf(file);
      const imported = await tessera(['import', '--file', file, '--store', spec, '--batch', '3']);
      assert.equal(imported.code, 0, imported.stdout + imported.stderr);
      assert.match(imported.stdout, new RegExp(`verified: ${source.size} of ${source.size} sessions`));
      const out = join(server.dir, 'from-cluster.ndjson');
      const exported = await tessera(['export', '--file', out, '--store', spec, '--batch', '4']);
      assert.equal(exported.code, 0, exported.stdout + exported.stderr);
      assert.equal(sessionLines(out), source.size, 'each session once, whatever the scan of several masters returned');
      assert.deepEqual(digestsOf(out), source);
    } finally {
      await cluster.stop();
    }
  });

  it('an interrupted export goes on from its last checkpoint and writes no session twice', async () => {
    for (let i = 0; i < 12; i += 1) await server.signIn();
    const file = join(server.dir, 'whole.ndjson');
    assert.equal((await tessera(['export', '--file', file, '--store', serverStore(), '--batch', '4'])).code, 0);
    const whole = readFileSync(file, 'utf8');
    const total = sessionLines(file);
    // Cut in the middle of the line after the second checkpoint: a page half written when the process died.
    const lines = whole.split('\n');
    const second = lines.findIndex((line, i) => line.startsWith('{"checkpoint"') && lines.slice(0, i).some((l) => l.startsWith('{"checkpoint"')));
    const kept = lines.slice(0, second + 2).join('\n');
    const cut = join(server.dir, 'cut.ndjson');
    writeFileSync(cut, kept.slice(0, kept.length - 20));
    const resumed = await tessera(['export', '--file', cut, '--store', serverStore(), '--batch', '4']);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, /continuing .*cut\.ndjson: 8 sessions already exported/);
    assert.equal(sessionLines(cut), total);
    assert.deepEqual(digestsOf(cut), digestsOf(file));

    // An import refuses an export that did not finish.
    truncateSync(cut, Buffer.byteLength(kept) - 20);
    const refused = await tessera(['import', '--file', cut, '--store', `sqlite:${join(server.dir, 'never.db')}`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /the export did not finish/);
  });

  it('draws a progress bar when standard error is a terminal', async () => {
    // util-linux `script` (Debian's bsdutils, always installed) gives the command a pseudo-terminal.
    assert.equal((await run('script', ['--version'])).code, 0, 'script(1) runs');
    for (let i = 0; i < 3; i += 1) await server.signIn();
    const file = join(server.dir, 'tty.ndjson');
    assert.equal((await tessera(['export', '--file', file, '--store', serverStore()])).code, 0);
    const lines = sessionLines(file);
    const command = [process.execPath, installed.bin, 'import', '--file', file, '--store', `sqlite:${join(server.dir, 'tty.db')}`].join(' ');
    const onTerminal = await run('script', ['-qec', command, '/dev/null'], { env: cleanEnv() });
    assert.equal(onTerminal.code, 0, onTerminal.stdout);
    assert.match(onTerminal.stdout, new RegExp(`import \\[[█]+\\] 100% \\| ${lines}/${lines} sessions`));
    assert.ok(!onTerminal.stdout.includes(`import: ${lines}/${lines} sessions (100%), done`), 'not the plain lines');
  });

  it('fails verification, exit 1, when the store holds other states than the file', async () => {
    const carol = await server.signIn({ userId: 'cli-carol' });
    const file = join(server.dir, 'before-change.ndjson');
    assert.equal((await tessera(['export', '--file', file, '--store', serverStore()])).code, 0);
    const changed = await server.request('POST', '/v1/session/cart/items', { token: carol.token, headers: { 'tessera-csrf': carol.csrfToken }, body: { sku: 'LATE', quantity: 1 } });
    assert.equal(changed.status, 200);
    const result = await tessera(['import', '--file', file, '--store', serverStore()]);
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stdout, /verification failed/);
    assert.match(result.stdout, new RegExp(`1 differ from the file: ${carol.session.id}`));

    // A damaged line is caught by its digest before anything is merged.
    const damaged = join(server.dir, 'damaged.ndjson');
    writeFileSync(damaged, readFileSync(file, 'utf8').replace(/"quantity":1/, '"quantity":9').replace(/"userId":"cli-carol"/, '"userId":"cli-mallory"'));
    const refused = await tessera(['import', '--file', damaged, '--store', `sqlite:${join(server.dir, 'never.db')}`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /does not match its digest/);
  });

  it('serve runs the service from the installed bin, and SIGTERM stops it with exit 0', async () => {
    const port = await freePort();
    const child = (await import('node:child_process')).spawn(process.execPath, [installed.bin, 'serve'], {
      env: cleanEnv({ TESSERA_PORT: String(port), TESSERA_ADMIN_PORT: '0', TESSERA_SQLITE_PATH: join(server.dir, 'served.db'), TESSERA_API_KEYS: `app:${'k'.repeat(24)}`, TESSERA_LOG_LEVEL: 'info', TESSERA_SHUTDOWN_DELAY: '0s' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('tessera listening')) resolve();
      });
      void exited.then((code) => reject(new Error(`serve exited ${code}: ${out}`)));
    });
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
