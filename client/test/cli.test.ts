import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runAdmin } from '../src/cli.js';
import { ADMIN_KEY, startTessera, type TestServer } from '../../test/support/tessera-server.js';

describe('tessera-admin', () => {
  let server: TestServer;
  before(async () => {
    server = await startTessera();
  });
  after(() => server.close());

  const run = async (argv: string[], key: string | null = ADMIN_KEY) => {
    const lines: string[] = [];
    const code = await runAdmin(argv, { TESSERA_URL: server.url, ...(key ? { TESSERA_ADMIN_KEY: key } : {}) }, (l) => lines.push(l));
    return { code, text: lines.join('\n') };
  };

  test("lists a user's devices and logs the user out everywhere", async () => {
    const phone = await server.signIn({ userId: 'cli-user', device: { name: 'phone', kind: 'mobile' } });
    await server.signIn({ userId: 'cli-user', device: { name: 'laptop' } });
    const listed = await run(['devices', 'cli-user']);
    assert.equal(listed.code, 0);
    assert.match(listed.text, new RegExp(`session ${phone.session.id}: 2 device\\(s\\)`));
    assert.match(listed.text, /phone\s+mobile/);
    const out = await run(['logout', 'cli-user']);
    assert.deepEqual(out, { code: 0, text: 'logged out cli-user everywhere' });
    assert.equal((await server.request('GET', '/v1/session', { token: phone.token })).status, 401);
    assert.deepEqual(await run(['devices', 'cli-user']), { code: 1, text: 'no live session for cli-user' });
  });

  test('exports a user as JSON, and erases only with --yes', async () => {
    const phone = await server.signIn({ userId: 'cli-gdpr', device: { name: 'phone' } });
    const exported = await run(['export', 'cli-gdpr']);
    assert.equal(exported.code, 0);
    const data = JSON.parse(exported.text);
    assert.deepEqual([data.userId, data.sessions[0].id, data.sessions[0].devices[0].name], ['cli-gdpr', phone.session.id, 'phone']);
    assert.equal((await run(['erase', 'cli-gdpr'])).code, 2, 'not without --yes');
    assert.equal((await server.request('GET', '/v1/session', { token: phone.token })).status, 200);
    assert.deepEqual(await run(['erase', 'cli-gdpr', '--yes']), { code: 0, text: 'erased cli-gdpr: 1 session(s)' });
    assert.equal((await server.request('GET', '/v1/session', { token: phone.token })).status, 401);
    assert.deepEqual(JSON.parse((await run(['export', 'cli-gdpr'])).text).sessions, []);
  });

  test('reports status, and refuses bad usage or a missing key with exit code 2', async () => {
    assert.deepEqual(await run(['status']), { code: 0, text: 'live: yes  ready: yes' });
    assert.equal((await run(['devices'])).code, 2);
    assert.equal((await run(['frobnicate', 'x'])).code, 2);
    assert.equal((await run(['devices', 'x'], null)).code, 2);
  });

  test('a sessions-scope key is refused by the server', async () => {
    const { code, text } = await run(['devices', 'x'], 'app-key-0123456789abcdef');
    assert.equal(code, 1);
    assert.match(text, /scope|forbidden/i);
  });
});
