/**
 * Malformed, oversized, wrongly typed and unknown input on every route. Each
 * case must get its catalogued 4xx problem+json answer — never a 5xx — and must
 * leave the stored sessions byte-for-byte as they were.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ProblemCode } from '../../src/domain/errors.js';
import { PROBLEMS } from '../../src/http/problems.js';
import { ADMIN_KEY, APP_KEY, startTessera, type Reply, type TestServer } from '../support/tessera-server.js';
import { withWrongSecret } from '../support/wrong-secrets.js';

interface Victim {
  readonly token: string;
  readonly csrfToken: string;
  readonly sessionId: string;
  readonly deviceId: string;
}

interface Case {
  /** What must happen, as a sentence. */
  readonly name: string;
  readonly method: string;
  readonly path: string | ((v: Victim) => string);
  /** The victim's token unless a string (sent as is) or null (none). */
  readonly token?: string | null;
  readonly key?: string | null;
  readonly body?: unknown;
  readonly raw?: string;
  /** Raw body bytes, for what a JavaScript string cannot carry (invalid UTF-8). */
  readonly bytes?: Buffer;
  readonly contentType?: string;
  readonly headers?: Record<string, string> | ((v: Victim) => Record<string, string>);
  readonly status: number;
  readonly code: ProblemCode;
}

const JSON_TYPE = 'application/json';
const x = (n: number, c = 'x'): string => c.repeat(n);
const nested = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
};
/** A well-formed token that belongs to no session. */
const UNKNOWN_TOKEN = `tss1_${x(22, 'A')}.${x(16, 'B')}.${x(43, 'C')}`;

const add = (body: unknown): Pick<Case, 'method' | 'path' | 'body'> => ({ method: 'POST', path: '/v1/session/cart/items', body });
const signIn = (body: unknown): Pick<Case, 'method' | 'path' | 'body' | 'token'> => ({ method: 'POST', path: '/v1/sessions', body, token: null });
const rawTo = (method: string, path: string, raw: string, contentType = JSON_TYPE): Pick<Case, 'method' | 'path' | 'raw' | 'contentType'> => ({
  method,
  path,
  raw,
  contentType,
});
const patch = (body: unknown): Pick<Case, 'method' | 'path' | 'body' | 'contentType'> => ({
  method: 'PATCH',
  path: '/v1/session/prefs',
  body,
  contentType: 'application/merge-patch+json',
});
const view = (body: unknown): Pick<Case, 'method' | 'path' | 'body'> => ({ method: 'POST', path: '/v1/session/history', body });
/** A JSON body as bytes: `text` with `bytes` spliced in where `@` stands. */
const bytesTo = (method: string, path: string, text: string, bytes: number[], contentType = JSON_TYPE): Pick<Case, 'method' | 'path' | 'bytes' | 'contentType'> => {
  const [before = '', after = ''] = text.split('@');
  return { method, path, bytes: Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]), contentType };
};
const MERGE_PATCH = 'application/merge-patch+json';
const bad = { status: 400, code: 'validation-failed' } as const;
const tooLarge = { status: 413, code: 'payload-too-large' } as const;
const badMedia = { status: 415, code: 'unsupported-media-type' } as const;
const noKey = { status: 401, code: 'invalid-api-key' } as const;
const noToken = { status: 401, code: 'invalid-token' } as const;
const notFound = { status: 404, code: 'not-found' } as const;

