/** Server-rendered HTML of the storefront. Every interpolated value goes through `esc`. */
import type { CartItem, Device, HistoryItem } from '../client/src/index.js';
import { CURRENCIES, PRODUCTS, findProduct, formatPrice, type Currency, type Product } from './catalog.js';
import { productArt } from './shapes.js';

export interface PageContext {
  readonly title: string;
  readonly userId: string | null;
  readonly signedIn: boolean;
  readonly cartCount: number;
  readonly csrfToken: string;
  readonly currency: Currency;
  readonly flash?: { readonly kind: 'ok' | 'error'; readonly text: string } | undefined;
  readonly history: readonly HistoryItem[];
}

export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const csrfField = (ctx: PageContext) => `<input type="hidden" name="_csrf" value="${esc(ctx.csrfToken)}">`;

function layout(ctx: PageContext, body: string): string {
  const who = ctx.signedIn
    ? `<span class="pill">signed in</span> <strong data-testid="user">${esc(ctx.userId)}</strong>
       <a href="/account/devices">My devices</a>
       <form class="inline" method="post" action="/signout">${csrfField(ctx)}<button class="link" data-testid="sign-out">Sign out</button></form>`
    : `<span class="pill guest" data-testid="guest">guest</span> <a class="button" href="/signin" data-testid="sign-in-link">Sign in</a>`;
  const currencies = Object.keys(CURRENCIES)
    .map((c) => `<option value="${c}"${c === ctx.currency ? ' selected' : ''}>${c}</option>`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${esc(ctx.csrfToken)}">
<title>${esc(ctx.title)} · Tessera Outfitters</title>
<link rel="stylesheet" href="/styles.css">
</head>
<body>
<header class="top"><div class="bar">
  <a class="logo" href="/"><span class="logo-mark"></span>Tessera Outfitters</a>
  <nav class="main"><a href="/">Shop</a><a href="/cart">Cart</a></nav>
  <span class="spacer"></span>
  <form class="inline" method="post" action="/prefs" id="currency-form">${csrfField(ctx)}
    <select name="currency" aria-label="Currency" onchange="this.form.submit()">${currencies}</select>
  </form>
  <span class="break"></span>
  <a href="/cart" class="who cart-link" aria-label="Cart">Cart <span class="badge" data-testid="cart-count">${ctx.cartCount}</span></a>
  <span class="who account">${who}</span>
</div></header>
<main>
${ctx.flash ? `<div class="flash ${ctx.flash.kind === 'error' ? 'error' : ''}" role="status">${esc(ctx.flash.text)}</div>` : ''}
${body}
</main>
<footer>Sessions, carts and history by Tessera · this shop talks to it only through <code>@tessera/client</code></footer>
<div class="toast" id="toast" role="status"></div>
<script>
// Progressive enhancement: add to cart without a page load, CSRF token in the Tessera-CSRF header.
document.querySelectorAll('form[data-enhance="add"]').forEach((form) => {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const response = await fetch(form.action, {
      method: 'POST',
      headers: { 'Tessera-CSRF': csrf, 'Accept': 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(new FormData(form)),
    });
    if (!response.ok) { form.submit(); return; }
    const { count, name } = await response.json();
    document.querySelector('[data-testid="cart-count"]').textContent = count;
    const toast = document.getElementById('toast');
    toast.textContent = name + ' added to your cart';
    toast.classList.add('show');
    setTimeout(() => toast.classList.remove('show'), 1600);
  });
});
</script>
</body>
</html>`;
}

function addForm(ctx: PageContext, product: Product, label = 'Add to cart'): string {
  return `<form method="post" action="/cart/add" data-enhance="add" class="inline">${csrfField(ctx)}
    <input type="hidden" name="sku" value="${esc(product.id)}">
    <button data-testid="add-${esc(product.id)}">${esc(label)}</button></form>`;
}

function recentlyViewed(ctx: PageContext, exclude?: string): string {
  const items = ctx.history
    .map((h) => findProduct(h.productId))
    .filter((p): p is Product => p !== undefined && p.id !== exclude)
    .slice(0, 5);
  const list = items.length
    ? items
        .map((p) => `<a class="mini" href="/products/${esc(p.id)}">${productArt(p, 'thumb')}<span><div>${esc(p.name)}</div><div class="price">${formatPrice(p.priceCents, ctx.currency)}</div></span></a>`)
        .join('')
    : '<p class="empty">Products you look at appear here, on every device you sign in on.</p>';
  return `<aside class="panel" data-testid="recently-viewed"><h3>Recently viewed</h3>${list}</aside>`;
}

export function homePage(ctx: PageContext): string {
  const cards = PRODUCTS.map(
    (p) => `<div class="card" data-testid="product-${esc(p.id)}">
      <a href="/products/${esc(p.id)}">${productArt(p)}</a>
      <div class="body">
        <a class="name" href="/products/${esc(p.id)}">${esc(p.name)}</a>
        <div class="blurb">${esc(p.blurb)}</div>
        <div class="row"><span class="price">${formatPrice(p.priceCents, ctx.currency)}</span>${addForm(ctx, p)}</div>
      </div></div>`,
  ).join('');
  return layout(
    ctx,
    `<h1>Everyday goods, built to last</h1>
     <p class="lead">Add things as a guest, sign in later: your cart and history follow you to every device.</p>
     <div class="layout"><div class="grid">${cards}</div>${recentlyViewed(ctx)}</div>`,
  );
}

export function productPage(ctx: PageContext, product: Product): string {
  return layout(
    ctx,
    `<p><a href="/">← All products</a></p>
     <div class="layout"><div class="product">
       ${productArt(product, 'hero')}
       <div><h1>${esc(product.name)}</h1><p class="lead">${esc(product.blurb)}</p>
         <p class="total">${formatPrice(product.priceCents, ctx.currency)}</p>${addForm(ctx, product)}</div>
     </div>${recentlyViewed(ctx, product.id)}</div>`,
  );
}

export function cartPage(ctx: PageContext, items: readonly CartItem[]): string {
  let totalCents = 0;
  const rows = items
    .map((item) => {
      const product = findProduct(item.sku);
      if (!product) return '';
      totalCents += product.priceCents * item.quantity;
      return `<tr data-testid="line-${esc(item.sku)}">
        <td><div class="mini">${productArt(product, 'thumb')}<a href="/products/${esc(product.id)}">${esc(product.name)}</a></div></td>
        <td>${formatPrice(product.priceCents, ctx.currency)}</td>
        <td><form method="post" action="/cart/set" class="inline">${csrfField(ctx)}
          <input type="hidden" name="sku" value="${esc(item.sku)}">
          <input class="qty" type="number" min="1" max="999" name="quantity" value="${item.quantity}" aria-label="Quantity" data-testid="qty-${esc(item.sku)}">
          <button class="ghost">Update</button></form></td>
        <td class="price">${formatPrice(product.priceCents * item.quantity, ctx.currency)}</td>
        <td><form method="post" action="/cart/remove" class="inline">${csrfField(ctx)}
          <input type="hidden" name="sku" value="${esc(item.sku)}"><button class="danger">Remove</button></form></td>
      </tr>`;
    })
    .join('');
  const body = items.length
    ? `<table class="lines"><thead><tr><th>Product</th><th>Price</th><th>Quantity</th><th>Subtotal</th><th></th></tr></thead><tbody>${rows}</tbody></table>
       <div class="row" style="margin-top:18px">
         <form method="post" action="/cart/clear">${csrfField(ctx)}<button class="ghost">Empty cart</button></form>
         <span class="total" data-testid="cart-total">Total ${formatPrice(totalCents, ctx.currency)}</span>
       </div>`
    : `<div class="panel empty" data-testid="cart-empty">Your cart is empty. <a href="/">Browse products →</a></div>`;
  return layout(ctx, `<h1>Your cart</h1><p class="lead">${ctx.signedIn ? 'Shared by every device you are signed in on.' : 'Kept for you as a guest; sign in to take it to other devices.'}</p>${body}`);
}

export function signInPage(ctx: PageContext): string {
  return layout(
    ctx,
    `<div class="signin panel"><h1>Sign in</h1>
     <p class="lead">No passwords in this demo: a name is enough. Your guest cart comes with you.</p>
     <form method="post" action="/signin">${csrfField(ctx)}
       <input name="userId" placeholder="Your name, e.g. alice" required maxlength="64" pattern="[A-Za-z0-9._@-]+" autofocus data-testid="user-id">
       <label class="check"><input type="checkbox" name="remember" value="yes" checked data-testid="remember-me"> Remember me on this device</label>
       <button data-testid="sign-in">Sign in</button>
     </form></div>`,
  );
}

/** Step-up: the shop asks the shopper to confirm it is them before a sensitive change. */
export function confirmPage(ctx: PageContext, next: string): string {
  return layout(
    ctx,
    `<div class="signin panel"><h1>Confirm it’s you</h1>
     <p class="lead">You signed in a while ago. Before signing out your other devices, confirm it is you. (A real shop would ask for your password or a code here.)</p>
     <form method="post" action="/account/confirm">${csrfField(ctx)}
       <input type="hidden" name="next" value="${esc(next)}">
       <button data-testid="confirm">Yes, it’s me</button>
     </form></div>`,
  );
}

function ago(iso: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} days ago`;
}

