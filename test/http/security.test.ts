/**
 * Secrets at rest and in logs, token rotation and theft detection, CSRF
 * binding, the uniform invalid-token answer and API key comparison.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { RETIRED_HASHES_KEPT } from '../../src/domain/devices.js';
import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { ADMIN_KEY, APP_KEY, startTessera, type TestServer } from '../support/tessera-server.js';
import { flip, withWrongSecret } from '../support/wrong-secrets.js';

const secretOf = (token: string): string => token.slice(token.lastIndexOf('.') + 1);
const hashOf = (secret: string): string => createHash('sha256').update(secret).digest('base64url');

/** The text of every serialized Buffer (`{ type: 'Buffer', data: [...] }`) inside a parsed log line. */
function buffersIn(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return [];
  const record = value as Record<string, unknown>;
  if (record.type === 'Buffer' && Array.isArray(record.data)) return [Buffer.from(record.data as number[]).toString('latin1')];
  return Object.values(record).flatMap(buffersIn);
}

/** Every file of the data directory (db, -wal, -shm), as bytes. */
function dataFiles(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]));
}

function assertAbsent(files: Map<string, Buffer>, secrets: ReadonlySet<string>, where: string): void {
  for (const [name, bytes] of files) {
    for (const secret of secrets) {
      assert.equal(bytes.includes(Buffer.from(secret)), false, `${where}: ${name} holds a secret (${secret.slice(0, 12)}…)`);
    }
  }
}