const CASES: readonly Case[] = [
  // Caller authentication
  { name: 'a request without an API key is refused with invalid-api-key', method: 'GET', path: '/v1/session/cart', key: null, ...noKey },
  { name: 'an unknown API key is refused with invalid-api-key', ...add({ sku: 'K' }), key: 'not-a-configured-key', ...noKey },
  { name: 'a valid API key in a Basic scheme is refused', method: 'GET', path: '/v1/session', headers: { authorization: `Basic ${APP_KEY}` }, key: null, ...noKey },
  { name: 'an empty Bearer credential is refused', method: 'GET', path: '/v1/session', headers: { authorization: 'Bearer ' }, key: null, ...noKey },
  { name: 'an 8 KiB API key is refused, not crashed on', ...signIn({}), key: x(8192, 'k'), ...noKey },
  { name: 'a sign-in without an API key creates nothing', ...signIn({ userId: 'u-nokey' }), key: null, ...noKey },
  { name: 'a sessions-scope key cannot list a user’s devices', method: 'GET', path: '/v1/users/u-victim/devices', status: 403, code: 'forbidden' },
  { name: 'a sessions-scope key cannot log a user out everywhere', method: 'DELETE', path: '/v1/users/u-victim/sessions', status: 403, code: 'forbidden' },

  // End-user token
  { name: 'a cart read without Tessera-Token is invalid-token', method: 'GET', path: '/v1/session/cart', token: null, ...noToken },
  { name: 'a malformed Tessera-Token is invalid-token', method: 'GET', path: '/v1/session', token: 'not-a-token', ...noToken },
  { name: 'a well-formed but unknown token is invalid-token', method: 'GET', path: '/v1/session/prefs', token: UNKNOWN_TOKEN, ...noToken },
  { name: 'an 8 KiB Tessera-Token is invalid-token', ...add({ sku: 'T' }), token: `tss1_${x(8192, 'A')}`, ...noToken },
  {
    name: "a mutation with the victim's session and device but a wrong secret is invalid-token and writes nothing",
    ...add({ sku: 'STOLEN' }),
    token: 'WRONG-SECRET',
    ...noToken,
  },
  { name: 'a cart add without a token writes nothing', ...add({ sku: 'ANON' }), token: null, ...noToken },

  // Routing, path and query parameters
  { name: 'an unknown route is not-found', method: 'GET', path: '/v1/nope', ...notFound },
  { name: 'an unknown method on a known path is not-found', method: 'PATCH', path: '/v1/session/cart', body: {}, ...notFound },
  { name: 'a route outside /v1 is not-found', method: 'GET', path: '/v2/session', ...notFound },
  { name: 'a 129-character SKU in the path is refused', method: 'PUT', path: `/v1/session/cart/items/${x(129, 'S')}`, body: { quantity: 1 }, ...bad },
  { name: 'a 129-character SKU in a delete is refused', method: 'DELETE', path: `/v1/session/cart/items/${x(129, 'S')}`, ...bad },
  { name: 'a SKU path parameter longer than the router accepts is refused', method: 'PUT', path: `/v1/session/cart/items/${x(600, 'S')}`, body: { quantity: 1 }, ...bad },
  { name: 'a control character in a path SKU is refused', method: 'PUT', path: '/v1/session/cart/items/A%01B', body: { quantity: 1 }, ...bad },
  { name: 'malformed percent-encoding in the path is refused', method: 'DELETE', path: '/v1/session/cart/items/%E0%A4%A', ...bad },
  { name: 'a 129-character device id is refused', method: 'DELETE', path: `/v1/session/devices/${x(129, 'D')}`, ...bad },
  { name: 'revoking an unknown device id is not-found', method: 'DELETE', path: '/v1/session/devices/no-such-device', ...notFound },
  { name: 'an admin lookup of a 129-character user id is refused', method: 'GET', path: `/v1/users/${x(129, 'u')}/devices`, key: ADMIN_KEY, ...bad },
  { name: 'an unknown part in parts= is refused', method: 'GET', path: '/v1/session?parts=cart,bogus', ...bad },
  { name: 'parts= is case-sensitive', method: 'GET', path: '/v1/session?parts=CART', ...bad },
  { name: 'an empty parts= is refused', method: 'GET', path: '/v1/session?parts=', ...bad },
  { name: 'parts= given twice is refused', method: 'GET', path: '/v1/session?parts=cart&parts=prefs', ...bad },
  { name: 'an unknown query parameter is refused', method: 'GET', path: '/v1/session?debug=1', ...bad },
  { name: 'a part named twice in parts= is refused', method: 'GET', path: '/v1/session?parts=cart,cart', ...bad },
  { name: 'a part named again later in parts= is refused', method: 'GET', path: '/v1/session?parts=cart,prefs,history,cart', ...bad },
  { name: 'an unknown query parameter on a cart read is refused', method: 'GET', path: '/v1/session/cart?foo=1', ...bad },
  { name: 'an unknown query parameter on a prefs read is refused', method: 'GET', path: '/v1/session/prefs?foo=1', ...bad },
  { name: 'a bare unknown query parameter on a history read is refused', method: 'GET', path: '/v1/session/history?foo', ...bad },
  { name: 'an unknown query parameter on a device list is refused', method: 'GET', path: '/v1/session/devices?foo=1', ...bad },
  { name: 'an unknown query parameter on a sign-in is refused and creates nothing', method: 'POST', path: '/v1/sessions?foo=1', body: { userId: 'u-query' }, token: null, ...bad },
  { name: 'an unknown query parameter on a valid cart add is refused and adds nothing', method: 'POST', path: '/v1/session/cart/items?foo=1', body: { sku: 'QUERY' }, ...bad },
  { name: 'an unknown query parameter on a valid cart set is refused', method: 'PUT', path: '/v1/session/cart/items/SEED?foo=1', body: { quantity: 1 }, ...bad },
  { name: 'an unknown query parameter on a line removal is refused', method: 'DELETE', path: '/v1/session/cart/items/SEED?foo=1', ...bad },
  { name: 'an unknown query parameter on a cart clear is refused', method: 'DELETE', path: '/v1/session/cart?foo=1', ...bad },
  { name: 'an unknown query parameter on a valid prefs patch is refused', ...patch({ theme: 'light' }), path: '/v1/session/prefs?foo=1', ...bad },
  { name: 'an unknown query parameter on a valid view is refused', ...view({ productId: 'P-query' }), path: '/v1/session/history?foo=1', ...bad },
  { name: 'an unknown query parameter on a rotation is refused and rotates nothing', method: 'POST', path: '/v1/session/rotate?foo=1', ...bad },
  { name: 'an unknown query parameter on a logout is refused and logs nothing out', method: 'DELETE', path: '/v1/session?foo=1', ...bad },
  { name: 'an unknown query parameter on a device revocation is refused', method: 'DELETE', path: (v) => `/v1/session/devices/${v.deviceId}?foo=1`, ...bad },
  { name: 'an unknown query parameter on ending the session is refused and ends nothing', method: 'DELETE', path: '/v1/session/devices?foo=1', ...bad },
  { name: 'an unknown query parameter on an admin device list is refused', method: 'GET', path: '/v1/users/u-victim/devices?foo=1', key: ADMIN_KEY, ...bad },
  { name: 'an unknown query parameter on an admin logout is refused and logs nobody out', method: 'DELETE', path: '/v1/users/u-victim/sessions?foo=1', key: ADMIN_KEY, ...bad },
  { name: 'If-Match naming two versions is refused', ...add({ sku: 'IFM' }), headers: { 'if-match': '"v1", "v2"' }, ...bad },
  { name: 'If-Match with a version that is not current is version-mismatch', ...add({ sku: 'IFM' }), headers: { 'if-match': '"v0"' }, status: 412, code: 'version-mismatch' },
  { name: 'If-Match with garbage is version-mismatch', method: 'DELETE', path: '/v1/session/cart', headers: { 'if-match': 'garbage!' }, status: 412, code: 'version-mismatch' },
  {
    name: 'a wrong Tessera-CSRF on ending the session is csrf-mismatch',
    method: 'DELETE',
    path: '/v1/session/devices',
    headers: { 'tessera-csrf': x(43, 'Z') },
    status: 403,
    code: 'csrf-mismatch',
  },

  // Sign-in body
  { name: 'sign-in with malformed JSON is refused', ...rawTo('POST', '/v1/sessions', '{"userId":'), token: null, ...bad },
  { name: 'sign-in with a JSON array is refused', ...signIn([]), ...bad },
  { name: 'sign-in with a JSON string is refused', ...signIn('guest'), ...bad },
  { name: 'sign-in with a JSON number is refused', ...signIn(42), ...bad },
  { name: 'sign-in with JSON null is refused', ...rawTo('POST', '/v1/sessions', 'null'), token: null, ...bad },
  { name: 'sign-in with an unknown field is refused', ...signIn({ userid: 'u-typo' }), ...bad },
  { name: 'a numeric userId is refused', ...signIn({ userId: 42 }), ...bad },
  { name: 'a userId object is refused', ...signIn({ userId: { id: 'u' } }), ...bad },
  { name: 'a 129-character userId is refused', ...signIn({ userId: x(129, 'u') }), ...bad },
  { name: 'an empty userId is refused', ...signIn({ userId: '' }), ...bad },
  { name: 'a userId with a control character is refused', ...signIn({ userId: 'u\u0000x' }), ...bad },
  { name: 'a non-string guestToken is refused', ...signIn({ userId: 'u-g', guestToken: 12 }), ...bad },
  { name: 'a 257-character guestToken is refused', ...signIn({ userId: 'u-g', guestToken: `tss1_${x(252)}` }), ...bad },
  { name: 'a 101-character device name is refused', ...signIn({ device: { name: x(101) } }), ...bad },
  { name: 'a 33-character device kind is refused', ...signIn({ device: { kind: x(33) } }), ...bad },
  { name: 'a 513-character user agent is refused', ...signIn({ device: { userAgent: x(513) } }), ...bad },
  { name: 'a 65-character device ip is refused', ...signIn({ device: { ip: x(65, '1') } }), ...bad },
  { name: 'a device that is not an object is refused', ...signIn({ device: 'phone' }), ...bad },
  { name: 'an unknown device field is refused', ...signIn({ device: { name: 'p', os: 'ios' } }), ...bad },
  { name: 'a sign-in body over 64 KiB is payload-too-large', ...signIn({ userId: 'u-big', device: { name: x(70_000) } }), ...tooLarge },
  { name: 'a text/plain sign-in is unsupported-media-type', ...rawTo('POST', '/v1/sessions', '{}', 'text/plain'), token: null, ...badMedia },
  { name: 'a form-urlencoded sign-in is unsupported-media-type', ...rawTo('POST', '/v1/sessions', 'userId=u', 'application/x-www-form-urlencoded'), token: null, ...badMedia },
  { name: 'an XML sign-in is unsupported-media-type', ...rawTo('POST', '/v1/sessions', '<userId/>', 'application/xml'), token: null, ...badMedia },
  { name: 'a __proto__ key in a sign-in is refused', ...rawTo('POST', '/v1/sessions', '{"__proto__":{"x":1}}'), token: null, ...bad },
  { name: 'a constructor.prototype key in a sign-in is refused', ...rawTo('POST', '/v1/sessions', '{"constructor":{"prototype":{"x":1}}}'), token: null, ...bad },
  { name: 'a merge-patch sign-in is unsupported-media-type and creates nothing', ...rawTo('POST', '/v1/sessions', '{"userId":"u-mp"}', MERGE_PATCH), token: null, ...badMedia },
  { name: 'a sign-in declared as ISO-8859-1 is unsupported-media-type and creates nothing', ...rawTo('POST', '/v1/sessions', '{"userId":"u-latin"}', 'application/json; charset=iso-8859-1'), token: null, ...badMedia },
  { name: 'a sign-in declared as UTF-16 (in capitals, quoted) is unsupported-media-type', ...rawTo('POST', '/v1/sessions', '{"userId":"u-16"}', 'application/json; Charset="UTF-16"'), token: null, ...badMedia },
  { name: 'invalid UTF-8 in a device name is refused, not stored as U+FFFD', ...bytesTo('POST', '/v1/sessions', '{"userId":"u-utf8","device":{"name":"ph@ne"}}', [0xff]), token: null, ...bad },
  { name: 'a five-byte sequence (not UTF-8) in a user agent is refused', ...bytesTo('POST', '/v1/sessions', '{"device":{"userAgent":"UA/@"}}', [0xf8, 0x88, 0x80, 0x80, 0x80]), token: null, ...bad },
  { name: 'a lone surrogate escape in a device name is refused', ...rawTo('POST', '/v1/sessions', '{"userId":"u-surrogate","device":{"name":"a\\udfffb"}}'), token: null, ...bad },

  // Cart bodies
  { name: 'an add with an empty body is refused', ...rawTo('POST', '/v1/session/cart/items', ''), ...bad },
  { name: 'an add with malformed JSON is refused', ...rawTo('POST', '/v1/session/cart/items', '{"sku":"A",}'), ...bad },
  { name: 'an add with a JSON array is refused', ...add([{ sku: 'A' }]), ...bad },
  { name: 'an add with a JSON string is refused', ...add('A'), ...bad },
  { name: 'a quantity given as a string is refused', ...add({ sku: 'Q', quantity: '2' }), ...bad },
  { name: 'a fractional quantity is refused', ...add({ sku: 'Q', quantity: 2.5 }), ...bad },
  { name: 'a zero quantity is refused', ...add({ sku: 'Q', quantity: 0 }), ...bad },
  { name: 'a negative quantity is refused', ...add({ sku: 'Q', quantity: -1 }), ...bad },
  { name: 'a quantity of 1000 is refused', ...add({ sku: 'Q', quantity: 1000 }), ...bad },
  { name: 'a null quantity is refused', ...add({ sku: 'Q', quantity: null }), ...bad },
  { name: 'a quantity of 1e309 is refused', ...rawTo('POST', '/v1/session/cart/items', '{"sku":"Q","quantity":1e309}'), ...bad },
  { name: 'an add without a sku is refused', ...add({ quantity: 1 }), ...bad },
  { name: 'a 129-character sku is refused', ...add({ sku: x(129, 'S') }), ...bad },
  { name: 'an empty sku is refused', ...add({ sku: '' }), ...bad },
  { name: 'a sku with a control character is refused', ...add({ sku: 'A\u0007B' }), ...bad },
  { name: 'a sku with a newline is refused', ...add({ sku: 'A\nB' }), ...bad },
  { name: 'a sku with a leading space is refused', ...add({ sku: ' A' }), ...bad },
  { name: 'a numeric sku is refused', ...add({ sku: 123 }), ...bad },
  { name: 'an add with an unknown field is refused', ...add({ sku: 'A', qty: 2 }), ...bad },
  { name: 'attributes given as an array are refused', ...add({ sku: 'A', attributes: ['red'] }), ...bad },
  { name: 'attributes given as a string are refused', ...add({ sku: 'A', attributes: 'red' }), ...bad },
  { name: 'attributes over 2 KiB are payload-too-large', ...add({ sku: 'A', attributes: { note: x(3000) } }), ...tooLarge },
  { name: 'attributes with 33 keys are refused', ...add({ sku: 'A', attributes: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])) }), ...bad },
  { name: 'a __proto__ key in attributes is refused', ...rawTo('POST', '/v1/session/cart/items', '{"sku":"P","attributes":{"__proto__":{"polluted":true}}}'), ...bad },
  { name: 'an add body over 64 KiB is payload-too-large', ...add({ sku: 'A', attributes: { note: x(70_000) } }), ...tooLarge },
  { name: 'a text/plain add is unsupported-media-type', ...rawTo('POST', '/v1/session/cart/items', '{"sku":"A"}', 'text/plain'), ...badMedia },
  { name: 'a merge-patch cart add is unsupported-media-type and adds nothing', ...rawTo('POST', '/v1/session/cart/items', '{"sku":"MP"}', MERGE_PATCH), ...badMedia },
  { name: 'a merge-patch cart set is unsupported-media-type', ...rawTo('PUT', '/v1/session/cart/items/SEED', '{"quantity":1}', MERGE_PATCH), ...badMedia },
  { name: 'a cart add declared as ISO-8859-1 is unsupported-media-type and adds nothing', ...rawTo('POST', '/v1/session/cart/items', '{"sku":"LATIN"}', 'application/json; charset=ISO-8859-1'), ...badMedia },
  { name: 'invalid UTF-8 in a cart attribute value is refused, not stored as U+FFFD', ...bytesTo('POST', '/v1/session/cart/items', '{"sku":"U8","attributes":{"colour":"r@d"}}', [0xc3]), ...bad },
  { name: 'a UTF-8-encoded surrogate (CESU-8) in a cart attribute is refused', ...bytesTo('POST', '/v1/session/cart/items', '{"sku":"U8","attributes":{"colour":"@"}}', [0xed, 0xa0, 0x80]), ...bad },
  { name: 'invalid UTF-8 in a cart attribute key is refused', ...bytesTo('POST', '/v1/session/cart/items', '{"sku":"U8","attributes":{"k@":"v"}}', [0x80]), ...bad },
  { name: 'a lone high surrogate escape in a cart attribute is refused', ...rawTo('POST', '/v1/session/cart/items', '{"sku":"LS","attributes":{"emoji":"\\ud83d"}}'), ...bad },
  { name: 'an add past quantity 999 on an existing line is refused', ...add({ sku: 'SEED', quantity: 10 }), ...bad },
  { name: 'a set without a quantity is refused', method: 'PUT', path: '/v1/session/cart/items/SEED', body: { attributes: {} }, ...bad },
  { name: 'a set to quantity 1000 is refused', method: 'PUT', path: '/v1/session/cart/items/SEED', body: { quantity: 1000 }, ...bad },
  { name: 'a set with a string quantity is refused', method: 'PUT', path: '/v1/session/cart/items/SEED', body: { quantity: '5' }, ...bad },
  { name: 'a set with a sku in the body is refused', method: 'PUT', path: '/v1/session/cart/items/SEED', body: { sku: 'OTHER', quantity: 1 }, ...bad },
  { name: 'a set with an empty body is refused', ...rawTo('PUT', '/v1/session/cart/items/SEED', ''), ...bad },

  // Preferences
  { name: 'a prefs patch that is an array is refused', ...patch([{ theme: 'dark' }]), ...bad },
  { name: 'a prefs patch that is a string is refused', ...patch('dark'), ...bad },
  { name: 'a prefs patch that is a number is refused', ...patch(7), ...bad },
  { name: 'a prefs patch that is null is refused', ...rawTo('PATCH', '/v1/session/prefs', 'null', 'application/merge-patch+json'), ...bad },
  { name: 'an empty prefs patch body is refused', ...rawTo('PATCH', '/v1/session/prefs', '', 'application/merge-patch+json'), ...bad },
  { name: 'a malformed prefs patch is refused', ...rawTo('PATCH', '/v1/session/prefs', "{'theme':'dark'}", 'application/merge-patch+json'), ...bad },
  { name: 'a patch taking prefs over 16 KiB in total is payload-too-large', ...patch({ more: x(7_000) }), ...tooLarge },
  { name: 'a single prefs value over 16 KiB is payload-too-large', ...patch({ huge: x(20_000) }), ...tooLarge },
  { name: 'a prefs patch nested 100 deep is refused', ...patch({ deep: nested(100) }), ...bad },
  { name: 'a prefs patch with an empty key is refused', ...patch({ '': 1 }), ...bad },
  { name: 'a prefs patch with a 129-character key is refused', ...patch({ [x(129, 'k')]: 1 }), ...bad },
  { name: 'a text/plain prefs patch is unsupported-media-type', ...rawTo('PATCH', '/v1/session/prefs', '{"theme":"dark"}', 'text/plain'), ...badMedia },
  { name: 'a JSON Patch (RFC 6902) document for prefs is unsupported-media-type', ...rawTo('PATCH', '/v1/session/prefs', '[{"op":"add","path":"/a","value":1}]', 'application/json-patch+json'), ...badMedia },
  { name: 'a prefs patch declared as ISO-8859-1 is unsupported-media-type', ...rawTo('PATCH', '/v1/session/prefs', '{"theme":"light"}', 'application/merge-patch+json; charset=iso-8859-1'), ...badMedia },
  { name: 'invalid UTF-8 in a prefs value is refused, not stored as U+FFFD', ...bytesTo('PATCH', '/v1/session/prefs', '{"theme":"l@ght"}', [0xfe], MERGE_PATCH), ...bad },
  { name: 'an overlong UTF-8 encoding of "/" in a prefs value is refused', ...bytesTo('PATCH', '/v1/session/prefs', '{"path":"a@b"}', [0xc0, 0xaf], MERGE_PATCH), ...bad },
  { name: 'invalid UTF-8 in a prefs key is refused', ...bytesTo('PATCH', '/v1/session/prefs', '{"th@me":"light"}', [0xe2, 0x82], MERGE_PATCH), ...bad },
  { name: 'a lone surrogate escape in a prefs value is refused', ...rawTo('PATCH', '/v1/session/prefs', '{"theme":"\\ud800"}', MERGE_PATCH), ...bad },
  { name: 'a lone surrogate escape in a prefs key is refused', ...rawTo('PATCH', '/v1/session/prefs', '{"\\udc00":"light"}', MERGE_PATCH), ...bad },
  { name: 'a lone surrogate escape deep in a prefs array is refused', ...rawTo('PATCH', '/v1/session/prefs', '{"recent":{"list":["ok",["\\udbff"]]}}', MERGE_PATCH), ...bad },
  { name: 'a multipart prefs patch is unsupported-media-type', ...rawTo('PATCH', '/v1/session/prefs', '--b\r\n\r\nx\r\n--b--', 'multipart/form-data; boundary=b'), ...badMedia },
  { name: 'a __proto__ prefs patch is refused', ...rawTo('PATCH', '/v1/session/prefs', '{"__proto__":{"polluted":true}}', 'application/merge-patch+json'), ...bad },
  {
    name: 'a constructor.prototype prefs patch is refused',
    ...rawTo('PATCH', '/v1/session/prefs', '{"constructor":{"prototype":{"polluted":true}}}'),
    ...bad,
  },

  // History
  { name: 'a viewedAt that is not a date is refused', ...view({ productId: 'P', viewedAt: 'yesterday' }), ...bad },
  { name: 'a viewedAt far in the future is refused', ...view({ productId: 'P', viewedAt: '2999-01-01T00:00:00Z' }), ...bad },
  { name: 'a viewedAt before 2000 is refused', ...view({ productId: 'P', viewedAt: '1999-12-31T23:59:59Z' }), ...bad },
  { name: 'a numeric viewedAt is refused', ...view({ productId: 'P', viewedAt: Date.now() }), ...bad },
  { name: 'a 129-character productId is refused', ...view({ productId: x(129, 'p') }), ...bad },
  { name: 'a view without a productId is refused', ...view({ viewedAt: new Date().toISOString() }), ...bad },
  { name: 'a numeric productId is refused', ...view({ productId: 7 }), ...bad },
  { name: 'a productId with a control character is refused', ...view({ productId: 'P\u001b[31m' }), ...bad },
  { name: 'a view with an unknown field is refused', ...view({ productId: 'P', price: 10 }), ...bad },
  { name: 'a merge-patch view is unsupported-media-type and records nothing', ...rawTo('POST', '/v1/session/history', '{"productId":"P-mp"}', MERGE_PATCH), ...badMedia },

  // Body-less mutations given bodies
  { name: 'a rotation with a malformed JSON body is refused and rotates nothing', ...rawTo('POST', '/v1/session/rotate', '{oops'), ...bad },
  { name: 'a logout with a text/plain body is unsupported-media-type and logs nothing out', ...rawTo('DELETE', '/v1/session', 'bye', 'text/plain'), ...badMedia },
  { name: 'a cart clear with an oversized body is payload-too-large', ...rawTo('DELETE', '/v1/session/cart', JSON.stringify({ pad: x(70_000) })), ...tooLarge },
  { name: 'a rotation with a body that has fields is refused and rotates nothing', ...rawTo('POST', '/v1/session/rotate', '{"foo":1}'), ...bad },
  { name: 'a cart clear with a body that has fields is refused and clears nothing', ...rawTo('DELETE', '/v1/session/cart', '{"foo":1}'), ...bad },
  { name: 'a line removal with a JSON array body is refused', ...rawTo('DELETE', '/v1/session/cart/items/SEED', '[]'), ...bad },
  { name: 'a logout with a JSON null body is refused and logs nothing out', ...rawTo('DELETE', '/v1/session', 'null'), ...bad },
  { name: 'ending the session with a body that has fields is refused and ends nothing', ...rawTo('DELETE', '/v1/session/devices', '{"all":true}'), ...bad },
  { name: 'a device revocation with a body that has fields is refused', method: 'DELETE', path: (v) => `/v1/session/devices/${v.deviceId}`, raw: '{"deviceId":"x"}', contentType: JSON_TYPE, ...bad },
  { name: 'an admin logout with a body that has fields is refused and logs nobody out', ...rawTo('DELETE', '/v1/users/u-victim/sessions', '{"force":true}'), key: ADMIN_KEY, ...bad },
  { name: 'a merge-patch rotation is unsupported-media-type and rotates nothing', ...rawTo('POST', '/v1/session/rotate', '{}', MERGE_PATCH), ...badMedia },
  { name: 'invalid UTF-8 in a body-less rotation is refused', ...bytesTo('POST', '/v1/session/rotate', '{"@":1}', [0xff]), ...bad },
];

