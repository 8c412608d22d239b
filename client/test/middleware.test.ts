/**
 * The session middleware, one behaviour suite run on Express and on Fastify,
 * against a real Tessera process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TesseraClient } from '../src/index.js';
import express from 'express';
import expressSession from 'express-session';
import type { AddressInfo } from 'node:net';
import { tesseraSession } from '../src/express.js';
import { nextMillisecond } from '../../test/support/clock.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { startExpress4App, startExpressApp, startFastifyApp, type RunningApp } from './support/apps.js';
import { APP_KEY, startTesseraProcess, type TesseraProcess } from './support/tessera-process.js';
import { Visitor } from './support/visitor.js';

let server: TesseraProcess;
let tessera: TesseraClient;

before(async () => {
  server = await startTesseraProcess();
  tessera = new TesseraClient({ endpoints: server.url, apiKey: APP_KEY });
});

after(async () => {
  await tessera?.close();
  await server?.close();
});

const frameworks = [
  ['Express', startExpressApp],
  ['Express 4', startExpress4App],
  ['Fastify', startFastifyApp],
] as const;

const COOKIE = '__Host-tessera';
const TRUSTED = 'https://m.shop.test';

for (const [framework, start] of frameworks) {
  describe(`${framework} session middleware`, () => {
    let app: RunningApp;
    before(async () => {
      // The visitor's country comes from a CDN-style header (both frameworks keep headers in `headers`).
      const country = (request: unknown) => (request as { headers: Record<string, string | undefined> }).headers['x-geo-country'];
      app = await start(tessera, { csrf: { trustedOrigins: [TRUSTED] }, country });
    });
    after(() => app.close());

    /** A visitor with a guest session holding one cart line. */
    async function guest(): Promise<{ visitor: Visitor; csrfToken: string }> {
      const visitor = new Visitor(app.url);
      const added = await visitor.post('/cart/add', { form: { sku: 'starter' } });
      assert.equal(added.status, 200, added.text);
      return { visitor, csrfToken: added.json.state.csrfToken };
    }

    it('gives a first visit no session and sets no cookie', async () => {
      const visitor = new Visitor(app.url);
      const page = await visitor.get('/state');
      assert.equal(page.json.exists, false);
      assert.deepEqual(page.json.cart, []);
      assert.deepEqual(page.setCookies, []);
    });

    it('creates a guest session on the first add and sets a __Host- cookie: Secure, HttpOnly, SameSite=Lax, Path=/, no Domain', async () => {
      const visitor = new Visitor(app.url);
      const added = await visitor.post('/cart/add', { form: { sku: 'mug', quantity: '2' } });
      assert.equal(added.status, 200, added.text);
      assert.equal(added.json.state.isGuest, true);
      const line = added.setCookies.find((c) => c.startsWith(`${COOKIE}=`));
      assert.ok(line, 'sets the session cookie');
      const attributes = line.split(';').map((a) => a.trim().toLowerCase());
      for (const expected of ['httponly', 'secure', 'samesite=lax', 'path=/']) assert.ok(attributes.includes(expected), `${expected} in ${line}`);
      assert.ok(!attributes.some((a) => a.startsWith('domain=')), 'no Domain');
      const page = await visitor.get('/state');
      assert.deepEqual(page.json.cart, [['mug', 2]]);
      assert.equal(page.json.csrfToken, added.json.state.csrfToken);
      assert.equal(page.json.csrf, 'valid');
    });

    it('also exposes the session as req.session for express-session code', async () => {
      assert.deepEqual((await new Visitor(app.url).get('/alias')).json, { same: true });
    });

    it('refuses an unsafe request without a CSRF token and writes nothing', async () => {
      const { visitor } = await guest();
      const refused = await visitor.post('/cart/add', { json: { sku: 'sneaky' } });
      assert.equal(refused.status, 403);
      assert.equal(refused.json.reason, 'token');
      assert.match(refused.json.detail, /Missing CSRF token/);
      assert.deepEqual((await visitor.get('/state')).json.cart, [['starter', 1]]);
    });

    it('refuses a wrong CSRF token', async () => {
      const { visitor } = await guest();
      const refused = await visitor.post('/cart/add', { form: { sku: 'x', _csrf: 'forged' } });
      assert.equal(refused.status, 403);
      assert.equal(refused.json.reason, 'token');
    });

    it('accepts the CSRF token as a form field or as the Tessera-CSRF header', async () => {
      const { visitor, csrfToken } = await guest();
      assert.equal((await visitor.post('/cart/add', { form: { sku: 'form', _csrf: csrfToken } })).status, 200);
      assert.equal((await visitor.post('/cart/add', { json: { sku: 'fetch' }, headers: { 'tessera-csrf': csrfToken } })).status, 200);
      assert.deepEqual((await visitor.get('/state')).json.cart, [['starter', 1], ['form', 1], ['fetch', 1]]);
    });

    const crossSite: [string, Record<string, string>][] = [
      ['an Origin of another site', { origin: 'https://evil.example' }],
      ['another port of the same host', { origin: 'http://127.0.0.1:1' }],
      ['an opaque Origin', { origin: 'null' }],
      ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
      ['Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site' }],
    ];
    for (const [name, headers] of crossSite) {
      it(`refuses ${name}, even with a valid CSRF token`, async () => {
        const { visitor, csrfToken } = await guest();
        const refused = await visitor.post('/cart/add', { form: { sku: 'x', _csrf: csrfToken }, headers });
        assert.equal(refused.status, 403);
        assert.equal(refused.json.reason, 'cross-site');
      });
    }

    it('refuses a cross-site request that has no session either (login CSRF)', async () => {
      const visitor = new Visitor(app.url);
      const refused = await visitor.post('/signin', { form: { userId: 'victim' }, headers: { origin: 'https://evil.example' } });
      assert.equal(refused.status, 403);
      assert.equal(visitor.cookies.size, 0);
    });

    it('accepts its own Origin, a trusted origin, and same-origin fetch metadata', async () => {
      const { visitor, csrfToken } = await guest();
      const cases: Record<string, string>[] = [{ origin: app.url }, { origin: TRUSTED }, { 'sec-fetch-site': 'same-origin', origin: app.url }];
      for (const headers of cases) {
        const ok = await visitor.post('/cart/add', { form: { sku: 'ok', _csrf: csrfToken }, headers });
        assert.equal(ok.status, 200, `${JSON.stringify(headers)}: ${ok.text}`);
      }
    });

    it('records views and patches preferences, creating a guest lazily', async () => {
      const visitor = new Visitor(app.url);
      const viewed = await visitor.post('/view', { form: { productId: 'p1' } });
      assert.equal(viewed.status, 200, viewed.text);
      const csrfToken = viewed.json.state.csrfToken;
      await visitor.post('/view', { form: { productId: 'p2', _csrf: csrfToken } });
      await visitor.post('/prefs', { form: { key: 'currency', value: 'EUR', _csrf: csrfToken } });
      const page = await visitor.get('/state');
      assert.deepEqual(page.json.history, ['p2', 'p1']);
      assert.deepEqual(page.json.prefs, { currency: 'EUR' });
    });

    it('signs in with a fresh token, merging the guest cart and retiring the guest token', async () => {
      const { visitor, csrfToken } = await guest();
      const guestCookie = visitor.cookies.get(COOKIE)!;
      const signedIn = await visitor.post('/signin', { form: { userId: `${framework}-alice`, _csrf: csrfToken } });
      assert.equal(signedIn.status, 200, signedIn.text);
      assert.equal(signedIn.json.state.userId, `${framework}-alice`);
      assert.deepEqual(signedIn.json.state.cart, [['starter', 1]]);
      assert.notEqual(visitor.cookies.get(COOKIE), guestCookie, 'the cookie carries a new token');
      assert.notEqual(signedIn.json.state.csrfToken, csrfToken);
      const guestToken = decodeURIComponent(guestCookie).split('~')[0]!;
      assert.equal(await tessera.validateSession(guestToken), null, 'the guest token stopped working');
      assert.equal((await visitor.get('/state')).json.userId, `${framework}-alice`);
    });

    // Regression (issue 15, defect 5): signing in again used to rotate, leaving the old token valid for the grace window.
    it('ends the old token at once when the same user signs in again on this device (ASVS 7.2.4)', async () => {
      const user = `${framework}-reauth`;
      const visitor = new Visitor(app.url);
      const first = await visitor.post('/signin', { form: { userId: user } });
      assert.equal(first.status, 200, first.text);
      await visitor.post('/cart/add', { form: { sku: 'kept', _csrf: first.json.state.csrfToken } });
      const oldToken = decodeURIComponent(visitor.cookies.get(COOKIE)!).split('~')[0]!;

      const again = await visitor.post('/signin', { form: { userId: user, _csrf: first.json.state.csrfToken } });
      assert.equal(again.status, 200, again.text);
      const newToken = decodeURIComponent(visitor.cookies.get(COOKIE)!).split('~')[0]!;
      assert.notEqual(newToken, oldToken);
      assert.notEqual(again.json.state.csrfToken, first.json.state.csrfToken, 'a new CSRF token too');
      // Over HTTP, straight away (well inside the default 30 s rotation grace window).
      const oldAnswer = await fetch(`${server.url}/v1/session`, { headers: { authorization: `Bearer ${APP_KEY}`, 'tessera-token': oldToken } });
      assert.equal(oldAnswer.status, 401, 'the old token is ended at once');
      // Presenting the old token is not theft: the new one keeps working, in the same session with the same cart.
      const page = await visitor.get('/state');
      assert.equal(page.json.userId, user);
      assert.deepEqual(page.json.cart, [['kept', 1]]);
      assert.equal(page.json.csrf, 'valid');
      const view = await tessera.validateSession(newToken, { parts: ['devices'] });
      assert.ok(view !== null, 'the new token works');
      assert.equal(view.session.id, first.json.result.id, 'the same session');
      assert.equal(view.devices.length, 1, 'the old device entry is gone, not piled up');
    });

    it('shows a second device the same cart and lets it revoke the first, which is then signed out', async () => {
      const user = `${framework}-bob`;
      const phone = new Visitor(app.url, 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Mobile/15E148 Safari/604.1');
      const phoneCsrf = (await phone.post('/cart/add', { form: { sku: 'shoes' } })).json.state.csrfToken;
      const phoneIn = await phone.post('/signin', { form: { userId: user, _csrf: phoneCsrf } });
      const phoneDevice = phoneIn.json.state.deviceId;
      await nextMillisecond(); // devices are listed oldest first

      const laptop = new Visitor(app.url);
      const laptopIn = await laptop.post('/signin', { form: { userId: user } });
      assert.deepEqual(laptopIn.json.state.cart, [['shoes', 1]]);
      const devices = (await laptop.get('/devices')).json as { id: string; name: string; kind: string; current: boolean }[];
      assert.deepEqual(devices.map((d) => [d.name, d.kind, d.current]), [['Safari on iOS', 'mobile', false], ['Chrome on Linux', 'desktop', true]]);

      const revoked = await laptop.post('/devices/revoke', { form: { deviceId: phoneDevice, _csrf: laptopIn.json.state.csrfToken } });
      assert.equal(revoked.status, 200, revoked.text);
      const phonePage = await phone.get('/state');
      assert.equal(phonePage.json.exists, false);
      assert.ok(phonePage.setCookies.some((c) => c.startsWith(`${COOKIE}=;`) && /max-age=0/i.test(c)), 'clears the dead cookie');
      assert.equal(phone.cookies.has(COOKIE), false);
    });

    it('rotates the token on demand, keeping the session and a valid CSRF token', async () => {
      const { visitor, csrfToken } = await guest();
      const before = visitor.cookies.get(COOKIE);
      const rotated = await visitor.post('/rotate', { form: { _csrf: csrfToken } });
      assert.equal(rotated.status, 200, rotated.text);
      assert.notEqual(visitor.cookies.get(COOKIE), before);
      const page = await visitor.get('/state');
      assert.deepEqual(page.json.cart, [['starter', 1]]);
      assert.equal(page.json.csrf, 'valid');
    });

    it('logs out this device, clearing the cookie', async () => {
      const { visitor, csrfToken } = await guest();
      const token = decodeURIComponent(visitor.cookies.get(COOKIE)!).split('~')[0]!;
      assert.equal((await visitor.post('/logout', { form: { _csrf: csrfToken } })).status, 200);
      assert.equal(visitor.cookies.has(COOKIE), false);
      assert.equal(await tessera.validateSession(token), null);
    });

    it('logs out every other device, keeping this visitor signed in (ASVS 7.4.3)', async () => {
      const user = `${framework}-dave`;
      const a = new Visitor(app.url);
      const b = new Visitor(app.url);
      const c = new Visitor(app.url);
      await a.post('/signin', { form: { userId: user } });
      const bIn = await b.post('/signin', { form: { userId: user } });
      await c.post('/signin', { form: { userId: user } });
      const done = await b.post('/logout-others', { form: { _csrf: bIn.json.state.csrfToken } });
      assert.equal(done.status, 200, done.text);
      assert.deepEqual(done.setCookies, [], 'this visitor keeps its cookie');
      assert.equal((await a.get('/state')).json.exists, false);
      assert.equal((await c.get('/state')).json.exists, false);
      const page = await b.get('/state');
      assert.equal(page.json.userId, user);
      const devices = (await b.get('/devices')).json as { current: boolean }[];
      assert.deepEqual(devices.map((d) => d.current), [true]);
    });

    it('logs out every device', async () => {
      const user = `${framework}-carol`;
      const a = new Visitor(app.url);
      const b = new Visitor(app.url);
      const aIn = await a.post('/signin', { form: { userId: user } });
      await b.post('/signin', { form: { userId: user } });
      assert.equal((await a.post('/logout-everywhere', { form: { _csrf: aIn.json.state.csrfToken } })).status, 200);
      assert.equal((await b.get('/state')).json.exists, false);
    });

    const maxAgeOf = (line: string | undefined) => /max-age=(\d+)/i.exec(line ?? '')?.[1];

    it('remembers a sign-in with "remember me" ticked; without, the cookie ends with the browser (no Max-Age), rotation included', async () => {
      const remembered = new Visitor(app.url);
      const kept = await remembered.post('/signin', { form: { userId: `${framework}-remember`, remember: 'yes' } });
      assert.equal(maxAgeOf(kept.setCookies.find((c) => c.startsWith(`${COOKIE}=`))), '34560000');
      assert.equal(kept.json.state.persistent, true);
      const brief = new Visitor(app.url);
      const signedIn = await brief.post('/signin', { form: { userId: `${framework}-brief`, remember: 'no' } });
      const line = signedIn.setCookies.find((c) => c.startsWith(`${COOKIE}=`));
      assert.ok(line && maxAgeOf(line) === undefined && !/expires=/i.test(line), `a session cookie: ${line}`);
      assert.equal(signedIn.json.state.persistent, false);
      const rotated = await brief.post('/rotate', { form: { _csrf: signedIn.json.state.csrfToken } });
      assert.equal(maxAgeOf(rotated.setCookies.find((c) => c.startsWith(`${COOKIE}=`))), undefined, 'a rotation keeps it a session cookie');
      assert.equal((await brief.get('/state')).json.persistent, false);
    });

    it('requireFreshAuth lets a fresh sign-in through, refuses it once older than the limit, and again after reauthenticate', async () => {
      const visitor = new Visitor(app.url);
      assert.deepEqual((await visitor.get('/fresh')).json, { code: 'reauthentication-required', reason: 'signed-out' });
      const signedIn = await visitor.post('/signin', { form: { userId: `${framework}-fresh`, authLevel: 'pwd' } });
      assert.equal((await visitor.get('/fresh')).status, 200);
      await sleep(1_100); // past the route's one-second limit
      const stale = await visitor.get('/fresh');
      assert.deepEqual([stale.status, stale.json], [401, { code: 'reauthentication-required', reason: 'stale' }]);
      const stepped = await visitor.post('/reauthenticate', { form: { _csrf: signedIn.json.state.csrfToken, authLevel: 'pwd' } });
      assert.equal(stepped.status, 200, stepped.text);
      assert.ok(Date.parse(stepped.json.state.authenticatedAt) > Date.parse(signedIn.json.state.authenticatedAt));
      assert.equal((await visitor.get('/fresh')).status, 200, 'fresh again, with the new cookie');
    });

    it('requireLevel refuses a guest and a password sign-in, and lets a one-time-code step-up through', async () => {
      const { visitor: guestVisitor } = await guest();
      assert.deepEqual((await guestVisitor.get('/strong')).json, { code: 'reauthentication-required', reason: 'signed-out' });
      const visitor = new Visitor(app.url);
      const signedIn = await visitor.post('/signin', { form: { userId: `${framework}-level`, authLevel: 'pwd' } });
      assert.equal(signedIn.json.state.authLevel, 'pwd');
      assert.deepEqual((await visitor.get('/strong')).json, { code: 'reauthentication-required', reason: 'level' });
      const stepped = await visitor.post('/reauthenticate', { form: { _csrf: signedIn.json.state.csrfToken, authLevel: 'otp' } });
      assert.equal(stepped.json.state.authLevel, 'otp');
      assert.deepEqual((await visitor.get('/strong')).json, { ok: true });
    });

    it('tells Tessera where the visitor is: the country header at sign-in, the address and country as where the device was last seen', async () => {
      const visitor = new Visitor(app.url);
      await visitor.post('/signin', { form: { userId: `${framework}-geo-${Math.random()}` }, headers: { 'x-geo-country': 'NL' } });
      const [device] = (await visitor.get('/devices', { 'x-geo-country': 'be' })).json;
      assert.equal(device.country, 'NL');
      assert.equal(device.ip, '127.0.0.0', 'the address, truncated to its /24');
      assert.deepEqual([device.browser.name, device.os.name], ['Chrome', 'Linux']);
      // An unreadable country header is left out rather than failing the request.
      assert.equal((await visitor.get('/state', { 'x-geo-country': 'T1' })).status, 200);
    });
  });
}

