/**
 * The package as apps load it: built (ESM and CommonJS), then required from a
 * .cjs file and imported from a .mjs file — each signing in a guest against a
 * real Tessera through its own copy of the SDK.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { APP_KEY, startTesseraProcess, type TesseraProcess } from './support/tessera-process.js';

const run = promisify(execFile);
const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('@tessera/client from CommonJS and from ESM', { timeout: 120_000 }, () => {
  let server: TesseraProcess;
  before(async () => {
    // The package's own build, as `npm run build` makes it for publishing.
    await run('npm', ['run', '--silent', 'build'], { cwd: PACKAGE });
    server = await startTesseraProcess();
  });
  after(() => server?.close());

  const node = async (fixture: string) => {
    const { stdout } = await run(process.execPath, [join(PACKAGE, 'test', 'fixtures', fixture)], {
      cwd: PACKAGE,
      env: { ...process.env, TESSERA_URL: server.url, TESSERA_API_KEY: APP_KEY },
    });
    return JSON.parse(stdout);
  };

  it('require() gives the client, the Express middleware and step-up helpers, and the Fastify plugin', async () => {
    assert.deepEqual(await node('require-client.cjs'), {
      format: 'commonjs',
      device: 'from CommonJS',
      exports: ['function', 'function', 'function', 'function', 'function'],
      errors: ['InvalidTokenError', 'ReauthenticationRequiredError'],
    });
  });

  it('import gives the same', async () => {
    assert.deepEqual(await node('import-client.mjs'), { device: 'from ESM', exports: ['function', 'function'] });
  });
});
