import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generateOpenApi } from '../../scripts/openapi.js';
import { PROBLEMS } from '../../src/http/problems.js';
import { startTessera, type TestServer } from '../support/tessera-server.js';

test('docs/openapi.json matches the route schemas (run `npm run openapi` after changing a route)', async () => {
  const committed = readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8');
  assert.equal(committed, await generateOpenApi());
});

type Operation = {
  parameters?: Array<{ in: string; name: string }>;
  requestBody?: { required?: boolean; content: Record<string, unknown> };
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, { schema?: { $ref?: string } }> }>;
};

const document = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
};
const v1 = Object.entries(document.paths)
  .filter(([path]) => path.startsWith('/v1/'))
  .flatMap(([path, operations]) => Object.entries(operations).map(([method, operation]) => ({ route: `${method.toUpperCase()} ${path}`, method, operation })));
const operation = (route: string): Operation => {
  const found = v1.find((o) => o.route === route);
  assert.ok(found, `${route} is documented`);
  return found.operation;
};
const headersOf = (route: string): string[] => (operation(route).parameters ?? []).filter((p) => p.in === 'header').map((p) => p.name);

/** Operations that change a part: If-Match and Tessera-CSRF apply, and 403, 412, 413, 415 may come back. */
const MUTATIONS = [
  'POST /v1/session/cart/items',
  'PUT /v1/session/cart/items/{sku}',
  'DELETE /v1/session/cart/items/{sku}',
  'DELETE /v1/session/cart',
  'PATCH /v1/session/prefs',
  'POST /v1/session/history',
  'DELETE /v1/session/devices/{deviceId}',
  'DELETE /v1/session/devices',
];