function assertProblem(reply: Pick<Reply, 'status' | 'headers' | 'body' | 'text'>, status: number, code: ProblemCode, label: string): void {
  assert.equal(reply.status, status, `${label}: status (body ${reply.text.slice(0, 300)})`);
  assert.match(reply.headers.get('content-type') ?? '', /^application\/problem\+json/, `${label}: content-type`);
  assert.equal(reply.body?.type, `/problems/${code}`, `${label}: type`);
  assert.equal(reply.body?.title, PROBLEMS[code].title, `${label}: title`);
  assert.equal(reply.body?.status, status, `${label}: body status`);
  assert.equal(typeof reply.body?.detail, 'string', `${label}: detail`);
  assert.ok(reply.body.detail.length > 0, `${label}: detail is empty`);
}

/** Sends raw bytes over a socket and parses the single HTTP/1.1 answer. */
function rawHttp(url: string, request: string): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => (chunks.length > 0 ? undefined : reject(error)));
    socket.on('close', () => {
      const response = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = response.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = new Headers();
      for (const line of lines) {
        const at = line.indexOf(':');
        if (at > 0) headers.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
      }
      const text = rest.join('\r\n\r\n');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body, text });
    });
    socket.write(request);
  });
}

describe('bad input on every route', () => {
  let server: TestServer;
  let db: Database.Database;
  let victim: Victim;

  /** Every stored row, as the engine holds it. */
  const stored = (): unknown => ({
    sessions: db.prepare('SELECT * FROM sessions ORDER BY id').all(),
    users: db.prepare('SELECT * FROM users ORDER BY user_id').all(),
  });
  /** The victim's session as the API reports it. */
  const victimView = async (): Promise<unknown> => {
    const reply = await server.request('GET', '/v1/session?parts=cart,prefs,history,devices', { token: victim.token });
    assert.equal(reply.status, 200, 'victim read');
    return reply.body;
  };

  /** What `server.request` does, with a body of raw bytes. */
  const sendBytes = async (method: string, path: string, bytes: Buffer, options: { token?: string; key?: string | null; headers: Record<string, string> }): Promise<Reply> => {
    const headers: Record<string, string> = { ...options.headers };
    const key = options.key === undefined ? APP_KEY : options.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (options.token !== undefined) headers['tessera-token'] = options.token;
    const response = await fetch(`${server.url}${path}`, { method, headers, body: bytes });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, headers: response.headers, body, text };
  };

  before(async () => {
    server = await startTessera();
    const signedIn = await server.signIn({ userId: 'u-victim', device: { name: 'phone' } });
    const [, deviceId = ''] = signedIn.token.slice('tss1_'.length).split('.');
    victim = { token: signedIn.token, csrfToken: signedIn.csrfToken, sessionId: signedIn.session.id, deviceId };
    const seed = async (method: string, path: string, body: unknown, contentType = JSON_TYPE) => {
      const reply = await server.request(method, path, { token: victim.token, body, headers: { 'content-type': contentType } });
      assert.equal(reply.status, 200, `seed ${method} ${path}: ${reply.text}`);
    };
    await seed('POST', '/v1/session/cart/items', { sku: 'SEED', quantity: 990, attributes: { colour: 'red' } });
    await seed('PATCH', '/v1/session/prefs', { theme: 'dark', bio: x(10_000, 'b') }, 'application/merge-patch+json');
    await seed('POST', '/v1/session/history', { productId: 'P-seen' });
    db = new Database(join(server.dir, 'tessera.db'), { readonly: true, fileMustExist: true });
  });
  after(async () => {
    db?.close();
    await server?.close();
  });

  test('the stored-state comparison sees a write (so the cases below can fail)', async () => {
    const probe = await server.signIn({ userId: 'u-probe' });
    const before = stored();
    const reply = await server.request('POST', '/v1/session/cart/items', { token: probe.token, body: { sku: 'PROBE' } });
    assert.equal(reply.status, 200);
    assert.notDeepEqual(stored(), before);
  });

  for (const c of CASES) {
    test(c.name, async () => {
      const path = typeof c.path === 'function' ? c.path(victim) : c.path;
      const token = c.token === undefined ? victim.token : c.token === 'WRONG-SECRET' ? withWrongSecret(victim.token) : c.token;
      const headers: Record<string, string> = { ...(typeof c.headers === 'function' ? c.headers(victim) : c.headers) };
      if (c.contentType !== undefined) headers['content-type'] = c.contentType;
      const storedBefore = stored();
      const viewBefore = await victimView();

      const options = {
        ...(token !== null ? { token } : {}),
        ...(c.key !== undefined ? { key: c.key } : {}),
        ...(c.body !== undefined ? { body: c.body } : {}),
        ...(c.raw !== undefined ? { raw: c.raw } : {}),
        headers,
      };
      const reply = c.bytes !== undefined ? await sendBytes(c.method, path, c.bytes, options) : await server.request(c.method, path, options);

      assertProblem(reply, c.status, c.code, c.name);
      assert.deepEqual(stored(), storedBefore, 'stored rows changed');
      assert.deepEqual(await victimView(), viewBefore, "the victim's session changed");
    });
  }

  test('request headers over the server limit get a 4xx problem, not a dropped connection', async () => {
    const storedBefore = stored();
    const { host } = new URL(server.url);
    const reply = await rawHttp(
      server.url,
      `GET /v1/session HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${APP_KEY}\r\nTessera-Token: ${victim.token}\r\n` +
        `X-Padding: ${x(20_000)}\r\nConnection: close\r\n\r\n`,
    );
    assertProblem(reply, 400, 'validation-failed', 'header overflow');
    assert.deepEqual(stored(), storedBefore);
  });

  test('a request that is not valid HTTP gets a 400 problem', async () => {
    const reply = await rawHttp(server.url, 'GET /v1/session HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
    assertProblem(reply, 400, 'validation-failed', 'bad http');
  });

  test('an HTTP/1.1 request without a Host header gets a 400 problem, not an empty answer, and writes nothing', async () => {
    const storedBefore = stored();
    const read = await rawHttp(server.url, `GET /v1/session HTTP/1.1\r\nAuthorization: Bearer ${APP_KEY}\r\nTessera-Token: ${victim.token}\r\n\r\n`);
    assertProblem(read, 400, 'validation-failed', 'no Host on a read');
    assert.equal(read.headers.get('connection'), 'close');
    const body = '{"sku":"NO-HOST"}';
    const write = await rawHttp(
      server.url,
      `POST /v1/session/cart/items HTTP/1.1\r\nAuthorization: Bearer ${APP_KEY}\r\nTessera-Token: ${victim.token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    assertProblem(write, 400, 'validation-failed', 'no Host on a write');
    const probe = await rawHttp(server.url, 'GET /healthz HTTP/1.1\r\n\r\n');
    assertProblem(probe, 400, 'validation-failed', 'no Host on a probe');
    assert.deepEqual(stored(), storedBefore);
    // HTTP/1.0 has no Host requirement.
    assert.equal((await rawHttp(server.url, 'GET /healthz HTTP/1.0\r\n\r\n')).status, 200);
  });

  test('the 201st distinct cart line is refused and nothing is written', async () => {
    const { token } = await server.signIn();
    for (let i = 0; i < 200; i++) {
      const reply = await server.request('POST', '/v1/session/cart/items', { token, body: { sku: `L${i}` } });
      assert.equal(reply.status, 200, `line ${i}`);
    }
    const storedBefore = stored();
    const reply = await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'L200' } });
    assertProblem(reply, 413, 'payload-too-large', '201st line');
    assert.deepEqual(stored(), storedBefore);
    const cart = await server.request('GET', '/v1/session/cart', { token });
    assert.equal(cart.body.items.length, 200);
    assert.equal(cart.body.items.some((i: any) => i.sku === 'L200'), false);
    // Adding to an existing line is still fine at the limit.
    assert.equal((await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'L0' } })).status, 200);
  });

  test('the 51st signed-in device of a session is refused with payload-too-large and nothing is written', async () => {
    const first = await server.signIn({ userId: 'u-many-devices' });
    for (let i = 1; i < 50; i++) await server.signIn({ userId: 'u-many-devices', device: { name: `d${i}` } });
    const storedBefore = stored();
    const reply = await server.request('POST', '/v1/sessions', { body: { userId: 'u-many-devices', device: { name: 'd50' } } });
    assertProblem(reply, 413, 'payload-too-large', '51st device');
    assert.deepEqual(stored(), storedBefore);
    const devices = await server.request('GET', '/v1/session/devices', { token: first.token });
    assert.equal(devices.body.devices.length, 50);
    // Logging one out frees its place.
    assert.equal((await server.request('DELETE', '/v1/session', { token: first.token })).status, 204);
    assert.equal((await server.request('POST', '/v1/sessions', { body: { userId: 'u-many-devices' } })).status, 201);
  });

  test('repeated adds stop at quantity 999: the add that would pass it is refused and the line keeps 999', async () => {
    const { token } = await server.signIn();
    for (const quantity of [500, 499]) {
      assert.equal((await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'MANY', quantity } })).status, 200);
    }
    const storedBefore = stored();
    const reply = await server.request('POST', '/v1/session/cart/items', { token, body: { sku: 'MANY', quantity: 1 } });
    assertProblem(reply, 400, 'validation-failed', 'past 999');
    assert.deepEqual(stored(), storedBefore);
    const cart = await server.request('GET', '/v1/session/cart', { token });
    assert.deepEqual(cart.body.items.map((i: any) => [i.sku, i.quantity]), [['MANY', 999]]);
  });

  test('prototype-pollution attempts, even nested, are refused and leave Object.prototype untouched', async () => {
    const probe = {} as Record<string, unknown>;
    assert.equal(probe.x, undefined);
    assert.equal(probe.polluted, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
    // A nested "__proto__" inside a value that is otherwise accepted must not reach the prototype either.
    const reply = await server.request('PATCH', '/v1/session/prefs', {
      token: victim.token,
      raw: '{"nested":{"__proto__":{"polluted":true}}}',
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    assertProblem(reply, 400, 'validation-failed', 'nested __proto__');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal((await server.request('GET', '/healthz', { key: null })).status, 200);
  });

  test('every answer above is documented for its operation in the OpenAPI document', () => {
    const document = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    const templates = Object.keys(document.paths).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    }));
    let checked = 0;
    for (const c of CASES) {
      const path = (typeof c.path === 'function' ? c.path(victim) : c.path).split('?')[0]!;
      const template = templates.find((t) => t.pattern.test(path))?.template;
      const op = template === undefined ? undefined : document.paths[template]![c.method.toLowerCase()];
      // Unknown routes and methods are not operations.
      if (op === undefined) continue;
      checked++;
      assert.ok(op.responses[String(c.status)], `${c.method} ${template} does not document ${c.status} (${c.name})`);
    }
    assert.ok(checked > CASES.length * 0.9, `only ${checked} of ${CASES.length} cases matched an operation`);
  });

  test('the victim session still works after every bad request', async () => {
    const reply = await server.request('GET', '/v1/session?parts=cart,prefs,history', { token: victim.token });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body.cart.items.map((i: any) => [i.sku, i.quantity]), [['SEED', 990]]);
    assert.equal(reply.body.prefs.theme, 'dark');
    assert.deepEqual(reply.body.history.items.map((i: any) => i.productId), ['P-seen']);
  });
});