describe('secrets never reach disk or logs; API keys and CSRF bind exactly', () => {
  let server: TestServer;
  let dir: string;
  let closed = false;
  /** Every token, token secret, CSRF token and API key this server has seen. */
  const secrets = new Set<string>([APP_KEY, ADMIN_KEY]);
  const remember = (issued: { token: string; csrfToken: string }): { token: string; csrfToken: string } => {
    secrets.add(issued.token);
    secrets.add(secretOf(issued.token));
    secrets.add(issued.csrfToken);
    return issued;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-security-'));
    server = await startTessera({}, { dir });
  });
  after(async () => {
    if (!closed) await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('tokens are tss1_ followed by ids and a secret of at least 256 bits, never repeated', async () => {
    const issued = await Promise.all(Array.from({ length: 20 }, () => server.signIn()));
    for (const { token, csrfToken } of issued.map(remember)) {
      assert.match(token, /^tss1_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[0-9a-z]+\.[A-Za-z0-9_-]+$/);
      assert.ok(Buffer.from(secretOf(token), 'base64url').length >= 32, `secret of ${secretOf(token).length} chars`);
      assert.ok(Buffer.from(csrfToken, 'base64url').length >= 32);
    }
    assert.equal(new Set(issued.map((i) => secretOf(i.token))).size, 20);
    assert.equal(new Set(issued.map((i) => i.csrfToken)).size, 20);
  });

  test('the data directory holds session data but no token, token secret, CSRF token or API key', async () => {
    const guest = remember(await server.signIn({ device: { name: 'guest-phone' } }));
    await server.request('POST', '/v1/session/cart/items', { token: guest.token, body: { sku: 'GUEST-SKU' } });
    await server.request('POST', '/v1/session/history', { token: guest.token, body: { productId: 'GUEST-PRODUCT' } });
    const phone = remember(await server.signIn({ userId: 'u-at-rest', guestToken: guest.token, device: { name: 'phone' } }));
    const laptop = remember(await server.signIn({ userId: 'u-at-rest', device: { name: 'laptop' } }));
    await server.request('PATCH', '/v1/session/prefs', { token: phone.token, body: { theme: 'dark' }, headers: { 'tessera-csrf': phone.csrfToken } });
    await server.request('POST', '/v1/session/cart/items', { token: laptop.token, body: { sku: 'USER-SKU', quantity: 3 } });
    const rotated = await server.request('POST', '/v1/session/rotate', { token: phone.token, headers: { 'tessera-csrf': phone.csrfToken } });
    assert.equal(rotated.status, 200);
    const phone2 = remember(rotated.body);
    const rotatedAgain = await server.request('POST', '/v1/session/rotate', { token: phone2.token });
    const phone3 = remember(rotatedAgain.body);
    const tablet = remember(await server.signIn({ userId: 'u-at-rest', device: { name: 'tablet' } }));
    const deleted = await server.request('DELETE', `/v1/session/devices/${tablet.token.split('.')[1]}`, { token: phone3.token });
    assert.equal(deleted.status, 204);
    assert.equal((await server.request('DELETE', '/v1/session', { token: laptop.token })).status, 204);
    const cart = await server.request('GET', '/v1/session/cart', { token: phone3.token });
    assert.deepEqual(cart.body.items.map((i: any) => i.sku), ['GUEST-SKU', 'USER-SKU']);

    const files = dataFiles(dir);
    assert.ok(files.has('tessera.db'), `files: ${[...files.keys()].join(', ')}`);
    const all = Buffer.concat([...files.values()]);
    // The bytes read are the live data: the session id and the stored hash of the current token are there.
    assert.ok(all.includes(Buffer.from(phone3.token.split('.')[0]!.slice('tss1_'.length))), 'session id not found on disk');
    assert.ok(all.includes(Buffer.from(hashOf(secretOf(phone3.token)))), 'token hash not found on disk');
    assertAbsent(files, secrets, 'live');
  });

  test('GET /v1/session reports the CSRF header as valid, invalid or absent, bound to the device', async () => {
    const a = remember(await server.signIn({ userId: 'u-csrf', device: { name: 'A' } }));
    const b = remember(await server.signIn({ userId: 'u-csrf', device: { name: 'B' } }));
    const other = remember(await server.signIn({ userId: 'u-csrf-other' }));
    assert.equal(a.token.split('.')[0], b.token.split('.')[0], 'A and B share one session');
    const csrf = async (token: string, header?: string) => {
      const reply = await server.request('GET', '/v1/session', { token, ...(header !== undefined ? { headers: { 'tessera-csrf': header } } : {}) });
      assert.equal(reply.status, 200);
      return reply.body.csrf;
    };
    assert.equal(await csrf(a.token, a.csrfToken), 'valid');
    assert.equal(await csrf(b.token, b.csrfToken), 'valid');
    assert.equal(await csrf(a.token), 'absent');
    assert.equal(await csrf(a.token, flip(a.csrfToken, -1)), 'invalid');
    assert.equal(await csrf(a.token, 'x'), 'invalid');
    assert.equal(await csrf(b.token, a.csrfToken), 'invalid', "A's CSRF token on B");
    assert.equal(await csrf(other.token, a.csrfToken), 'invalid', "another session's CSRF token");
    // Rotation keeps the device's CSRF token.
    const rotated = remember((await server.request('POST', '/v1/session/rotate', { token: a.token })).body);
    assert.equal(rotated.csrfToken, a.csrfToken);
    assert.equal(await csrf(rotated.token, a.csrfToken), 'valid');
  });

  test('an empty Tessera-CSRF header counts as absent on reads and on mutations alike', async () => {
    const user = remember(await server.signIn({ userId: 'u-csrf-empty' }));
    const empty = { 'tessera-csrf': '' };
    const read = await server.request('GET', '/v1/session', { token: user.token, headers: empty });
    assert.equal(read.status, 200);
    assert.equal(read.body.csrf, 'absent');
    const added = await server.request('POST', '/v1/session/cart/items', { token: user.token, headers: empty, body: { sku: 'E' } });
    assert.equal(added.status, 200, added.text);
    const patched = await server.request('PATCH', '/v1/session/prefs', { token: user.token, headers: empty, body: { theme: 'dark' } });
    assert.equal(patched.status, 200, patched.text);
    const rotated = await server.request('POST', '/v1/session/rotate', { token: user.token, headers: empty });
    assert.equal(rotated.status, 200, rotated.text);
    remember(rotated.body);
  });

  test('a mutation with a wrong Tessera-CSRF is 403 csrf-mismatch and writes nothing, even with a sibling device’s token', async () => {
    const a = remember(await server.signIn({ userId: 'u-csrf-write', device: { name: 'A' } }));
    const b = remember(await server.signIn({ userId: 'u-csrf-write', device: { name: 'B' } }));
    const db = new Database(join(dir, 'tessera.db'), { readonly: true, fileMustExist: true });
    try {
      const row = () => db.prepare('SELECT * FROM sessions WHERE id = ?').get(a.token.split('.')[0]!.slice('tss1_'.length));
      const before = row();
      assert.ok(before !== undefined);
      const attempts: Array<[string, string, string, unknown]> = [
        [a.token, flip(a.csrfToken, 0), 'POST /v1/session/cart/items', { sku: 'X' }],
        [b.token, a.csrfToken, 'POST /v1/session/cart/items', { sku: 'X' }],
        [a.token, b.csrfToken, 'PATCH /v1/session/prefs', { theme: 'x' }],
        [a.token, 'nope', 'POST /v1/session/history', { productId: 'P' }],
        [a.token, b.csrfToken, 'DELETE /v1/session/devices', undefined],
        [b.token, a.csrfToken, 'POST /v1/session/rotate', undefined],
        [b.token, a.csrfToken, 'DELETE /v1/session', undefined],
      ];
      for (const [token, header, route, body] of attempts) {
        const [method, path] = route.split(' ') as [string, string];
        const reply = await server.request(method, path, { token, headers: { 'tessera-csrf': header }, ...(body !== undefined ? { body } : {}) });
        assert.equal(reply.status, 403, `${route}: ${reply.text}`);
        assert.match(reply.headers.get('content-type') ?? '', /^application\/problem\+json/);
        assert.equal(reply.body.type, '/problems/csrf-mismatch', route);
      }
      assert.deepEqual(row(), before, 'the session row changed');
      const ok = await server.request('POST', '/v1/session/cart/items', { token: b.token, headers: { 'tessera-csrf': b.csrfToken }, body: { sku: 'X' } });
      assert.equal(ok.status, 200);
      assert.notDeepEqual(row(), before);
    } finally {
      db.close();
    }
  });

  test('API keys differing from a configured one in a single character, or by length, are refused', async () => {
    const wrong = [
      flip(APP_KEY, 0),
      flip(APP_KEY, Math.floor(APP_KEY.length / 2)),
      flip(APP_KEY, -1),
      flip(ADMIN_KEY, -1),
      APP_KEY.slice(0, -1),
      `${APP_KEY}x`,
      APP_KEY.toUpperCase(),
      'app',
      `app:${APP_KEY}`,
    ];
    for (const key of wrong) {
      // 'app' is a key name, not a secret, and names a source file in every stack trace logged.
      if (key !== 'app') secrets.add(key);
      const reply = await server.request('POST', '/v1/sessions', { key, body: {} });
      assert.equal(reply.status, 401, key);
      assert.equal(reply.body.type, '/problems/invalid-api-key');
      // An almost-admin key is not an admin key: 401, not 403.
      const admin = await server.request('GET', '/v1/users/u-at-rest/devices', { key });
      assert.equal(admin.status, 401, key);
      assert.equal(admin.body.type, '/problems/invalid-api-key');
    }
    assert.equal((await server.request('POST', '/v1/sessions', { key: APP_KEY, body: {} })).status, 201);
    assert.equal((await server.request('GET', '/v1/users/u-at-rest/devices', { key: ADMIN_KEY })).status, 200);
    assert.equal((await server.request('GET', '/v1/users/u-at-rest/devices', { key: APP_KEY })).status, 403);
  });

  test('no token, token secret, CSRF token or API key appears in any log line, including failed and 503 requests and tokens put in URLs', async () => {
    const user = remember(await server.signIn({ userId: 'u-logs', device: { name: 'phone', userAgent: 'test' } }));
    const send = (method: string, path: string, options: Parameters<TestServer['request']>[2] = {}) => server.request(method, path, options);
    // Valid credentials on every kind of route.
    await send('GET', '/v1/session?parts=cart', { token: user.token, headers: { 'tessera-csrf': user.csrfToken } });
    await send('POST', '/v1/session/cart/items', { token: user.token, headers: { 'tessera-csrf': user.csrfToken }, body: { sku: 'L' } });
    await send('GET', '/v1/users/u-logs/devices', { key: ADMIN_KEY });
    // Failures: wrong key, wrong token, wrong CSRF, bad JSON, too large, guest token in a body that fails validation.
    const badToken = withWrongSecret(user.token);
    secrets.add(badToken);
    secrets.add(secretOf(badToken));
    await send('GET', '/v1/session', { token: user.token, key: 'wrong-key-0123456789abcd' });
    secrets.add('wrong-key-0123456789abcd');
    await send('GET', '/v1/session', { token: badToken });
    await send('POST', '/v1/session/cart/items', { token: user.token, headers: { 'tessera-csrf': flip(user.csrfToken, 3) }, body: { sku: 'L' } });
    secrets.add(flip(user.csrfToken, 3));
    await send('POST', '/v1/session/cart/items', { token: user.token, raw: `{"sku":"${user.token}"`, headers: { 'content-type': 'application/json' } });
    await send('POST', '/v1/sessions', { body: { userId: 'u-logs', guestToken: user.token, extra: user.csrfToken } });
    await send('POST', '/v1/session/cart/items', { token: user.token, body: { sku: 'L', attributes: { pad: 'x'.repeat(70_000) } } });
    // Tokens where they do not belong: in the query and in the path (logged with req.url at debug level).
    await send('GET', `/v1/session?token=${user.token}`, { token: user.token });
    await send('GET', `/v1/session?parts=cart&csrf=${encodeURIComponent(user.csrfToken)}`, { token: user.token });
    await send('GET', `/v1/nope/${user.token}`);
    await send('GET', `/v1/nope/${user.token.replaceAll('.', '%2E')}?x`);
    await send('GET', `/v1/session/cart/items/${user.token.toUpperCase()}`);
    secrets.add(user.token.toUpperCase());
    secrets.add(secretOf(user.token).toUpperCase());
    // Headers over the limit: Node hands the raw bytes (with the token) to the client-error handler.
    await new Promise<void>((resolve) => {
      const { hostname, port } = new URL(server.url);
      const socket = connect(Number(port), hostname, () =>
        socket.write(`GET /v1/session HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${APP_KEY}\r\nTessera-Token: ${user.token}\r\nX-Pad: ${'p'.repeat(20_000)}\r\n\r\n`),
      );
      socket.on('data', () => {});
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
    });
    // A request that fails inside: the store is gone, the answer is 503 and the error is logged.
    await server.tessera.store.close();
    const failed = await send('POST', '/v1/session/cart/items', { token: user.token, headers: { 'tessera-csrf': user.csrfToken }, body: { sku: 'L' } });
    assert.equal(failed.status, 503);
    assert.equal(failed.body.type, '/problems/unavailable');

    const lines = server.logs;
    assert.ok(lines.length >= 20, `only ${lines.length} log lines`);
    assert.ok(lines.some((l) => l.includes('"statusCode":401')), 'the failed requests were logged');
    assert.ok(lines.some((l) => l.includes('unavailable: answered 503')), 'the 503 was logged');
    // The URLs are still there to debug with: the path and the names of the query parameters.
    const urls = lines.map((l) => JSON.parse(l).req?.url).filter((u): u is string => typeof u === 'string');
    assert.ok(urls.includes('/v1/session?token=[redacted]'), urls.join('\n'));
    assert.ok(urls.includes('/v1/session?parts=[redacted]&csrf=[redacted]'), urls.join('\n'));
    assert.ok(urls.includes('/v1/nope/tss1_[redacted]'), urls.join('\n'));
    assert.ok(urls.includes('/v1/nope/tss1_[redacted]?x'), urls.join('\n'));
    for (const line of lines) {
      // Buffers (such as the raw bytes Node attaches to client errors) serialize as byte arrays: read them as text too.
      const texts = [line, ...buffersIn(JSON.parse(line))];
      for (const text of texts) {
        for (const secret of secrets) {
          assert.equal(text.includes(secret), false, `a log line holds a secret (${secret.slice(0, 12)}…): ${line.slice(0, 300)}`);
        }
      }
    }
  });

  test('after shutdown the checkpointed database holds no secret either', async () => {
    await server.close();
    closed = true;
    const files = dataFiles(dir);
    assert.ok((files.get('tessera.db')?.length ?? 0) > 0);
    assertAbsent(files, secrets, 'after close');
  });
});

describe('rotation, theft detection and the uniform invalid-token answer', () => {
  let server: TestServer;
  /** The server's clock runs `skew` ms ahead of the wall clock. */
  let skew = 0;
  const advance = (ms: number): void => {
    skew += ms;
  };

  before(async () => {
    server = await startTessera({ TESSERA_ROTATION_GRACE: '1s' }, { now: () => Date.now() + skew });
  });
  after(() => server.close());

  const reuseCount = async (): Promise<number> => {
    const metrics = await server.request('GET', '/metrics', { key: null, admin: true });
    const match = /^tessera_token_reuse_total (\d+)$/m.exec(metrics.text);
    assert.ok(match, 'tessera_token_reuse_total is exported');
    return Number(match[1]);
  };
  const status = async (token: string): Promise<number> => (await server.request('GET', '/v1/session', { token })).status;

  test('a rotated-out token works inside the grace window; reused after it, the device is revoked, logged and counted', async () => {
    const phone = await server.signIn({ userId: 'u-theft', device: { name: 'phone' } });
    const laptop = await server.signIn({ userId: 'u-theft', device: { name: 'laptop' } });
    const rotated = await server.request('POST', '/v1/session/rotate', { token: phone.token });
    assert.equal(rotated.status, 200);
    const fresh: string = rotated.body.token;
    assert.notEqual(fresh, phone.token);
    assert.equal(await status(fresh), 200, 'the new token works');
    assert.equal(await status(phone.token), 200, 'the old token works inside the grace window');
    const countBefore = await reuseCount();
    const logsBefore = server.logs.length;

    advance(1_500);
    assert.equal(await status(phone.token), 401, 'the old token after the window');
    assert.equal(await status(fresh), 401, 'the whole family is revoked: the new token too');
    assert.equal(await status(laptop.token), 200, 'the other device of the session is untouched');

    assert.equal(await reuseCount(), countBefore + 1);
    const events = server.logs.slice(logsBefore).map((l) => JSON.parse(l)).filter((l) => l.event === 'token.reuse');
    assert.equal(events.length, 1);
    assert.equal(events[0].channel, 'security');
    assert.equal(events[0].sessionId, phone.session.id);
    assert.equal(events[0].deviceId, phone.session.deviceId);
    assert.ok(events[0].level >= 40, 'logged at warn or above');
    const devices = await server.request('GET', '/v1/session/devices', { token: laptop.token });
    assert.deepEqual(devices.body.devices.map((d: any) => d.name), ['laptop']);
  });

  test('a token two rotations old is treated as stolen at once, even on a mutation, and nothing is written', async () => {
    const first = await server.signIn();
    const second = (await server.request('POST', '/v1/session/rotate', { token: first.token })).body;
    const third = (await server.request('POST', '/v1/session/rotate', { token: second.token })).body;
    assert.equal(await status(third.token), 200);
    const countBefore = await reuseCount();
    const reply = await server.request('POST', '/v1/session/cart/items', { token: first.token, body: { sku: 'STOLEN' } });
    assert.equal(reply.status, 401);
    assert.equal(reply.body.type, '/problems/invalid-token');
    assert.equal(await status(third.token), 401);
    assert.equal(await reuseCount(), countBefore + 1);
    const ended = await server.request('GET', '/v1/session?parts=cart', { token: third.token });
    assert.equal(ended.status, 401);
  });

  test('missing, malformed, unknown, revoked, rotated-out and expired tokens get byte-identical 401 answers', async () => {
    const revoked = await server.signIn();
    assert.equal((await server.request('DELETE', '/v1/session', { token: revoked.token })).status, 204);
    const rotatedOut = await server.signIn();
    assert.equal((await server.request('POST', '/v1/session/rotate', { token: rotatedOut.token })).status, 200);
    advance(1_500);
    const unknown = `tss1_${'A'.repeat(22)}.${'B'.repeat(16)}.${'C'.repeat(43)}`;
    // The session and device of a live token, with a secret that differs in every character.
    const wrongSecret = withWrongSecret((await server.signIn()).token);
    const expiring = await server.signIn();
    assert.equal(await status(expiring.token), 200);

    const kinds: Array<[string, string | undefined, () => void]> = [
      ['missing', undefined, () => {}],
      ['malformed', 'tss1_not.a.token!', () => {}],
      ['not tss1', 'Bearer abc', () => {}],
      ['unknown', unknown, () => {}],
      ['wrong secret', wrongSecret, () => {}],
      ['revoked', revoked.token, () => {}],
      ['rotated-out', rotatedOut.token, () => {}],
      // Last: moving the clock 31 days on expires every session of this server.
      ['expired', expiring.token, () => advance(31 * 86_400_000)],
    ];
    const answers = new Map<string, string>();
    for (const [kind, token, prepare] of kinds) {
      prepare();
      for (const [method, path, body] of [
        ['GET', '/v1/session', undefined],
        ['POST', '/v1/session/cart/items', { sku: 'A' }],
        ['POST', '/v1/session/rotate', undefined],
      ] as const) {
        const reply = await server.request(method, path, { ...(token !== undefined ? { token } : {}), ...(body !== undefined ? { body } : {}) });
        assert.equal(reply.status, 401, `${kind} ${method} ${path}`);
        answers.set(`${kind} ${method} ${path}`, `${reply.headers.get('content-type')}\n${reply.text}`);
      }
    }
    const distinct = new Set(answers.values());
    assert.equal(distinct.size, 1, [...answers].map(([k, v]) => `${k}: ${v}`).join('\n'));
    const [only] = distinct;
    const [contentType, text] = only!.split('\n') as [string, string];
    assert.match(contentType, /^application\/problem\+json/);
    const body = JSON.parse(text);
    assert.deepEqual(Object.keys(body).sort(), ['detail', 'status', 'title', 'type']);
    assert.equal(body.type, '/problems/invalid-token');
    assert.equal(body.status, 401);
  });
});

for (const engine of ['sqlite', 'redis'] as const) {
  describe(`theft detection over a whole token family (${engine})`, () => {
    let redis: RedisServer | undefined;
    let server: TestServer;
    let skew = 0;

    before(async () => {
      if (engine === 'redis') redis = await startRedis();
      const env: Record<string, string> = redis === undefined ? {} : { TESSERA_STORE: 'redis', TESSERA_REDIS_URL: redis.url };
      server = await startTessera({ ...env, TESSERA_ROTATION_GRACE: '1s' }, { now: () => Date.now() + skew });
    });
    after(async () => {
      await server?.close();
      await redis?.stop();
    });

    const reuseCount = async (): Promise<number> => {
      const metrics = await server.request('GET', '/metrics', { key: null });
      return Number(/^tessera_token_reuse_total (\d+)$/m.exec(metrics.text)?.[1]);
    };
    const status = async (token: string): Promise<number> => (await server.request('GET', '/v1/session', { token })).status;

    test('five rotations, then each older token reused on a read: every one revokes the device, is logged and counted', async () => {
      // Reuse revokes the whole family, so each older token is tried on a family of its own, rotated five times.
      const reads = ['/v1/session', '/v1/session/cart', '/v1/session/prefs', '/v1/session/history', '/v1/session/devices'];
      const rotations = 5;
      assert.ok(RETIRED_HASHES_KEPT + 1 <= rotations, 'five rotations retire every token the family remembers');
      for (let age = 1; age <= rotations; age += 1) {
        const userId = `u-five-${age}-${engine}`;
        const laptop = await server.signIn({ userId, device: { name: 'laptop' } });
        const family: string[] = [(await server.signIn({ userId, device: { name: 'phone' } })).token];
        for (let i = 0; i < rotations; i += 1) {
          const rotated = await server.request('POST', '/v1/session/rotate', { token: family.at(-1) });
          assert.equal(rotated.status, 200, rotated.text);
          family.push(rotated.body.token);
        }
        const current = family[rotations]!;
        const old = family[rotations - age]!;
        // The token just rotated out is still in its grace window; past it, it is as stolen as the retired ones.
        if (age === 1) skew += 1_500;
        assert.equal(await status(current), 200);
        const countBefore = await reuseCount();
        const logsBefore = server.logs.length;
        const path = reads[age - 1]!;
        const reused = await server.request('GET', path, { token: old });
        assert.equal(reused.status, 401, `${age} rotation(s) old on GET ${path}`);
        assert.equal(reused.body.type, '/problems/invalid-token');
        assert.equal(await status(current), 401, `${age} rotation(s) old: the family is revoked, its newest token too`);
        assert.equal(await reuseCount(), countBefore + 1, `${age} rotation(s) old: counted once`);
        const events = server.logs.slice(logsBefore).map((l) => JSON.parse(l)).filter((l) => l.event === 'token.reuse');
        assert.equal(events.length, 1, `${age} rotation(s) old: logged once`);
        assert.equal(await status(laptop.token), 200, 'the other device of the session is untouched');
      }
    });
  });
}
