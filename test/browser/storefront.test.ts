/**
 * The storefront in a real Chromium: two browser contexts play a phone and a
 * laptop of one shopper. Everything runs for real: Tessera as a process, the
 * demo shop on the Express middleware, and an attacker page on other origins.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { TesseraClient } from '../../client/src/index.js';
import { APP_KEY, startTesseraProcess, type TesseraProcess } from '../../client/test/support/tessera-process.js';
import { formatPrice, PRODUCTS } from '../../demo/catalog.js';
import { createShop } from '../../demo/shop.js';

const CHROMIUM = '/usr/bin/chromium';
const COOKIE = '__Host-tessera';
const PHONE_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

let tessera: TesseraProcess;
let client: TesseraClient;
let shopServer: Server;
let attackerServer: Server;
let shop: string;
let attackerPort: number;
let browser: Browser;
let phone: BrowserContext;
let laptop: BrowserContext;

function listen(server: Server): Promise<number> {
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done((server.address() as AddressInfo).port)));
}

before(async () => {
  tessera = await startTesseraProcess();
  client = new TesseraClient({ endpoints: tessera.url, apiKey: APP_KEY });
  // Signing out other devices needs a sign-in or confirmation from the last second (a short limit, for the test).
  shopServer = createServer(createShop({ client, freshAuthSeconds: 1 }));
  // localhost is a secure context for Chromium: the __Host- cookie (Secure) works over http.
  shop = `http://localhost:${await listen(shopServer)}`;
  attackerServer = createServer((_req, res) => {
    // An attacker's page that posts a form to the shop as soon as it loads.
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><title>Win a prize</title>
      <form id="f" method="post" action="${shop}/cart/add"><input name="sku" value="bag-canvas"></form>
      <script>document.getElementById('f').submit()</script>`);
  });
  attackerPort = await listen(attackerServer);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  phone = await browser.newContext({ userAgent: PHONE_UA, viewport: { width: 390, height: 844 }, isMobile: true });
  laptop = await browser.newContext({ viewport: { width: 1280, height: 900 } });
});

after(async () => {
  await browser?.close();
  await new Promise((done) => attackerServer?.close(done));
  shopServer?.closeAllConnections();
  await new Promise((done) => shopServer?.close(done));
  await client?.close();
  await tessera?.close();
});

async function cartCount(page: Page): Promise<number> {
  return Number(await page.getByTestId('cart-count').textContent());
}

/** Waits for the cart badge, which the page's script updates after an enhanced add. */
function waitForCartCount(page: Page, count: number): Promise<unknown> {
  return page.waitForFunction(`document.querySelector('[data-testid="cart-count"]')?.textContent === '${count}'`);
}

/** The page is as wide as the screen: nothing sticks out sideways, so nothing needs a sideways scroll. */
async function assertFits(page: Page, width: number, what: string): Promise<void> {
  const [layout, content] = (await page.evaluate('[window.innerWidth, document.documentElement.scrollWidth]')) as [number, number];
  assert.equal(layout, width, `${what}: the layout viewport is the screen (a wider page makes a phone zoom out)`);
  assert.ok(content <= width, `${what}: ${content} px of content on a ${width} px screen`);
}

/** Rendered, and horizontally inside the screen. */
async function assertOnScreen(locator: Locator, width: number, what: string): Promise<void> {
  const box = await locator.boundingBox();
  assert.ok(box, `${what}: not rendered`);
  assert.ok(box.x >= 0 && box.x + box.width <= width, `${what}: from ${box.x} to ${box.x + box.width} px on a ${width} px screen`);
}