describe('the OpenAPI document describes errors, headers and media types', () => {
  test('every v1 operation documents its problem answers as application/problem+json', () => {
    assert.equal(v1.length, 21, v1.map((o) => o.route).join(", "));
    assert.ok(document.components.schemas.Problem, 'Problem is a shared component');
    for (const { route, operation: op } of v1) {
      for (const status of ['400', '401', '429', '503']) {
        const response = op.responses[status];
        assert.ok(response, `${route} documents ${status}`);
        assert.equal(response.content?.['application/problem+json']?.schema?.$ref, '#/components/schemas/Problem', `${route} ${status}`);
      }
      const documented = Object.keys(op.responses).map(Number);
      for (const status of documented.filter((s) => s >= 400)) {
        assert.ok(Object.values(PROBLEMS).some((p) => p.status === status), `${route}: ${status} is in the catalog`);
      }
    }
  });

  test('mutations document If-Match, Prefer, Tessera-CSRF, their minimal 204 and their 403, 412, 413 and 415 answers', () => {
    for (const route of MUTATIONS) {
      const partChange = !route.includes('/devices');
      const expected = ['if-match', ...(partChange ? ['prefer'] : []), 'tessera-client-country', 'tessera-client-ip', 'tessera-csrf'];
      assert.deepEqual(headersOf(route).sort(), expected, route);
      for (const status of ['403', '412', '413', '415']) assert.ok(operation(route).responses[status], `${route} documents ${status}`);
      if (!partChange) continue;
      const minimal = operation(route).responses['204'];
      assert.ok(minimal?.headers?.etag && minimal.headers['preference-applied'], `${route} documents the minimal answer with its ETag`);
      assert.equal(minimal.content, undefined, `${route}: the minimal answer has no body`);
    }
    // Tessera-Consistency names the writes the answer must see (global mode's read-your-writes).
    for (const route of ['GET /v1/session', 'POST /v1/session/rotate', 'POST /v1/session/reauthenticate', 'DELETE /v1/session']) {
      assert.deepEqual(headersOf(route).sort(), ['tessera-client-country', 'tessera-client-ip', 'tessera-consistency', 'tessera-csrf'], route);
    }
    assert.ok(operation('POST /v1/session/reauthenticate').responses['403'], 'reauthentication needs the sign-in scope');
    for (const route of ['GET /v1/users/{userId}/export', 'DELETE /v1/users/{userId}']) assert.ok(operation(route).responses['403'], route);
    assert.ok(operation('DELETE /v1/session/devices/{deviceId}').responses['404']);
    assert.ok(operation('GET /v1/users/{userId}/devices').responses['403']);
    assert.ok(operation('GET /v1/users/{userId}/devices').responses['404']);
    assert.ok(operation('POST /v1/sessions').responses['413'], 'the device limit');
    // Reads parse no body, so they cannot answer 413 or 415.
    for (const { route, method, operation: op } of v1) {
      if (method === 'get') assert.equal(op.responses['415'], undefined, route);
    }
  });

  test('single-part answers document their ETag header', () => {
    for (const route of [
      'GET /v1/session/cart',
      'POST /v1/session/cart/items',
      'PUT /v1/session/cart/items/{sku}',
      'DELETE /v1/session/cart/items/{sku}',
      'DELETE /v1/session/cart',
      'GET /v1/session/prefs',
      'PATCH /v1/session/prefs',
      'GET /v1/session/history',
      'POST /v1/session/history',
      'GET /v1/session/devices',
    ]) {
      const ok = operation(route).responses['200'];
      assert.ok(ok?.headers?.['etag'], `${route} documents ETag`);
      assert.ok(ok.content?.['application/json'], `${route} answers application/json`);
    }
    assert.equal(operation('GET /v1/session').responses['200']?.headers, undefined, 'the whole-session read has versions, no ETag');
  });

  test('the prefs patch takes merge-patch+json as well as JSON; the sign-in body is optional', () => {
    assert.deepEqual(Object.keys(operation('PATCH /v1/session/prefs').requestBody?.content ?? {}).sort(), ['application/json', 'application/merge-patch+json']);
    assert.deepEqual(Object.keys(operation('POST /v1/session/cart/items').requestBody?.content ?? {}), ['application/json']);
    assert.equal(operation('POST /v1/sessions').requestBody?.required, false);
    assert.equal(operation('POST /v1/session/cart/items').requestBody?.required, true);
    assert.equal(JSON.stringify(document).includes('x-optional-body'), false, 'the marker is not left in the document');
  });

  test('every $ref in the document resolves', () => {
    const refs = JSON.stringify(document).match(/"\$ref":"[^"]+"/g) ?? [];
    assert.ok(refs.length > 0);
    for (const ref of new Set(refs)) {
      const name = /#\/components\/schemas\/([^"]+)"/.exec(ref)?.[1];
      assert.ok(name !== undefined && document.components.schemas[name] !== undefined, ref);
    }
  });
});

describe('documenting problem answers leaves them as they were sent', () => {
  let server: TestServer;
  before(async () => {
    server = await startTessera();
  });
  after(() => server.close());

  test('problem answers are the compact problem document, unchanged by the response schemas', async () => {
    const { token } = await server.signIn();
    const cases: Array<[string, string, Parameters<TestServer['request']>[2], keyof typeof PROBLEMS]> = [
      ['GET', '/v1/session/cart?foo=1', { token }, 'validation-failed'],
      ['GET', '/v1/session', { token: 'tss1_nope' }, 'invalid-token'],
      ['DELETE', '/v1/session/devices/no-such-device', { token }, 'not-found'],
      ['POST', '/v1/session/cart/items', { token, raw: '{"sku":"A"}', headers: { 'content-type': 'application/merge-patch+json' } }, 'unsupported-media-type'],
      ['POST', '/v1/session/cart/items', { token, body: { sku: 'A' }, headers: { 'if-match': '"v999"' } }, 'version-mismatch'],
    ];
    for (const [method, path, options, code] of cases) {
      const reply = await server.request(method, path, options);
      const { status, title } = PROBLEMS[code];
      assert.equal(reply.status, status, `${method} ${path}: ${reply.text}`);
      assert.equal(reply.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      // Exactly what problem.ts writes: these four keys in this order, nothing added or dropped by a serializer.
      assert.equal(reply.text, JSON.stringify({ type: `/problems/${code}`, title, status, detail: reply.body.detail }), `${method} ${path}`);
      assert.ok(reply.body.detail.length > 0);
    }
  });
});
