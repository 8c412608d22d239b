/**
 * Issue 15: `/metrics`, `/docs` and `/openapi.json` were open to anyone who
 * reached the API port. They are now served on a separate management listener
 * (`TESSERA_ADMIN_HOST`:`TESSERA_ADMIN_PORT`, loopback by default), while
 * `/healthz` and `/readyz` stay on the API port for load balancers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.js';
import { startTessera, type TestServer } from '../support/tessera-server.js';

describe('the management listener', () => {
  let server: TestServer;
  before(async () => {
    server = await startTessera();
  });
  after(() => server.close());

  const get = async (base: string, path: string) => {
    const response = await fetch(`${base}${path}`);
    return { status: response.status, headers: response.headers, text: await response.text() };
  };

  test('metrics, the OpenAPI document and the docs are not on the API port', async () => {
    for (const path of ['/metrics', '/openapi.json', '/docs', '/docs/', '/docs/json']) {
      const reply = await get(server.url, path);
      assert.equal(reply.status, 404, path);
      assert.match(reply.headers.get('content-type') ?? '', /^application\/problem\+json/, path);
    }
  });

  test('health and readiness stay on the API port, without a key', async () => {
    assert.equal((await get(server.url, '/healthz')).status, 200);
    assert.equal((await get(server.url, '/readyz')).status, 200);
  });

  test('the management listener serves metrics, the OpenAPI document, the docs, health and readiness', async () => {
    assert.notEqual(server.adminUrl, server.url);
    const metrics = await get(server.adminUrl, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(metrics.text, /^# HELP tessera_/m);
    const document = JSON.parse((await get(server.adminUrl, '/openapi.json')).text);
    assert.equal(document.openapi, '3.1.0');
    assert.ok(document.paths['/v1/sessions'], 'the document describes the API port');
    assert.equal(document.paths['/metrics'], undefined, 'and not the management endpoints');
    const docs = await get(server.adminUrl, '/docs/');
    assert.equal(docs.status, 200);
    assert.match(docs.text, /swagger/i);
    assert.equal((await get(server.adminUrl, '/docs/json')).status, 200);
    assert.equal((await get(server.adminUrl, '/healthz')).status, 200);
    assert.equal((await get(server.adminUrl, '/readyz')).status, 200);
    const nothing = await get(server.adminUrl, '/v1/session');
    assert.equal(nothing.status, 404, 'the API is not on the management listener');
    assert.equal(metrics.headers.get('x-content-type-options'), 'nosniff');
  });

  test('it listens on loopback by default, even when the API listens on every interface', () => {
    const config = loadConfig({ TESSERA_API_KEYS: 'app:app-secret-0123456789', TESSERA_SQLITE_PATH: ':memory:', TESSERA_HOST: '0.0.0.0' });
    assert.deepEqual(config.admin, { host: '127.0.0.1', port: 8081 });
    assert.equal(new URL(server.adminUrl).hostname, '127.0.0.1');
  });
});
