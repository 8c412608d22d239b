/** Every API v1 operation through the SDK, against a real Tessera process. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CsrfMismatchError,
  ForbiddenError,
  InvalidApiKeyError,
  InvalidTokenError,
  NotFoundError,
  TesseraClient,
  TesseraError,
  ValidationError,
  VersionMismatchError,
} from '../src/index.js';
import { nextMillisecond } from '../../test/support/clock.js';
import { ADMIN_KEY, APP_KEY, startTesseraProcess, type TesseraProcess } from './support/tessera-process.js';

let server: TesseraProcess;
let tessera: TesseraClient;
let admin: TesseraClient;

before(async () => {
  server = await startTesseraProcess();
  tessera = new TesseraClient({ endpoints: server.url, apiKey: APP_KEY });
  admin = new TesseraClient({ endpoints: server.url, apiKey: ADMIN_KEY });
});

after(async () => {
  await Promise.all([tessera?.close(), admin?.close()]);
  await server?.close();
});

describe('TesseraClient against a real Tessera', () => {
  it('reports health and readiness', async () => {
    assert.equal(await tessera.health(), true);
    assert.equal(await tessera.ready(), true);
  });

  it('creates a guest session and reads it back with every part', async () => {
    const guest = await tessera.createSession({ device: { name: 'Test phone', kind: 'mobile' } });
    assert.match(guest.token, /^tss1_/);
    assert.equal(guest.session.userId, null);
    const view = await tessera.getSession(guest.token, { parts: ['cart', 'prefs', 'history', 'devices'], csrfToken: guest.csrfToken });
    assert.equal(view.session.id, guest.session.id);
    assert.deepEqual(view.cart.items, []);
    assert.deepEqual(view.prefs, {});
    assert.deepEqual(view.history.items, []);
    assert.equal(view.devices.length, 1);
    assert.equal(view.devices[0]!.name, 'Test phone');
    assert.equal(view.devices[0]!.current, true);
    assert.equal(view.csrf, 'valid');
    assert.ok(view.versions.cart);
  });

  it('signs in transient, with a level; lists device details; steps up; sends where the visitor is', async () => {
    const userId = `sdk-details-${Math.random()}`;
    const signedIn = await tessera.signIn(userId, {
      device: { name: 'Work laptop', userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15', ip: '198.51.100.23', country: 'FR' },
      persistent: false,
      authLevel: 'pwd',
    });
    assert.deepEqual([signedIn.session.persistent, signedIn.session.authLevel], [false, 'pwd']);
    const { devices } = await tessera.listDevices(signedIn.token, { client: { ip: '203.0.113.9', country: 'BE' } });
    assert.deepEqual(
      [devices[0]!.browser?.name, devices[0]!.os?.name, devices[0]!.platform, devices[0]!.ip, devices[0]!.country, devices[0]!.persistent],
      ['Safari', 'macOS', 'desktop', '198.51.100.0', 'FR', false],
    );
    const stepped = await tessera.reauthenticate(signedIn.token, { authLevel: 'webauthn' });
    assert.notEqual(stepped.token, signedIn.token);
    assert.equal(stepped.session.authLevel, 'webauthn');
    assert.ok(Date.parse(stepped.session.authenticatedAt!) >= Date.parse(signedIn.session.authenticatedAt!));
    await assert.rejects(tessera.getSession(stepped.token, { client: { ip: 'not-an-ip' } }), ValidationError);
  });

  it('exports and erases a user’s data (users scope)', async () => {
    const userId = `sdk-gdpr-${Math.random()}`;
    const signedIn = await tessera.signIn(userId, { device: { name: 'phone' } });
    await tessera.addToCart(signedIn.token, { sku: 'GDPR-1' });
    const exported = await admin.exportUser(userId);
    assert.deepEqual(exported.sessions.map((s) => [s.id, s.state, s.cart.items[0]?.sku, s.devices[0]?.name]), [[signedIn.session.id, 'live', 'GDPR-1', 'phone']]);
    await assert.rejects(tessera.exportUser(userId), ForbiddenError);
    assert.equal(await admin.eraseUser(userId), 1);
    assert.deepEqual((await admin.exportUser(userId)).sessions, []);
    await assert.rejects(tessera.getSession(signedIn.token), InvalidTokenError);
    assert.equal(await admin.eraseUser(userId), 0);
  });

  it('reports the CSRF verdict for a wrong or missing token', async () => {
    const guest = await tessera.createSession();
    assert.equal((await tessera.getSession(guest.token, { csrfToken: 'nope' })).csrf, 'invalid');
    assert.equal((await tessera.getSession(guest.token)).csrf, 'absent');
  });

  it('adds, sets, removes and clears cart lines, returning versions', async () => {
    const { token } = await tessera.createSession();
    let cart = await tessera.addToCart(token, { sku: 'mug', quantity: 2, attributes: { colour: 'blue' } });
    cart = await tessera.addToCart(token, { sku: 'mug' });
    cart = await tessera.addToCart(token, { sku: 'tee' });
    assert.deepEqual(cart.items.map((i) => [i.sku, i.quantity]), [['mug', 3], ['tee', 1]]);
    assert.deepEqual(cart.items[0]!.attributes, { colour: 'blue' });
    cart = await tessera.setCartItem(token, { sku: 'tee', quantity: 5 });
    assert.equal(cart.items[1]!.quantity, 5);
    cart = await tessera.removeFromCart(token, 'mug');
    assert.deepEqual(cart.items.map((i) => i.sku), ['tee']);
    const read = await tessera.getCart(token);
    assert.equal(read.version, cart.version);
    cart = await tessera.clearCart(token);
    assert.deepEqual(cart.items, []);
  });

  it('writes with ifMatch only while the version is current', async () => {
    const { token } = await tessera.createSession();
    const first = await tessera.addToCart(token, { sku: 'a' });
    const second = await tessera.setCartItem(token, { sku: 'a', quantity: 4 }, { ifMatch: first.version });
    await assert.rejects(tessera.setCartItem(token, { sku: 'a', quantity: 9 }, { ifMatch: first.version }), (error: unknown) => {
      assert.ok(error instanceof VersionMismatchError);
      assert.equal(error.status, 412);
      assert.equal(error.code, 'version-mismatch');
      assert.equal(error.type, '/problems/version-mismatch');
      return true;
    });
    assert.equal((await tessera.getCart(token)).items[0]!.quantity, 4);
    assert.equal((await tessera.getCart(token)).version, second.version);
  });

  it("asked for { return: 'minimal' }, each change resolves to the part's new version alone, usable as ifMatch", async () => {
    const { token } = await tessera.createSession();
    const minimal = { return: 'minimal' } as const;
    const added = await tessera.addToCart(token, { sku: 'mug', quantity: 2 }, minimal);
    assert.deepEqual(Object.keys(added), ['version']);
    assert.equal(added.version, (await tessera.getCart(token)).version);
    const set = await tessera.setCartItem(token, { sku: 'mug', quantity: 5 }, { ...minimal, ifMatch: added.version });
    assert.notEqual(set.version, added.version);
    await assert.rejects(tessera.setCartItem(token, { sku: 'mug', quantity: 9 }, { ...minimal, ifMatch: added.version }), VersionMismatchError);
    const cart = await tessera.getCart(token);
    assert.deepEqual(cart.items.map((i) => [i.sku, i.quantity]), [['mug', 5]]);
    assert.equal(cart.version, set.version);
    await tessera.addToCart(token, { sku: 'tee' }, minimal);
    const removed = await tessera.removeFromCart(token, 'mug', minimal);
    assert.equal(removed.version, (await tessera.getCart(token)).version);
    const cleared = await tessera.clearCart(token, minimal);
    assert.deepEqual((await tessera.getCart(token)).items, []);
    assert.equal(cleared.version, (await tessera.getCart(token)).version);
    const prefs = await tessera.patchPrefs(token, { currency: 'EUR' }, minimal);
    assert.deepEqual(await tessera.getPrefs(token), { prefs: { currency: 'EUR' }, version: prefs.version });
    const viewed = await tessera.recordView(token, 'p1', minimal);
    const history = await tessera.getHistory(token);
    assert.deepEqual(history.items.map((i) => i.productId), ['p1']);
    assert.equal(history.version, viewed.version);
  });

  it('merge-patches preferences and deletes keys with null', async () => {
    const { token } = await tessera.createSession();
    await tessera.patchPrefs(token, { currency: 'EUR', theme: 'dark', nested: { a: 1, b: 2 } });
    const prefs = await tessera.patchPrefs(token, { theme: null, nested: { b: null } });
    assert.deepEqual(prefs.prefs, { currency: 'EUR', nested: { a: 1 } });
    const read = await tessera.getPrefs(token);
    assert.deepEqual(read.prefs, prefs.prefs);
    assert.equal(read.version, prefs.version);
  });

  it('records views newest first, one entry per product', async () => {
    const { token } = await tessera.createSession();
    await tessera.recordView(token, { productId: 'p1', viewedAt: '2026-01-01T00:00:00Z' });
    await tessera.recordView(token, { productId: 'p2', viewedAt: '2026-01-02T00:00:00Z' });
    const history = await tessera.recordView(token, { productId: 'p1', viewedAt: new Date('2026-01-03T00:00:00Z') });
    assert.deepEqual(history.items.map((i) => i.productId), ['p1', 'p2']);
    assert.deepEqual((await tessera.getHistory(token)).items.map((i) => i.productId), ['p1', 'p2']);
  });

  it('signs in with a guest token: the cart merges and the guest token stops working', async () => {
    const guest = await tessera.createSession();
    await tessera.addToCart(guest.token, { sku: 'merge-me', quantity: 2 });
    await tessera.recordView(guest.token, 'seen');
    const user = await tessera.signIn('merge-user', { guestToken: guest.token, device: { name: 'Laptop' } });
    assert.equal(user.session.userId, 'merge-user');
    assert.deepEqual((await tessera.getCart(user.token)).items.map((i) => [i.sku, i.quantity]), [['merge-me', 2]]);
    assert.deepEqual((await tessera.getHistory(user.token)).items.map((i) => i.productId), ['seen']);
    await assert.rejects(tessera.getCart(guest.token), InvalidTokenError);
    assert.equal(await tessera.validateSession(guest.token), null);
  });

  it('ignores a lapsed guest token at sign-in', async () => {
    const guest = await tessera.createSession();
    await tessera.logout(guest.token);
    const user = await tessera.signIn('lapsed-guest-user', { guestToken: guest.token });
    assert.equal(user.session.userId, 'lapsed-guest-user');
  });

  it('shares one session between the devices of a user, each with its own token', async () => {
    const phone = await tessera.signIn('two-devices', { device: { name: 'Phone' } });
    await nextMillisecond(); // devices are listed oldest first
    const laptop = await tessera.signIn('two-devices', { device: { name: 'Laptop' } });
    assert.equal(phone.session.id, laptop.session.id);
    assert.notEqual(phone.session.deviceId, laptop.session.deviceId);
    await tessera.addToCart(phone.token, { sku: 'shared' });
    assert.deepEqual((await tessera.getCart(laptop.token)).items.map((i) => i.sku), ['shared']);
    const { devices, version } = await tessera.listDevices(laptop.token);
    assert.deepEqual(devices.map((d) => [d.name, d.current]), [['Phone', false], ['Laptop', true]]);
    assert.ok(version);
  });

  it('revokes one device, leaving the others signed in', async () => {
    const phone = await tessera.signIn('revoker', { device: { name: 'Phone' } });
    const laptop = await tessera.signIn('revoker', { device: { name: 'Laptop' } });
    await tessera.revokeDevice(laptop.token, phone.session.deviceId);
    await assert.rejects(tessera.getCart(phone.token), InvalidTokenError);
    assert.deepEqual((await tessera.listDevices(laptop.token)).devices.map((d) => d.name), ['Laptop']);
    await assert.rejects(tessera.revokeDevice(laptop.token, 'no-such-device'), NotFoundError);
  });

  it('rotates: the new token works and carries a CSRF token', async () => {
    const first = await tessera.createSession();
    const rotated = await tessera.rotate(first.token);
    assert.notEqual(rotated.token, first.token);
    assert.equal(rotated.session.id, first.session.id);
    assert.equal((await tessera.getSession(rotated.token, { csrfToken: rotated.csrfToken })).csrf, 'valid');
  });

  it('treats a token two rotations old as stolen when it is read with: the device is signed out, its newest token too', async () => {
    const first = await tessera.createSession();
    const second = await tessera.rotate(first.token);
    const third = await tessera.rotate(second.token);
    assert.deepEqual((await tessera.getCart(third.token)).items, []);
    await assert.rejects(tessera.getCart(first.token), InvalidTokenError);
    await assert.rejects(tessera.getCart(third.token), InvalidTokenError, 'reuse of a retired token revokes the device');
    assert.equal(await tessera.validateSession(third.token), null);
  });

  it('refuses a mutation whose CSRF token is wrong and writes nothing', async () => {
    const guest = await tessera.createSession();
    await assert.rejects(tessera.addToCart(guest.token, { sku: 'x' }, { csrfToken: 'forged' }), CsrfMismatchError);
    assert.deepEqual((await tessera.getCart(guest.token)).items, []);
    await tessera.addToCart(guest.token, { sku: 'x' }, { csrfToken: guest.csrfToken });
  });

  it('logs out one device, and everywhere; logout of a dead token is a no-op', async () => {
    const a = await tessera.signIn('leaver');
    const b = await tessera.signIn('leaver');
    const c = await tessera.signIn('leaver');
    await tessera.logout(a.token);
    await tessera.logout(a.token);
    await assert.rejects(tessera.getSession(a.token), InvalidTokenError);
    assert.ok(await tessera.validateSession(b.token));
    await tessera.logoutEverywhere(b.token);
    assert.equal(await tessera.validateSession(b.token), null);
    assert.equal(await tessera.validateSession(c.token), null);
  });

  it('logs out every other device, keeping this one and the session (ASVS 7.4.3)', async () => {
    const phone = await tessera.signIn('password-changer', { device: { name: 'Phone' } });
    const laptop = await tessera.signIn('password-changer', { device: { name: 'Laptop' } });
    const tablet = await tessera.signIn('password-changer', { device: { name: 'Tablet' } });
    await tessera.addToCart(phone.token, { sku: 'kept' });
    await assert.rejects(tessera.logoutOtherDevices(laptop.token, { csrfToken: phone.csrfToken }), CsrfMismatchError);
    assert.ok(await tessera.validateSession(phone.token), 'a refused call logs nobody out');
    await tessera.logoutOtherDevices(laptop.token, { csrfToken: laptop.csrfToken });
    assert.equal(await tessera.validateSession(phone.token), null);
    assert.equal(await tessera.validateSession(tablet.token), null);
    const view = await tessera.getSession(laptop.token, { parts: ['cart', 'devices'] });
    assert.deepEqual(view.devices.map((d) => [d.name, d.current]), [['Laptop', true]]);
    assert.deepEqual(view.cart.items.map((i) => i.sku), ['kept']);
    await tessera.logoutOtherDevices(laptop.token); // nothing left to end: still fine
    await assert.rejects(tessera.logoutOtherDevices(phone.token), InvalidTokenError);
  });

  it('lets an admin key list and log out a user’s devices, and refuses an ordinary key', async () => {
    const phone = await tessera.signIn('support-case', { device: { name: 'Phone' } });
    await tessera.signIn('support-case', { device: { name: 'Laptop' } });
    const listed = await admin.getUserDevices('support-case');
    assert.equal(listed.sessionId, phone.session.id);
    // Two sign-ins may share a millisecond, and then their order is the ids' order: compare as a set.
    assert.deepEqual(listed.devices.map((d) => d.name).sort(), ['Laptop', 'Phone']);
    await assert.rejects(tessera.getUserDevices('support-case'), ForbiddenError);
    await admin.logoutUser('support-case');
    assert.equal(await tessera.validateSession(phone.token), null);
    await assert.rejects(admin.getUserDevices('support-case'), NotFoundError);
  });

  it('throws typed errors carrying the problem document', async () => {
    const { token } = await tessera.createSession();
    await assert.rejects(tessera.addToCart(token, { sku: 'x', quantity: 0 }), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.ok(error instanceof TesseraError);
      assert.equal(error.status, 400);
      assert.ok(error.detail.length > 0);
      return true;
    });
    await assert.rejects(tessera.getCart('tss1_not-a-token'), InvalidTokenError);
    const anonymous = new TesseraClient({ endpoints: server.url, apiKey: 'wrong-key-0123456789' });
    await assert.rejects(anonymous.createSession(), InvalidApiKeyError);
    await anonymous.close();
  });

  it('types the parts a read asked for', async () => {
    const { token } = await tessera.createSession();
    const view = await tessera.getSession(token, { parts: ['cart'] });
    const items: unknown[] = view.cart.items; // compiles only because 'cart' was asked for
    assert.deepEqual(items, []);
    assert.equal(view.prefs, undefined);
  });
});