describe('storefront in Chromium', { skip: !existsSync(CHROMIUM) && `no browser at ${CHROMIUM}` }, () => {
  let phonePage: Page;
  let laptopPage: Page;

  it('lets a guest on the phone add to the cart and browse', async () => {
    phonePage = await phone.newPage();
    await phonePage.goto(`${shop}/products/shoe-runner`);
    await phonePage.getByTestId('add-shoe-runner').click();
    await waitForCartCount(phonePage, 1);
    await phonePage.goto(`${shop}/`);
    await phonePage.getByTestId('add-mug-ceramic').click(); // enhanced: fetch with the Tessera-CSRF header
    await waitForCartCount(phonePage, 2);
    await phonePage.reload();
    assert.equal(await cartCount(phonePage), 2);
    assert.equal(await phonePage.getByTestId('guest').count(), 1);
  });

  it('keeps the session cookie out of page scripts: HttpOnly, Secure, SameSite=Lax, host-only, Path=/', async () => {
    const cookies = await phone.cookies(shop);
    const session = cookies.find((c) => c.name === COOKIE);
    assert.ok(session, `cookies: ${cookies.map((c) => c.name).join(', ')}`);
    assert.equal(session.httpOnly, true);
    assert.equal(session.secure, true, 'Chromium accepted a Secure cookie from http://localhost');
    assert.equal(session.sameSite, 'Lax');
    assert.equal(session.path, '/');
    assert.equal(session.domain, 'localhost', 'host-only: no Domain attribute');
    const visible = String(await phonePage.evaluate('document.cookie')); // (a string: no DOM types here)
    assert.ok(!visible.includes(COOKIE), `document.cookie = ${JSON.stringify(visible)}`);
    assert.ok(!visible.includes('tss1_'));
  });

  it('signs in on the phone without "remember me", keeping the guest cart, with a new token in a browser-session cookie', async () => {
    const before = (await phone.cookies(shop)).find((c) => c.name === COOKIE)!;
    assert.ok(before.expires > Date.now() / 1000, 'a guest cart is remembered');
    await phonePage.goto(`${shop}/signin`);
    await phonePage.getByTestId('user-id').fill('dana');
    await phonePage.getByTestId('remember-me').uncheck();
    await phonePage.getByTestId('sign-in').click();
    await phonePage.waitForURL(`${shop}/?welcome=1`);
    assert.equal(await phonePage.getByTestId('user').textContent(), 'dana');
    assert.equal(await cartCount(phonePage), 2);
    const afterSignIn = (await phone.cookies(shop)).find((c) => c.name === COOKIE)!;
    assert.notEqual(afterSignIn.value, before.value, 'token rotated at sign-in');
    assert.equal(afterSignIn.expires, -1, 'a session cookie: it ends with the browser');
  });

  it('shows the laptop the same cart and history after signing in there', async () => {
    laptopPage = await laptop.newPage();
    await laptopPage.goto(`${shop}/signin`);
    await laptopPage.getByTestId('user-id').fill('dana');
    await laptopPage.getByTestId('sign-in').click();
    await laptopPage.waitForURL(`${shop}/?welcome=1`);
    assert.equal(await cartCount(laptopPage), 2);
    assert.match((await laptopPage.getByTestId('recently-viewed').textContent()) ?? '', /Trail Runner/);
    await laptopPage.goto(`${shop}/cart`);
    assert.equal(await laptopPage.getByTestId('line-shoe-runner').count(), 1);
    assert.equal(await laptopPage.getByTestId('line-mug-ceramic').count(), 1);
  });

  it('refuses a cross-site form post from another site (127.0.0.1 → localhost)', async () => {
    const attack = await laptop.newPage();
    const refused = attack.waitForResponse((r) => r.url() === `${shop}/cart/add`);
    await attack.goto(`http://127.0.0.1:${attackerPort}/`);
    const response = await refused;
    assert.equal(response.status(), 403);
    assert.equal(response.request().headers()['origin'], `http://127.0.0.1:${attackerPort}`);
    await attack.close();
  });

  it('refuses a form post from another origin of the same site (another localhost port), which carries the cookie', async () => {
    const attack = await laptop.newPage();
    const refused = attack.waitForResponse((r) => r.url() === `${shop}/cart/add`);
    await attack.goto(`http://localhost:${attackerPort}/`);
    const response = await refused;
    assert.equal(response.status(), 403);
    await attack.getByText('Request refused', { exact: false }).first().waitFor();
    await attack.close();
    await laptopPage.goto(`${shop}/cart`);
    assert.equal(await laptopPage.getByTestId('line-bag-canvas').count(), 0, 'nothing was added');
    assert.equal(await cartCount(laptopPage), 2);
  });

  it('shows each device’s details on "my devices", and fits the phone’s 390-px screen', async () => {
    await phonePage.goto(`${shop}/account/devices`);
    const devices = phonePage.getByTestId('device');
    assert.equal(await devices.count(), 2);
    const names = (await phonePage.getByTestId('device-name').allTextContents()).map((t) => t.trim());
    assert.ok(names.includes('Safari 17.5 on iOS 17.5'), names.join(' | '));
    assert.ok(names.some((n) => /^Chrome \d+\.\d+ on Linux$/.test(n)), names.join(' | '));
    const phoneRow = devices.filter({ hasText: 'Safari 17.5 on iOS' });
    assert.equal(await phoneRow.getByTestId('this-device').count(), 1);
    assert.equal(await phoneRow.getByTestId('not-remembered').count(), 1, 'signed in without "remember me"');
    assert.equal(await devices.filter({ hasText: 'on Linux' }).getByTestId('not-remembered').count(), 0);
    // The address each signed in from, truncated to its /24.
    assert.match((await phoneRow.getByTestId('device-where').textContent()) ?? '', /from 127\.0\.0\.0/);
    assert.match((await phoneRow.getByTestId('device-times').textContent()) ?? '', /Signed in just now · last active just now · confirmed just now/);
    const overflow = await phonePage.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.equal(overflow, 0, 'nothing wider than the screen');
    mkdirSync('test-artifacts', { recursive: true });
    await phonePage.screenshot({ path: 'test-artifacts/storefront-phone-devices.png', fullPage: true });
  });

  it('lets the laptop see both devices and sign the phone out', async () => {
    await laptopPage.goto(`${shop}/account/devices`);
    const devices = laptopPage.getByTestId('device');
    assert.equal(await devices.count(), 2);
    const phoneRow = devices.filter({ hasText: 'Safari 17.5 on iOS' });
    assert.equal(await phoneRow.count(), 1);
    assert.equal(await devices.filter({ hasText: 'on Linux' }).getByTestId('this-device').count(), 1);
    await phoneRow.getByTestId('revoke').click();
    await laptopPage.waitForURL(`${shop}/account/devices?revoked=1`);
    assert.equal(await laptopPage.getByTestId('device').count(), 1);
  });

  it('shows the phone signed out after the revoke', async () => {
    await phonePage.reload();
    assert.equal(await phonePage.getByTestId('guest').count(), 1);
    assert.equal(await phonePage.getByTestId('user').count(), 0);
    assert.equal(await cartCount(phonePage), 0);
  });

  it('asks the laptop to confirm it is the shopper before signing out the other devices (step-up), then does', async () => {
    await phonePage.goto(`${shop}/signin`);
    await phonePage.getByTestId('user-id').fill('dana');
    await phonePage.getByTestId('sign-in').click();
    await phonePage.waitForURL(`${shop}/?welcome=1`);
    await laptopPage.waitForTimeout(1_100); // the laptop's sign-in is now older than the shop's one-second limit
    await laptopPage.goto(`${shop}/account/devices`);
    assert.equal(await laptopPage.getByTestId('device').count(), 2);
    await laptopPage.getByTestId('sign-out-others').click();
    await laptopPage.waitForURL(`${shop}/account/confirm?next=/account/devices`);
    await laptopPage.getByTestId('confirm').click();
    await laptopPage.waitForURL(`${shop}/account/devices?confirmed=1`);
    assert.match((await laptopPage.getByTestId('device').filter({ hasText: 'on Linux' }).getByTestId('device-times').textContent()) ?? '', /confirmed just now/);
    await laptopPage.getByTestId('sign-out-others').click();
    await laptopPage.waitForURL(`${shop}/account/devices?others=1`);
    assert.equal(await laptopPage.getByTestId('device').count(), 1);
    await phonePage.reload();
    assert.equal(await phonePage.getByTestId('guest').count(), 1, 'the phone is signed out');
  });

  it('shows a shopper products with prices, the cart count and their name, at desktop and at 390 px without sideways scrolling (screenshots in test-artifacts/)', async () => {
    // The phone was signed out from the laptop: it signs in again, and joins the same cart.
    await phonePage.goto(`${shop}/signin`);
    await phonePage.getByTestId('user-id').fill('dana');
    await phonePage.getByTestId('sign-in').click();
    await phonePage.waitForURL(`${shop}/?welcome=1`);
    await laptopPage.goto(`${shop}/products/lamp-desk`);
    mkdirSync('test-artifacts', { recursive: true });

    for (const [size, page, width] of [['desktop', laptopPage, 1280], ['phone', phonePage, 390]] as const) {
      await page.goto(`${shop}/`);
      assert.equal(await page.getByTestId('user').textContent(), 'dana', `${size}: the signed-in name`);
      await assertOnScreen(page.getByTestId('user'), width, `${size}: the name`);
      assert.equal(await cartCount(page), 2, `${size}: the cart count`);
      await assertOnScreen(page.getByTestId('cart-count'), width, `${size}: the cart count`);
      for (const product of PRODUCTS) {
        const card = page.getByTestId(`product-${product.id}`);
        const price = formatPrice(product.priceCents, 'EUR');
        assert.equal(await card.locator('.name').textContent(), product.name, `${size}: ${product.id}`);
        assert.equal(await card.locator('.price').textContent(), price, `${size}: the price of ${product.name}`);
        await assertOnScreen(card.getByTestId(`add-${product.id}`), width, `${size}: add ${product.name}`);
      }
      const viewed = (await page.getByTestId('recently-viewed').textContent()) ?? '';
      assert.match(viewed, /Desk Lamp\s*€64\.00/, `${size}: recently viewed, with its price`);
      await assertFits(page, width, `${size} home page`);
      await page.screenshot({ path: `test-artifacts/storefront-${size}.png`, fullPage: true });

      await page.goto(`${shop}/cart`);
      for (const [sku, name, price] of [['shoe-runner', 'Trail Runner', '€119.00'], ['mug-ceramic', 'Ceramic Mug', '€18.00']] as const) {
        const line = page.getByTestId(`line-${sku}`);
        const text = (await line.textContent()) ?? '';
        assert.ok(text.includes(name) && text.includes(price), `${size}: the cart line of ${name} at ${price}: ${text}`);
        assert.equal(await page.getByTestId(`qty-${sku}`).inputValue(), '1');
        await assertOnScreen(page.getByTestId(`qty-${sku}`), width, `${size}: the quantity of ${name}`);
        await assertOnScreen(line.getByRole('button', { name: 'Remove' }), width, `${size}: remove ${name}`);
      }
      assert.equal(await page.getByTestId('cart-total').textContent(), 'Total €137.00', `${size}: the total`);
      await assertOnScreen(page.getByTestId('cart-total'), width, `${size}: the total`);
      await assertFits(page, width, `${size} cart`);
      await page.screenshot({ path: `test-artifacts/storefront-${size}-cart.png`, fullPage: true });
    }
    await laptopPage.goto(`${shop}/account/devices`);
    await laptopPage.screenshot({ path: 'test-artifacts/storefront-devices.png' });
  });
});