describe('middleware options', () => {
  it('refuses the __Host- prefix without Secure, naming the option', () => {
    assert.throws(() => tesseraSession({ client: tessera, secure: false, cookieName: '__Host-x' }), /__Host- prefix.*secure: true/);
  });

  it('uses a plain "tessera" cookie without Secure for plain-HTTP development', async () => {
    const app = await startExpressApp(tessera, { secure: false });
    try {
      const visitor = new Visitor(app.url);
      const added = await visitor.post('/cart/add', { form: { sku: 'a' } });
      const line = added.setCookies.find((c) => c.startsWith('tessera='));
      assert.ok(line);
      assert.doesNotMatch(line, /secure/i);
      assert.deepEqual((await visitor.get('/state')).json.cart, [['a', 1]]);
    } finally {
      await app.close();
    }
  });

  it('leaves req.session to express-session when both run (a migration bridge)', async () => {
    const app = express();
    app.use(expressSession({ secret: 'bridge-test-secret', resave: false, saveUninitialized: false }));
    app.use(tesseraSession({ client: tessera }));
    app.get('/', (req, res) => {
      res.json({ expressSession: typeof req.session.regenerate === 'function', tessera: req.tessera.exists });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const page = await new Visitor(`http://127.0.0.1:${(server.address() as AddressInfo).port}`).get('/');
      assert.deepEqual(page.json, { expressSession: true, tessera: false });
    } finally {
      server.close();
    }
  });
});
