/**
 * What the JSON body parser (src/http/json-body.ts) lets through: the refusals
 * are cases in bad-input.test.ts, where they are checked to write nothing.
 * These guard against the rules refusing what the contract allows.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTessera, type TestServer } from '../support/tessera-server.js';

describe('JSON bodies the contract allows are accepted', () => {
  let server: TestServer;
  before(async () => {
    server = await startTessera();
  });
  after(() => server.close());

  test('a sign-in with no body at all, or an empty JSON body, starts a guest session', async () => {
    for (const options of [{}, { raw: '', headers: { 'content-type': 'application/json' } }]) {
      const reply = await server.request('POST', '/v1/sessions', options);
      assert.equal(reply.status, 201, `${JSON.stringify(options)}: ${reply.text}`);
      assert.equal(reply.body.session.userId, null);
      assert.match(reply.body.token, /^tss1_/);
    }
  });

  test('body-less routes accept no body, an empty body and {}', async () => {
    let { token } = await server.signIn();
    for (const options of [{}, { raw: '', headers: { 'content-type': 'application/json' } }, { body: {} }, { raw: ' { } ', headers: { 'content-type': 'application/json' } }]) {
      const rotated = await server.request('POST', '/v1/session/rotate', { token, ...options });
      assert.equal(rotated.status, 200, `rotate ${JSON.stringify(options)}: ${rotated.text}`);
      token = rotated.body.token;
      const cleared = await server.request('DELETE', '/v1/session/cart', { token, ...options });
      assert.equal(cleared.status, 200, `clear ${JSON.stringify(options)}: ${cleared.text}`);
    }
    assert.equal((await server.request('DELETE', '/v1/session', { token, body: {} })).status, 204);
  });

  test('application/json with charset=utf-8, in any case or quoted, is accepted', async () => {
    const { token } = await server.signIn();
    for (const contentType of ['application/json; charset=utf-8', 'application/json;charset=UTF-8', 'Application/JSON; Charset="utf-8"']) {
      const reply = await server.request('POST', '/v1/session/cart/items', { token, raw: '{"sku":"C"}', headers: { 'content-type': contentType } });
      assert.equal(reply.status, 200, `${contentType}: ${reply.text}`);
    }
  });

  test('a prefs patch is taken as application/json and as application/merge-patch+json', async () => {
    const { token } = await server.signIn();
    for (const [contentType, lang] of [['application/json', 'de'], ['application/merge-patch+json', 'fr'], ['application/merge-patch+json; charset=utf-8', 'it']] as const) {
      const reply = await server.request('PATCH', '/v1/session/prefs', { token, raw: JSON.stringify({ lang }), headers: { 'content-type': contentType } });
      assert.equal(reply.status, 200, `${contentType}: ${reply.text}`);
      assert.equal(reply.body.prefs.lang, lang);
    }
  });

  test('non-ASCII UTF-8 and surrogate-pair escapes are kept exactly as sent', async () => {
    const { token } = await server.signIn({ device: { name: 'Jürgen’s 📱' } });
    const patched = await server.request('PATCH', '/v1/session/prefs', {
      token,
      raw: '{"emoji":"\\ud83d\\ude00","\\u00e9t\\u00e9":"\\u2028 ok","backslash-u":"\\\\ud800"}',
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(patched.body.prefs, { emoji: '😀', été: '\u2028 ok', 'backslash-u': '\\ud800' });
    const devices = await server.request('GET', '/v1/session/devices', { token });
    assert.equal(devices.body.devices[0].name, 'Jürgen’s 📱');
  });
});
