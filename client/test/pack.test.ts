/**
 * The SDK as its users get it: `npm pack` of client/, installed with
 * `npm install <tarball>` into an empty project (dependencies from the npm
 * cache or registry), then an ESM script and a type-checked TypeScript file of
 * that project talk to a real Tessera.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { APP_KEY, startTesseraProcess, type TesseraProcess } from './support/tessera-process.js';

const CLIENT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TSC = resolve(CLIENT, '../node_modules/typescript/bin/tsc');

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8' });
  if (result.error) throw result.error;
  return result;
}

const ok = (result: SpawnSyncReturns<string>, what: string) => assert.equal(result.status, 0, `${what} failed:\n${result.stdout}\n${result.stderr}`);

let work: string;
let project: string;
let packed: { filename: string; files: Array<{ path: string }> };
let server: TesseraProcess;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'tessera-pack-'));
  const pack = run('npm', ['pack', '--json', '--pack-destination', work], CLIENT);
  ok(pack, 'npm pack');
  packed = (JSON.parse(pack.stdout) as Array<typeof packed>)[0]!;
  project = join(work, 'app');
  run('mkdir', [project], work);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'empty-app', version: '1.0.0', private: true, type: 'module' }, null, 2));
  ok(run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed.filename)], project), 'npm install of the tarball');
  server = await startTesseraProcess();
});

after(async () => {
  await server?.close();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('npm pack of @tessera/client', () => {
  it('packs the compiled SDK, its types, README and LICENSE, and no sources or tests', () => {
    const paths = packed.files.map((f) => f.path);
    for (const path of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/express.js', 'dist/express.d.ts', 'dist/fastify.js', 'dist/fastify.d.ts']) {
      assert.ok(paths.includes(path), `${path} is not in the package`);
    }
    assert.deepEqual(paths.filter((p) => p.startsWith('src/') || p.startsWith('test/') || p.endsWith('.ts') && !p.endsWith('.d.ts')), []);
  });

  it('installs into an empty project with undici as its only dependency', () => {
    const installed = JSON.parse(readFileSync(join(project, 'node_modules/@tessera/client/package.json'), 'utf8')) as { version: string; license: string };
    const own = JSON.parse(readFileSync(join(CLIENT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(installed.version, own.version);
    assert.equal(installed.license, 'Apache-2.0');
    assert.ok(existsSync(join(project, 'node_modules/undici/package.json')));
    assert.ok(!existsSync(join(project, 'node_modules/express')) && !existsSync(join(project, 'node_modules/fastify')), 'the framework peers stay optional');
  });

  it('an ESM script of that project signs in, fills a cart and reads it back from a running Tessera', () => {
    writeFileSync(
      join(project, 'app.mjs'),
      [
        "import { TesseraClient, InvalidTokenError } from '@tessera/client';",
        'const tessera = new TesseraClient({ endpoints: process.env.TESSERA_URL, apiKey: process.env.TESSERA_API_KEY });',
        "const { token } = await tessera.signIn('packed-user', { device: { name: 'empty project' } });",
        "await tessera.addToCart(token, { sku: 'SKU-PACKED', quantity: 3 });",
        "const view = await tessera.validateSession(token, { parts: ['cart'] });",
        "const rejected = await tessera.validateSession('tss1_not-a-real-token').then((v) => v, (e) => e instanceof InvalidTokenError ? 'InvalidTokenError' : String(e));",
        'await tessera.close();',
        'console.log(JSON.stringify({ userId: view.session.userId, items: view.cart.items.map((i) => [i.sku, i.quantity]), rejected }));',
      ].join('\n'),
    );
    const result = run(process.execPath, ['app.mjs'], project, { ...process.env, TESSERA_URL: server.url, TESSERA_API_KEY: APP_KEY });
    ok(result, 'node app.mjs');
    assert.deepEqual(JSON.parse(result.stdout), { userId: 'packed-user', items: [['SKU-PACKED', 3]], rejected: null });
  });

  it('its types resolve from the package: a correct file type-checks, a wrong one does not', () => {
    // A TypeScript project on Node has Node's types; undici's declarations need them.
    const nodeTypes = JSON.parse(readFileSync(resolve(CLIENT, '../node_modules/@types/node/package.json'), 'utf8')) as { version: string };
    ok(run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--save-dev', `@types/node@${nodeTypes.version}`], project), 'npm install @types/node');
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] } }),
    );
    writeFileSync(
      join(project, 'good.ts'),
      [
        "import { TesseraClient, type CartItem } from '@tessera/client';",
        "export async function cartOf(client: TesseraClient, token: string): Promise<CartItem[] | null> {",
        "  const view = await client.validateSession(token, { parts: ['cart'] });",
        '  return view === null ? null : view.cart.items;',
        '}',
      ].join('\n'),
    );
    writeFileSync(join(project, 'bad.ts'), "import { TesseraClient } from '@tessera/client';\nexport const wrong = (c: TesseraClient) => c.addToCart('t', { sku: 42, quantity: 'many' });\n");
    const checked = run(process.execPath, [TSC, '-p', '.'], project);
    const errors = checked.stdout.split('\n').filter((line) => /error TS\d+/.test(line));
    assert.ok(errors.length > 0, 'the wrong file fails to type-check');
    assert.deepEqual(errors.filter((line) => !line.startsWith('bad.ts')), [], 'the correct file and the package\'s own declarations have no error');
    assert.match(errors.join('\n'), /bad\.ts.*TS2322/);
  });
});