/** "Safari 17.5 on iOS 17.5", from the parsed user agent; the device's own label when there is none. */
function software(d: Device): string {
  const name = (s: { name: string; version?: string } | undefined) => (s ? `${s.name}${s.version ? ` ${s.version.split('.').slice(0, 2).join('.')}` : ''}` : undefined);
  const browser = name(d.browser);
  const os = name(d.os);
  return browser && os ? `${browser} on ${os}` : (browser ?? os ?? d.name ?? 'Unknown device');
}

/** Where a device signed in from and was last seen: truncated addresses, countries. */
function whereFrom(d: Device): string {
  const place = (ip: string | undefined, country: string | undefined) => [country, ip].filter(Boolean).join(' · ');
  const signIn = place(d.ip, d.country);
  const seen = place(d.lastIp, d.lastCountry);
  const parts = [signIn && `from ${signIn}`, seen && seen !== signIn && `last seen ${seen}`].filter(Boolean);
  return parts.join(', ');
}

export function devicesPage(ctx: PageContext, devices: readonly Device[]): string {
  const rows = devices
    .map((d) => {
      // The parsed browser and OS; a name of the app's or the user's own beside it (not one made from the user agent).
      const own = d.name !== undefined && !(d.browser && d.name.includes(d.browser.name)) ? d.name : undefined;
      const name = own ? `${esc(own)} <span class="muted">· ${esc(software(d))}</span>` : esc(software(d));
      const where = whereFrom(d);
      const auth = d.authenticatedAt ? `confirmed ${esc(ago(d.authenticatedAt))}${d.authLevel ? ` (${esc(d.authLevel)})` : ''}` : '';
      return `<div class="device" data-testid="device" data-device-id="${esc(d.id)}">
        <div class="icon">${d.platform === 'mobile' || d.kind === 'mobile' ? '▯' : d.platform === 'tablet' ? '▭' : '▭'}</div>
        <div class="details"><div><strong data-testid="device-name">${name}</strong> ${d.current ? '<span class="pill" data-testid="this-device">this device</span>' : ''}
          ${d.persistent === false ? '<span class="pill guest" data-testid="not-remembered">until the browser closes</span>' : ''}</div>
          <div class="meta" data-testid="device-times">Signed in ${esc(ago(d.createdAt))} · last active ${esc(ago(d.lastActiveAt))}${auth ? ` · ${auth}` : ''}</div>
          ${where ? `<div class="meta" data-testid="device-where">${esc(where)}</div>` : ''}</div>
        ${d.current
          ? `<form method="post" action="/signout">${csrfField(ctx)}<button class="ghost">Sign out</button></form>`
          : `<form method="post" action="/account/devices/revoke">${csrfField(ctx)}<input type="hidden" name="deviceId" value="${esc(d.id)}"><button class="danger" data-testid="revoke">Sign out this device</button></form>`}
      </div>`;
    })
    .join('');
  return layout(
    ctx,
    `<h1>My devices</h1><p class="lead">Every device signed in to your account. Signing one out takes effect at once.</p>
     <div class="panel">${rows}</div>
     <div class="row wrap" style="margin-top:18px">
       <form method="post" action="/account/signout-others">${csrfField(ctx)}<button class="ghost" data-testid="sign-out-others">Sign out my other devices</button></form>
       <form method="post" action="/account/signout-everywhere">${csrfField(ctx)}<button class="danger" data-testid="sign-out-everywhere">Sign out everywhere</button></form>
     </div>`,
  );
}

export function errorPage(ctx: PageContext, title: string, message: string): string {
  return layout(ctx, `<div class="signin panel"><h1>${esc(title)}</h1><p class="lead">${esc(message)}</p><a class="button" href="/">Back to the shop</a></div>`);
}
